"""Drawing the values pages of a batch without CSS layout.

The overlay (``rendering.overlay``) draws each document's values on a page of its own. Laid
out as HTML, that page costs WeasyPrint about 17 ms, nearly all of it in the CSS box
machinery around some twenty one-line texts whose place, face and size never change. Only
the glyphs do.

:class:`ValuesPainter` learns, once per fixed page, what WeasyPrint's layout of such a page
decides: each value's computed style, baseline and box, and where the QR code goes. It takes
them from a *probe*: the values page laid out by WeasyPrint with placeholder texts, a page
per face. Per document it then asks Pango (as WeasyPrint's own ``split_first_line`` does)
for each value's glyphs and width, places the line as ``text-align`` would, and draws it
with WeasyPrint's own ``draw_first_line`` into pages of a WeasyPrint document, which writes
the PDF (fonts, subsets, images) as usual. Every call into WeasyPrint's internals goes
through ``rendering.weasy_internals``.

It never guesses. On a WeasyPrint that module was not checked against,
:meth:`ValuesPainter.from_probe` declines at once. Otherwise it draws the probe's texts
itself and compares every text operation (font size, matrix, glyphs and kerning) and the QR
code's placement with WeasyPrint's own drawing of the probe; if anything differs (a style
it does not reproduce), it returns None and the overlay keeps laying the values out as
HTML. Per document it returns None for a value it cannot draw exactly: markup or
collapsible white space in it, a line wider than its box, glyphs from another face.
"""

from __future__ import annotations

import html
import io
import logging
from collections.abc import Sequence
from typing import Any

import pikepdf

from doc_service.rendering import weasy_internals as weasy
from doc_service.rendering.slots import FIT_SLACK_PX, PROBE_TEXT, QR_KEY

log = logging.getLogger(__name__)

ValuesPage = tuple[int, dict[str, str], str]
"""One values page to draw: its face (the probe page it is drawn like), each text slot's
template output (escaped HTML) by key, and the QR code's ``src``."""


class ValuesPainter:
    """Draws values pages directly; build it with :meth:`from_probe`."""

    def __init__(self, probe: Any, keys: tuple[str, ...],
                 pages: list[dict[int, weasy.ProbeText | weasy.ProbeImage]]) -> None:
        self._probe = probe
        self._keys = keys
        self._pages = pages
        self._context = weasy.LayoutContext()

    @property
    def faces(self) -> int:
        """How many pages (faces) one document of values pages may hold."""
        return len(self._pages)

    @classmethod
    def from_probe(cls, probe: Any, keys: tuple[str, ...], qr_src: str, *,
                   weasyprint_version: str = weasy.VERSION) -> ValuesPainter | None:
        """A painter for the slots ``keys`` (in the values page's order), learnt from
        ``probe`` (the values page laid out by WeasyPrint, a page per face, with
        :data:`~doc_service.rendering.slots.PROBE_TEXT` in every text slot and ``qr_src``
        as its QR code); None on a WeasyPrint ``weasyprint_version`` it may not draw into,
        or if drawing the probe directly does not give exactly what WeasyPrint drew."""
        if not weasy.draws_directly(weasyprint_version):
            log.warning("values are laid out as HTML: WeasyPrint %s is not one the values "
                        "painter was checked against", weasyprint_version)
            return None
        try:
            pages = [weasy.read_probe_page(page, len(keys)) for page in probe.pages]
            if any(page is None for page in pages):
                return None
            painter = cls(probe, keys, [p for p in pages if p is not None])
            texts = {key: PROBE_TEXT for key in keys if key != QR_KEY}
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

    def write(self, pages: Sequence[ValuesPage]) -> bytes | None:
        """A PDF with one page per ``(face, texts, qr_src)``; ``texts`` hold each slot's
        template output (escaped HTML). None if one of them cannot be drawn exactly (the
        caller lays them out as HTML)."""
        drawn: list[tuple[int, list[weasy.PlacedText | weasy.PlacedImage]]] = []
        for face, texts, qr_src in pages:
            items: list[weasy.PlacedText | weasy.PlacedImage] = []
            for index, key in enumerate(self._keys):
                slot = self._pages[face][index]
                if isinstance(slot, weasy.ProbeImage):
                    items.append(weasy.PlacedImage(slot, weasy.qr_image(qr_src)))
                    continue
                text = _plain(texts.get(key, ""))
                if text is None:
                    return None
                if not text:
                    continue
                placed = self._placed(slot, text)
                if placed is None:
                    return None
                items.append(placed)
            drawn.append((face, items))
        return weasy.write_pages(self._probe, drawn)

    def _placed(self, slot: weasy.ProbeText, text: str) -> weasy.PlacedText | None:
        """``text`` on its slot's line as ``text-align`` places it, or None if it wraps,
        is drawn from another face, or is wider than the line."""
        line = weasy.shape(text, slot.style, self._context)
        if line.wraps or abs(line.baseline - slot.baseline) > 1e-6:
            return None  # wrapped, or drawn from another face
        if line.width > slot.width + FIT_SLACK_PX:
            return None
        x = slot.left
        if slot.align == "center":
            x += (slot.width - line.width) / 2
        elif slot.align == "right":
            x += slot.width - line.width
        return weasy.PlacedText(slot, line, x)


def _plain(escaped: str) -> str | None:
    """The text a slot's template output draws, if it is one line of plain text whose
    white space HTML would not collapse; else None."""
    if "<" in escaped:
        return None
    text = html.unescape(escaped)
    if text != " ".join(text.split()) and text.strip():
        return None
    return text.strip()


def _operations(pdf: bytes) -> list[list[tuple[Any, ...]]]:
    """Per page, what the page draws: each text run's colour, size, matrix and glyphs, and
    each image's placement, with graphics-state bookkeeping and resource names left out."""
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
