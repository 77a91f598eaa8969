"""Batch rendering by overlay: a form's fixed part laid out once, each document's values on top.

A checklist page costs WeasyPrint ~65 ms, most of it laying out and writing the table, which
is the same for every student of a batch. :class:`OverlayRenderer` lays the form out once,
from the first document, with every value hidden: the template marks them as slots
(``macros.slot``: ``<span data-slot>`` and the QR ``<img data-slot="qr">``), and
``visibility: hidden`` keeps their boxes in place but draws nothing. It reads where each
value's line sits in that layout. Per document it draws only the values, on those lines with
the same font, size and alignment, and lays that page over the fixed one as a Form XObject
(pikepdf), with the document's own title and keywords.

The values pages of a group (:meth:`OverlayRenderer.render_many`, up to :data:`MAX_GROUP`)
are one WeasyPrint document, a page each, drawn directly by ``values_painter`` (or, where it
declines, laid out as HTML). Each page draws with a face of its own (the forms' faces
registered again as ``DocSerifP0`` …), so each document embeds a subset of only its own
characters, never another student's; each page keeps only the resources it names.

It never guesses. A document is rendered in full instead when

- its page, with the slots' contents taken out, is not the fixed page's (a value the
  template prints outside a slot, or one that changes the layout), or
- a value is wider than its line (the full render would wrap it and move what follows).

So every document looks as the full render would draw it; ``tests/rendering`` compares
the two pixel by pixel.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from doc_service.config import Institution
from doc_service.errors import DocServiceError, RenderError
from doc_service.forms.spec import FormSpec
from doc_service.rendering.context import DocumentMeta
from doc_service.rendering.fetcher import ASSET_BASE
from doc_service.rendering.overlay_merge import merge_pages
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

MAX_GROUP = 8
"""Documents whose values one WeasyPrint pass lays out together (:meth:`render_many`)."""
_FACES = ((400, "DocSerif-Regular.otf"), (700, "DocSerif-Bold.otf"))
"""The forms' DocSerif faces (weight, file), registered again per values page."""
_ALIAS = "DocSerifP{}"

RenderRequest = tuple[FormSpec, dict[str, Any], DocumentMeta, Institution]
"""What :meth:`PdfRenderer.render` takes: the form, its cleaned data, meta, school."""


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
    painter: Any = None
    """Draws the values pages without CSS layout (``rendering.values_painter``), or None
    where that cannot be exact (they are then laid out as HTML)."""


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
        result = self.render_many([(form, data, meta, institution)])[0]
        if isinstance(result, DocServiceError):
            raise result
        return result

    def render_many(self, requests: Sequence[RenderRequest]
                    ) -> list[RenderedPdf | DocServiceError]:
        """Render several documents, each result in its request's place: the PDF, or the
        error :meth:`PdfRenderer.render` would have raised for it (one bad document does
        not fail the others).

        The values of up to :data:`MAX_GROUP` documents are laid out in one WeasyPrint
        pass, a page each; every page draws with a font face of its own, so each document
        embeds a subset of its own characters only (never another student's)."""
        results: list[RenderedPdf | DocServiceError | None] = [None] * len(requests)
        overlaid: list[tuple[int, str]] = []
        fixed: FixedPage | None = None
        for i, (form, data, meta, institution) in enumerate(requests):
            if form.id != self._form.id or institution != self._institution:
                continue
            try:
                html = self._renderer.html(self._form, data, meta, self._institution)
            except DocServiceError as e:
                results[i] = e
                continue
            fixed = self._fixed_page(html)
            if fixed is not None and _skeleton(html) == fixed.skeleton:
                overlaid.append((i, html))
        for start in range(0, len(overlaid), MAX_GROUP):
            group = overlaid[start:start + MAX_GROUP]
            assert fixed is not None
            try:
                pdfs = self._overlay(fixed, [html for _i, html in group])
            except DocServiceError as e:
                pdfs = [None] * len(group)
                log.warning("form %s: overlay failed, rendering in full: %s", self._form.id, e)
            for (i, _html), pdf in zip(group, pdfs, strict=True):
                if pdf is not None:
                    results[i] = RenderedPdf(pdf=pdf, signature_areas=fixed.signature_areas,
                                             page_count=1)
        done: list[RenderedPdf | DocServiceError] = []
        for request, result in zip(requests, results, strict=True):
            if result is None:
                try:
                    result = self._renderer.render(*request)
                except DocServiceError as e:
                    result = e
                self.full += 1
            elif isinstance(result, RenderedPdf):
                self.overlaid += 1
            done.append(result)
        return done

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
        values_css = renderer.stylesheet(_values_css(slots))
        qr = _QR.search(html)
        assert qr is not None
        return FixedPage(pdf=pdf, skeleton=_skeleton(html), slots=slots,
                         signature_areas=areas, values_css=values_css,
                         painter=self._painter(slots, values_css, qr.group(1)))

    def _painter(self, slots: tuple[Slot, ...], values_css: Any, qr_src: str) -> Any:
        """The direct painter of these slots' values, learnt from a probe page per face."""
        from doc_service.rendering.values_painter import PROBE_TEXT, ValuesPainter

        texts = {s.key: PROBE_TEXT for s in slots if s.key != "qr"}
        page = ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head><body>'
                + "".join(_values_page(slots, texts, qr_src, face) for face in range(MAX_GROUP))
                + "</body></html>")
        renderer = self._renderer
        try:
            with renderer.lock:
                probe = renderer.layout(page, self._form.id,
                                        stylesheets=(_page_faces(renderer), values_css))
                if len(probe.pages) != MAX_GROUP:
                    return None
                return ValuesPainter.from_probe(probe, tuple(s.key for s in slots), qr_src)
        except Exception:  # WeasyPrint raises many unrelated types
            log.warning("form %s: values are laid out as HTML", self._form.id, exc_info=True)
            return None

    # --- one document ----------------------------------------------------------------

    def _overlay(self, fixed: FixedPage, htmls: list[str]) -> list[bytes | None]:
        """Each document's values drawn over the fixed page, or None where that would not
        be exact (the caller renders those in full)."""
        pages: list[tuple[int, str]] = []
        for i, html in enumerate(htmls):
            texts = dict(_SLOT.findall(html))
            qr = _QR.search(html)
            if qr is not None and all(s.key in texts or s.key == "qr" for s in fixed.slots):
                pages.append((i, _values_page(fixed.slots, texts, qr.group(1), len(pages))))
        out: list[bytes | None] = [None] * len(htmls)
        if not pages:
            return out
        renderer = self._renderer
        try:
            with renderer.lock:
                values_pdf = fits = None
                if fixed.painter is not None:
                    values_pdf = _painted(fixed.painter, [
                        (face, dict(_SLOT.findall(htmls[i])), src)
                        for face, (i, _body) in enumerate(pages)
                        if (src := _qr_src(htmls[i])) is not None])
                    fits = [True] * len(pages)
                if values_pdf is None:
                    page = ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
                            '</head><body>' + "".join(body for _i, body in pages)
                            + "</body></html>")
                    document = renderer.layout(page, self._form.id,
                                               stylesheets=(_page_faces(renderer),
                                                            fixed.values_css))
                    if len(document.pages) != len(pages):
                        return out
                    fits = [_all_fit(p) for p in document.pages]
                    values_pdf = document.write_pdf()
        except Exception as e:  # WeasyPrint raises many unrelated types
            raise RenderError(f"PDF 生成失败：{type(e).__name__}: {e}") from e
        assert fits is not None
        labels = [(_unescape(t.group(1)) if (t := _TITLE.search(htmls[i])) else "",
                   _unescape(k.group(1)) if (k := _KEYWORDS.search(htmls[i])) else "")
                  for i, _body in pages]
        merged = merge_pages(fixed.pdf, values_pdf, labels, fits)
        for (i, _body), pdf in zip(pages, merged, strict=True):
            out[i] = pdf
        return out


_FACE_SHEETS: weakref.WeakKeyDictionary[PdfRenderer, Any] = weakref.WeakKeyDictionary()


def _page_faces(renderer: PdfRenderer) -> Any:
    """The forms' faces once more under one family name per values page (``DocSerifP0``
    …), registered once per renderer: WeasyPrint embeds one subset per family, so each
    page's subset holds only that page's characters. Callers hold the renderer's lock."""
    sheet = _FACE_SHEETS.get(renderer)
    if sheet is None:
        rules = [f"@font-face {{ font-family: {_ALIAS.format(n)}; font-weight: {weight}; "
                 f"src: url({ASSET_BASE}fonts/{file}); }}"
                 for n in range(MAX_GROUP) for weight, file in _FACES]
        sheet = _FACE_SHEETS[renderer] = renderer.stylesheet("\n".join(rules))
    return sheet


def _painted(painter: Any, pages: list[tuple[int, dict[str, str], str]]) -> bytes | None:
    """The painter's values pages, or None (laid out as HTML instead) if it declines or
    fails: it drives WeasyPrint's internals, which a release may change."""
    try:
        return painter.write(pages)  # type: ignore[no-any-return]
    except Exception:
        log.warning("values painter failed; laying the values out as HTML", exc_info=True)
        return None


def _qr_src(html: str) -> str | None:
    qr = _QR.search(html)
    return qr.group(1) if qr else None


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
             "html { color: #000; }",
             ".pg { position: relative; height: 297mm; margin: 0; padding: 0; "
             "break-after: page; }",
             ".v { position: absolute; white-space: nowrap; margin: 0; padding: 0; }"]
    # No fallback face: a character outside the forms' faces would be drawn from a face
    # all pages share (check_glyphs refuses such values before rendering anyway).
    rules += [f".f{n} {{ font-family: {_ALIAS.format(n)}; }}" for n in range(MAX_GROUP)]
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


def _values_page(slots: tuple[Slot, ...], texts: dict[str, str], qr_src: str,
                 index: int) -> str:
    """One A4 page of nothing but the values, each on its slot's line (styled by
    :func:`_values_css`), in the face of page ``index``. ``texts`` are the template's own,
    already escaped, output."""
    parts = [f'<div class="pg f{index}">']
    for i, s in enumerate(slots):
        if s.key == "qr":
            parts.append(f'<img class="v s{i}" src="{qr_src}">')
        else:
            parts.append(f'<div class="v s{i}" data-slot="{s.key}">{texts[s.key]}</div>')
    parts.append("</div>")
    return "".join(parts)


def _all_fit(page: Any) -> bool:
    """Every value on the page fits on its one line (the full render would not wrap it)."""
    from weasyprint.formatting_structure import boxes

    stack = [page._page_box]  # noqa: SLF001 - WeasyPrint exposes layout only here
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


def _unescape(text: str) -> str:
    import html

    return html.unescape(text).strip()
