"""Drawing the values pages of a batch without CSS layout.

The overlay (``rendering.overlay``) draws each document's values on a page of its own. Laid
out as HTML, that page costs WeasyPrint about 17 ms, nearly all of it in the CSS box
machinery around some twenty one-line texts whose place, face and size never change. Only
the glyphs do.

:class:`ValuesPainter` learns, once per fixed page, what WeasyPrint's layout of such a page
decides: each value's computed style, baseline and box, and where the QR code goes. It takes
them from a *probe*: the values page laid out by WeasyPrint with placeholder texts, a page
per face. Per document it then asks Pango (through WeasyPrint's own ``split_first_line``)
for each value's glyphs and width, places the line as ``text-align`` would, and draws it
with WeasyPrint's own ``draw_first_line`` into pages of a WeasyPrint document, which writes
the PDF (fonts, subsets, images) as usual.

It never guesses. :meth:`ValuesPainter.from_probe` draws the probe's texts itself and
compares every text operation (font size, matrix, glyphs and kerning) and the QR code's
placement with WeasyPrint's own drawing of the probe; if anything differs (another
WeasyPrint version, a style it does not reproduce), it returns None and the overlay keeps
laying the values out as HTML. Per document it returns None for a value it cannot draw
exactly: markup or collapsible white space in it, a line wider than its box, glyphs from
another face.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import logging
import re
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

PROBE_TEXT = "国1"
"""What the probe draws in every text slot (never output)."""
_FIT_SLACK_PX = 0.5
_DATA_PNG = "data:image/png;base64,"
_SLOT_CLASS = re.compile(r"\bs(\d+)\b")


@dataclass(frozen=True)
class _Text:
    """One text slot on one page of the probe."""

    style: Any
    """WeasyPrint's computed style of the slot's text (the page's face)."""
    left: float
    width: float
    align: str
    baseline_y: float
    """The baseline's distance from the page's top, as laid out."""
    baseline: float
    """The baseline Pango gives a line of the probe's text: a text drawn in the same face
    only has the same."""


@dataclass(frozen=True)
class _Image:
    """The QR code's slot on the probe: where WeasyPrint draws it, and how."""

    x: float
    y: float
    width: float
    height: float
    style: Any


class _Context:
    """What ``split_first_line`` reads from a layout context (hyphenation only)."""

    def __init__(self) -> None:
        self.dictionaries: dict[Any, Any] = {}


class _TextLine:
    """What WeasyPrint's ``draw_first_line`` reads from a text box."""

    def __init__(self, text: str, style: Any, layout: Any) -> None:
        self.text = text
        self.style = style
        self.pango_layout = layout


class ValuesPainter:
    """Draws values pages directly; build it with :meth:`from_probe`."""

    def __init__(self, probe: Any, keys: tuple[str, ...],
                 pages: list[dict[int, _Text | _Image]]) -> None:
        self._probe = probe
        self._keys = keys
        self._pages = pages
        self._context = _Context()

    @property
    def faces(self) -> int:
        """How many pages (faces) one document of values pages may hold."""
        return len(self._pages)

    @classmethod
    def from_probe(cls, probe: Any, keys: tuple[str, ...], qr_src: str) -> ValuesPainter | None:
        """A painter for the slots ``keys`` (in the values page's order), learnt from
        ``probe`` (the values page laid out by WeasyPrint, a page per face, with
        :data:`PROBE_TEXT` in every text slot and ``qr_src`` as its QR code); None if
        drawing the probe directly does not give exactly what WeasyPrint drew."""
        try:
            pages = [_read_page(page, keys) for page in probe.pages]
            if any(page is None for page in pages):
                return None
            painter = cls(probe, keys, [p for p in pages if p is not None])
            texts = {key: PROBE_TEXT for key in keys if key != "qr"}
            direct = painter.write([(face, texts, qr_src) for face in range(len(pages))])
            if direct is None:
                return None
            expected = _operations(probe.write_pdf())
            got = _operations(direct)
        except Exception:  # an unfamiliar WeasyPrint: lay the values out as HTML instead
            log.warning("values are laid out as HTML: this WeasyPrint cannot be drawn "
                        "directly", exc_info=True)
            return None
        if expected != got:
            log.warning("values are laid out as HTML: direct drawing differs from "
                        "WeasyPrint's layout")
            return None
        return painter

    def write(self, pages: list[tuple[int, dict[str, str], str]]) -> bytes | None:
        """A PDF with one page per ``(face, texts, qr_src)``; ``texts`` hold each slot's
        template output (escaped HTML). None if one of them cannot be drawn exactly (the
        caller lays them out as HTML)."""
        drawn: list[_Page] = []
        for face, texts, qr_src in pages:
            items: list[tuple[Any, ...]] = []
            for index, key in enumerate(self._keys):
                slot = self._pages[face][index]
                if isinstance(slot, _Image):
                    items.append((slot, _qr_image(qr_src)))
                    continue
                text = _plain(texts.get(key, ""))
                if text is None:
                    return None
                if not text:
                    continue
                layout, resume, width, baseline = _shape(text, slot.style, self._context)
                if resume is not None or abs(baseline - slot.baseline) > 1e-6:
                    return None  # wrapped, or drawn from another face
                if width > slot.width + _FIT_SLACK_PX:
                    return None
                x = slot.left
                if slot.align == "center":
                    x += (slot.width - width) / 2
                elif slot.align == "right":
                    x += slot.width - width
                items.append((slot, _TextLine(text, slot.style, layout), x))
            drawn.append(_Page(self._probe.pages[face], items))
        return bytes(self._probe.copy(drawn).write_pdf())


class _Page:
    """A page of values, painted like ``weasyprint.document.Page`` paints the probe's."""

    def __init__(self, like: Any, items: list[tuple[Any, ...]]) -> None:
        self.width, self.height = like.width, like.height
        self.bleed = dict(like.bleed)
        self.bookmarks: list[Any] = []
        self.links: list[Any] = []
        self.anchors: dict[str, Any] = {}
        self.forms: dict[Any, list[Any]] = {None: []}
        self._items = items
        """In the slots' order: ``(text slot, line, x)`` or ``(image slot, image)``."""

    def paint(self, stream: Any, scale: float = 1) -> None:
        from weasyprint.draw.text import draw_first_line
        from weasyprint.matrix import Matrix

        with stream.stacked():
            stream.transform(a=scale, d=scale)
            for item in self._items:
                with stream.stacked():
                    if isinstance(item[0], _Image):
                        place, image = item
                        stream.set_alpha(1)
                        stream.transform(e=place.x, f=place.y)
                        with stream.stacked():
                            image.draw(stream, place.width, place.height, place.style)
                        continue
                    slot, line, x = item
                    stream.set_color(slot.style["color"])
                    stream.begin_text()
                    draw_first_line(stream, line, "clip", "none",
                                    Matrix(d=-1, e=x, f=slot.baseline_y))
                    stream.end_text()
                    line.pango_layout.deactivate()


def _read_page(page: Any, keys: tuple[str, ...]) -> dict[int, _Text | _Image] | None:
    """Each slot's style and place on one probe page, by the slot's index in ``keys``."""
    from weasyprint.formatting_structure import boxes
    from weasyprint.layout import replaced

    found: dict[int, _Text | _Image] = {}
    stack = [page._page_box]  # noqa: SLF001 - WeasyPrint exposes layout only here
    while stack:
        box = stack.pop()
        box = getattr(box, "_box", box)  # an absolutely positioned box's placeholder
        element = getattr(box, "element", None)
        match = _SLOT_CLASS.search(element.get("class", "")) if element is not None else None
        if match is not None and getattr(box, "element_tag", None) in ("div", "img"):
            index = int(match.group(1))
            if isinstance(box, boxes.ReplacedBox):
                width, height, x, y = replaced.replacedbox_layout(box)
                found[index] = _Image(x, y, width, height, box.style)
            elif isinstance(box, boxes.BlockBox):
                lines = [c for c in box.children if isinstance(c, boxes.LineBox)]
                if len(lines) != 1 or len(lines[0].children) != 1:
                    return None
                text = lines[0].children[0]
                if not isinstance(text, boxes.TextBox) or text.text != PROBE_TEXT:
                    return None
                align = str(box.style["text_align_all"])
                ascent = _shape(PROBE_TEXT, text.style, _Context())[3]
                found[index] = _Text(
                    style=text.style, left=box.content_box_x(), width=box.width,
                    align="right" if align == "end" else
                    ("left" if align in ("start", "justify") else align),
                    baseline_y=text.position_y + text.baseline, baseline=ascent)
            continue
        stack.extend(getattr(box, "children", ()))
    if sorted(found) != list(range(len(keys))):
        return None
    return found


def _shape(text: str, style: Any, context: _Context) -> tuple[Any, Any, float, float]:
    """Pango's layout of ``text`` as one line in ``style``, as WeasyPrint's
    ``split_first_line`` makes it without a width limit (but left active, for drawing):
    the layout, where a second line would start (None), the width and the baseline."""
    from weasyprint.text.ffi import FROM_UNITS, pango
    from weasyprint.text.line_break import create_layout, line_size

    layout = create_layout(text, style, context, None, 0)
    first_line, resume = layout.get_first_line()
    width, _height = line_size(first_line, style)
    return layout, resume, width, pango.pango_layout_get_baseline(layout.layout) * FROM_UNITS


def _plain(escaped: str) -> str | None:
    """The text a slot's template output draws, if it is one line of plain text whose
    white space HTML would not collapse; else None."""
    if "<" in escaped:
        return None
    text = html.unescape(escaped)
    if text != " ".join(text.split()) and text.strip():
        return None
    return text.strip()


def _qr_image(src: str) -> Any:
    """A WeasyPrint image of a ``data:image/png`` QR code."""
    from PIL import Image
    from weasyprint import DEFAULT_OPTIONS
    from weasyprint.images import RasterImage

    if not src.startswith(_DATA_PNG):
        raise ValueError("the QR code is not an embedded PNG")
    data = base64.b64decode(src[len(_DATA_PNG):])
    image_id = hashlib.sha256(data).hexdigest()[:16]
    return RasterImage(Image.open(io.BytesIO(data)), image_id, data, options=DEFAULT_OPTIONS)


def _operations(pdf: bytes) -> list[list[tuple[Any, ...]]]:
    """Per page, what the page draws: each text run's colour, size, matrix and glyphs, and
    each image's placement, with graphics-state bookkeeping and resource names left out."""
    import pikepdf

    pages: list[list[tuple[Any, ...]]] = []
    with pikepdf.open(io.BytesIO(pdf)) as document:
        for page in document.pages:
            ops: list[tuple[Any, ...]] = []
            for instruction in pikepdf.parse_content_stream(page):
                if not isinstance(instruction, pikepdf.ContentStreamInstruction):
                    continue
                name = str(instruction.operator)
                operands = instruction.operands
                if name == "Tf":
                    ops.append(("Tf", round(float(operands[1]), 4)))
                elif name in ("Tm", "cm"):
                    ops.append((name, *(round(float(v), 3) for v in operands)))
                elif name == "TJ":
                    ops.append(("TJ", tuple(bytes(v) if isinstance(v, pikepdf.String)
                                            else round(float(v), 3) for v in operands[0])))
                elif name == "Tj":
                    ops.append(("TJ", (bytes(operands[0]),)))
                elif name == "Do":
                    ops.append(("Do",))
                elif name in ("rg", "g", "k", "sc", "scn", "cs"):
                    ops.append((name, *(round(float(v), 4) if not isinstance(v, pikepdf.Name)
                                        else str(v) for v in operands)))
            pages.append(_without_identity(ops))
    return pages


def _without_identity(ops: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [op for op in ops if op != ("cm", 1.0, 0.0, 0.0, 1.0, 0.0, 0.0)]
