"""Batch rendering by overlay: a form's fixed part laid out once, each document's values on top.

A checklist page costs WeasyPrint ~65 ms, most of it laying out and writing the table, which
is the same for every student of a batch. :class:`OverlayRenderer` lays the form out once,
from the first document, with every value hidden: the template marks them as slots
(``macros.slot``: ``<span data-slot>`` and the QR ``<img data-slot="qr">``), and
``visibility: hidden`` keeps their boxes in place but draws nothing. It reads where each
value's line sits in that layout. Per document it renders only the values, absolutely
positioned on those lines with the same font, size and alignment, and lays that page over the
fixed one as a Form XObject (pikepdf), with the document's own title and keywords.

It never guesses. A document is rendered in full instead when

- its page, with the slots' contents taken out, is not the fixed page's (a value the
  template prints outside a slot, or one that changes the layout), or
- a value is wider than its line (the full render would wrap it and move what follows).

So every document looks as the full render would draw it; ``tests/rendering`` compares
the two pixel by pixel.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

from doc_service.config import Institution
from doc_service.errors import RenderError
from doc_service.forms.spec import FormSpec
from doc_service.rendering.context import DocumentMeta
from doc_service.rendering.pdf import PdfRenderer, RenderedPdf, signature_areas

log = logging.getLogger(__name__)

_SLOT = re.compile(r'<span class="slot" data-slot="([\w.]+)">(.*?)</span>', re.S)
_QR = re.compile(r'<img class="slot" data-slot="qr" src="([^"]*)"')
_BODY = re.compile(r"<body>(.*)</body>", re.S)
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)
_KEYWORDS = re.compile(r'<meta name="keywords" content="([^"]*)">')
_HIDE = "<style>[data-slot] { visibility: hidden; }</style></head>"
_FIT_SLACK_PX = 0.5
_FIXED_PAGE_ATTEMPTS = 5


@dataclass(frozen=True)
class Slot:
    """Where one value's line sits on the fixed page, in CSS px from the page's corner."""

    key: str
    left: float
    top: float
    width: float
    height: float
    align: str = "left"
    font_size: float = 16.0
    font_weight: int = 400
    letter_spacing: float = 0.0
    color: str = "#000"


@dataclass(frozen=True)
class FixedPage:
    """The form laid out once with its values hidden."""

    pdf: bytes
    skeleton: str
    slots: tuple[Slot, ...]
    signature_areas: dict[str, Any]
    values_css: Any
    """The values page's stylesheet (a class per slot), parsed once."""


class OverlayRenderer:
    """Renders many documents of one form (and the same shared values) by overlay.

    The fixed page is laid out from the first document it renders (or, if that one's
    values cannot be placed, from one of the next few); :meth:`render` falls back to
    ``renderer.render`` whenever the overlay cannot be exact. Thread-safe; one per batch
    and process."""

    def __init__(self, renderer: PdfRenderer, form: FormSpec, institution: Institution) -> None:
        self._renderer = renderer
        self._form = form
        self._institution = institution
        self._fixed: FixedPage | None = None
        self._attempts = 0
        self._lock = threading.Lock()
        self.overlaid = 0
        self.full = 0

    def render(self, form: FormSpec, data: dict[str, Any], meta: DocumentMeta,
               institution: Institution) -> RenderedPdf:
        """Like :meth:`PdfRenderer.render` (the same checks, errors and result)."""
        if form.id != self._form.id or institution != self._institution:
            self.full += 1
            return self._renderer.render(form, data, meta, institution)
        html = self._renderer.html(self._form, data, meta, self._institution)
        fixed = self._fixed_page(html)
        if fixed is not None and _skeleton(html) == fixed.skeleton:
            pdf = self._overlay(fixed, html)
            if pdf is not None:
                self.overlaid += 1
                return RenderedPdf(pdf=pdf, signature_areas=fixed.signature_areas,
                                   page_count=1)
        self.full += 1
        return self._renderer.render(self._form, data, meta, self._institution)

    # --- the fixed page --------------------------------------------------------------

    def _fixed_page(self, html: str) -> FixedPage | None:
        """The fixed page, laid out from this document if none is yet. A document whose
        values cannot be reproduced alone (one wraps) cannot give it; the next few may."""
        with self._lock:
            if self._fixed is None and self._attempts < _FIXED_PAGE_ATTEMPTS:
                self._attempts += 1
                try:
                    self._fixed = self._lay_out_fixed(html)
                except RenderError:
                    log.exception("form %s: could not lay out the fixed page",
                                  self._form.id)
            return self._fixed

    def _lay_out_fixed(self, html: str) -> FixedPage | None:
        if _QR.search(html) is None or not _SLOT.search(html):
            return None
        renderer = self._renderer
        try:
            with renderer.lock:
                document = renderer.layout(html.replace("</head>", _HIDE, 1), self._form.id)
                if len(document.pages) != 1:
                    return None
                slots = _slots(document)
                areas = signature_areas(document)
                pdf = document.write_pdf(pdf_variant="pdf/a-3b")
        except Exception as e:  # WeasyPrint raises many unrelated types
            raise RenderError(f"PDF 生成失败：{type(e).__name__}: {e}") from e
        if slots is None or len(slots) != len(_SLOT.findall(html)) + len(_QR.findall(html)):
            return None  # a slot without a box of its own (an empty value) cannot be placed
        return FixedPage(pdf=pdf, skeleton=_skeleton(html), slots=slots,
                         signature_areas=areas,
                         values_css=renderer.stylesheet(_values_css(slots)))

    # --- one document ----------------------------------------------------------------

    def _overlay(self, fixed: FixedPage, html: str) -> bytes | None:
        texts = dict(_SLOT.findall(html))
        qr = _QR.search(html)
        if qr is None or any(s.key not in texts and s.key != "qr" for s in fixed.slots):
            return None
        page = _values_page(fixed.slots, texts, qr.group(1))
        renderer = self._renderer
        try:
            with renderer.lock:
                document = renderer.layout(page, self._form.id,
                                           stylesheets=(fixed.values_css,))
                if len(document.pages) != 1 or not _all_fit(document):
                    return None
                values_pdf = document.write_pdf()
        except Exception as e:  # WeasyPrint raises many unrelated types
            raise RenderError(f"PDF 生成失败：{type(e).__name__}: {e}") from e
        title = _TITLE.search(html)
        keywords = _KEYWORDS.search(html)
        return _merge(fixed.pdf, values_pdf, _unescape(title.group(1) if title else ""),
                      _unescape(keywords.group(1) if keywords else ""))


def _skeleton(html: str) -> str:
    """The page's body with every slot's content taken out."""
    body = _BODY.search(html)
    text = body.group(1) if body else html
    return _QR.sub('<img class="slot" data-slot="qr" src=""',
                   _SLOT.sub(lambda m: f'<span class="slot" data-slot="{m.group(1)}"></span>',
                             text))


def _slots(document: Any) -> tuple[Slot, ...] | None:
    """Each slot's line on the fixed page, or None if one cannot be reproduced alone (split
    over two lines, or centred or right-aligned next to other text)."""
    from weasyprint.formatting_structure import boxes

    found: list[Slot] = []
    seen: set[int] = set()
    stack: list[tuple[Any, tuple[Any, ...]]] = [(document.pages[0]._page_box, ())]  # noqa: SLF001 - WeasyPrint exposes layout only here
    while stack:
        box, ancestors = stack.pop()
        element = getattr(box, "element", None)
        key = element.get("data-slot") if element is not None else None
        if key and isinstance(box, boxes.ReplacedBox):
            found.append(Slot(key, box.content_box_x(), box.content_box_y(), box.width,
                              box.height))
            continue
        if key and isinstance(box, boxes.InlineBox):
            if id(element) in seen:
                return None  # one value split over two lines
            seen.add(id(element))
            slot = _text_slot(key, box, ancestors)
            if slot is None:
                return None
            found.append(slot)
            continue
        for child in getattr(box, "children", ()):
            stack.append((child, (*ancestors, box)))
    return tuple(found)


def _text_slot(key: str, box: Any, ancestors: tuple[Any, ...]) -> Slot | None:
    """The slot's line, if its value can be drawn there on its own: the slot sits directly
    on the line (no inline parent whose border, background or underline would follow the
    value's width), nothing with text follows it on that line, and, centred or aligned
    right, nothing precedes it either."""
    from weasyprint.formatting_structure import boxes

    if len(ancestors) < 2 or not isinstance(ancestors[-1], boxes.LineBox):
        return None
    line, block = ancestors[-1], ancestors[-2]
    siblings = list(line.children)
    index = next(i for i, child in enumerate(siblings) if child is box)
    if any(_has_text(child) for child in siblings[index + 1:]):
        return None
    align = str(block.style["text_align_all"])
    style = box.style
    spacing = style["letter_spacing"]
    common = dict(height=line.height, font_size=float(style["font_size"]),
                  font_weight=int(style["font_weight"]),
                  letter_spacing=0.0 if spacing == "normal" else float(spacing),
                  color=_css_color(style["color"]))
    if align in ("center", "right", "end"):
        if any(_has_text(child) for child in siblings[:index]):
            return None
        return Slot(key, block.content_box_x(), line.position_y, block.width,
                    align="right" if align == "end" else align, **common)
    right_edge = block.content_box_x() + block.width
    return Slot(key, box.position_x, line.position_y, right_edge - box.position_x, **common)


def _css_color(color: Any) -> str:
    r, g, b, alpha = (float(c) for c in tuple(color)[:4])
    return f"rgba({r * 255:.2f},{g * 255:.2f},{b * 255:.2f},{alpha:.4f})"


def _has_text(box: Any) -> bool:
    text = getattr(box, "text", None)
    if text is not None:
        return bool(text.strip())
    return any(_has_text(child) for child in getattr(box, "children", ()))


def _values_css(slots: tuple[Slot, ...]) -> str:
    """Where and how each slot's value is drawn: one class per slot, ``.s<index>``."""
    # The forms' faces are registered once, by the base stylesheet, in the renderer's font
    # configuration; this page only names them.
    rules = ["@page { size: A4; margin: 0; } body { margin: 0; }",
             'html { font-family: DocSerif, "Noto Serif CJK SC"; color: #000; }',
             ".v { position: absolute; white-space: nowrap; margin: 0; padding: 0; }"]
    for i, s in enumerate(slots):
        box = (f"left: {s.left:.4f}px; top: {s.top:.4f}px; width: {s.width:.4f}px; "
               f"height: {s.height:.4f}px;")
        if s.key == "qr":
            rules.append(f".s{i} {{ {box} image-rendering: pixelated; }}")
        else:
            rules.append(
                f".s{i} {{ {box} line-height: {s.height:.4f}px; font-size: {s.font_size:.4f}px; "
                f"font-weight: {s.font_weight}; letter-spacing: {s.letter_spacing:.4f}px; "
                f"color: {s.color}; text-align: {s.align}; }}")
    return "\n".join(rules)


def _values_page(slots: tuple[Slot, ...], texts: dict[str, str], qr_src: str) -> str:
    """An A4 page of nothing but the values, each on its slot's line (styled by
    :func:`_values_css`). ``texts`` are the template's own, already escaped, output."""
    parts = ['<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head><body>']
    for i, s in enumerate(slots):
        if s.key == "qr":
            parts.append(f'<img class="v s{i}" src="{qr_src}">')
        else:
            parts.append(f'<div class="v s{i}" data-slot="{s.key}">{texts[s.key]}</div>')
    parts.append("</body></html>")
    return "".join(parts)


def _all_fit(document: Any) -> bool:
    """Every value fits on its one line (the full render would not wrap it)."""
    from weasyprint.formatting_structure import boxes

    stack = [document.pages[0]._page_box]  # noqa: SLF001 - WeasyPrint exposes layout only here
    while stack:
        box = stack.pop()
        box = getattr(box, "_box", box)  # an absolutely positioned box's placeholder
        element = getattr(box, "element", None)
        if (element is not None and element.get("data-slot")
                and isinstance(box, boxes.BlockBox)):
            lines = [c for c in box.children if isinstance(c, boxes.LineBox)]
            if len(lines) > 1 or any(line.height > box.height + _FIT_SLACK_PX
                                     for line in lines):
                return False  # wrapped, or taller (a fallback face's metrics)
            texts = [t for line in lines for t in _text_boxes(line)]
            if texts:
                left = min(t.position_x for t in texts)
                right = max(t.position_x + t.width for t in texts)
                if right - left > box.width + _FIT_SLACK_PX:
                    return False
            continue
        stack.extend(getattr(box, "children", ()))
    return True


def _text_boxes(box: Any) -> list[Any]:
    from weasyprint.formatting_structure import boxes

    if isinstance(box, boxes.TextBox):
        return [box]
    return [t for child in getattr(box, "children", ()) for t in _text_boxes(child)]


def _merge(fixed_pdf: bytes, values_pdf: bytes, title: str, keywords: str) -> bytes:
    """The fixed page with the values page drawn over it, titled for this document."""
    import pikepdf

    with pikepdf.open(io.BytesIO(fixed_pdf)) as pdf, \
            pikepdf.open(io.BytesIO(values_pdf)) as values:
        _retag_fonts(values.pages[0], hashlib.sha256(values_pdf).digest())
        page = pdf.pages[0]
        page.add_overlay(values.pages[0], pikepdf.Rectangle(*page.mediabox))
        with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
            xmp["dc:title"] = title
            xmp["pdf:Keywords"] = keywords
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def _retag_fonts(page: Any, seed: bytes) -> None:
    """Give the values page's font subsets a tag of their own: WeasyPrint derives the tag
    from the face, so both pages' DocSerif subsets would otherwise share one name, and a
    viewer that caches fonts by name could draw one subset's glyphs from the other."""
    import pikepdf

    tag = "".join(chr(ord("A") + b % 26) for b in seed[:6])
    fonts = page.Resources.get("/Font", {})
    for name in list(fonts.keys()):
        font = fonts[name]
        targets = [font]
        targets += list(font.get("/DescendantFonts", []))
        for f in targets:
            base = str(f.get("/BaseFont", ""))
            if "+" in base:
                f.BaseFont = pikepdf.Name(f"/{tag}+{base.split('+', 1)[1]}")
            descriptor = f.get("/FontDescriptor")
            if descriptor is not None and "+" in str(descriptor.get("/FontName", "")):
                descriptor.FontName = pikepdf.Name(
                    f"/{tag}+{str(descriptor.FontName).split('+', 1)[1]}")


def _unescape(text: str) -> str:
    import html

    return html.unescape(text).strip()
