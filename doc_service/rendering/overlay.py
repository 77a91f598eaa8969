"""Batch rendering by overlay: a form's fixed part laid out once, each document's values on top.

A checklist page costs WeasyPrint ~65 ms, most of it laying out and writing the table, which
is the same for every student of a batch. :class:`OverlayRenderer` lays the form out once,
from the first document, with every value hidden: the template marks them as slots
(``macros.slot``: ``<span data-slot>`` and the QR ``<img data-slot="qr">``), and
``visibility: hidden`` keeps their boxes in place but draws nothing. It reads where each
value's line sits in that layout. Per document it draws only the values, on those lines with
the same font, size and alignment, and lays that page over the fixed one as a Form XObject
(pikepdf), with the document's own title and keywords. The markup, its names and the
document's values (as data, never read back from HTML) come from ``rendering.slots``.

The values pages of a group (:meth:`OverlayRenderer.render_many`, up to ``GROUP_SIZE``) are
one WeasyPrint document, a page each, drawn directly by ``values_painter`` (or, where it
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
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from doc_service.config import Institution
from doc_service.errors import DocServiceError, RenderError
from doc_service.forms.spec import FormSpec
from doc_service.rendering.context import DocumentMeta
from doc_service.rendering.fetcher import ASSET_BASE
from doc_service.rendering.overlay_merge import merge_pages
from doc_service.rendering.pdf import PdfRenderer, RenderedPdf, RenderRequest, signature_areas
from doc_service.rendering.slots import (
    FIT_SLACK_PX,
    GROUP_SIZE,
    HIDDEN_SLOTS_CSS,
    PROBE_TEXT,
    QR_KEY,
    VALUE_INDEX_ATTR,
    Slot,
    SlottedPage,
    face_family,
)
from doc_service.rendering.values_painter import ValuesPage, ValuesPainter
from doc_service.rendering.weasy_internals import slot_lines, values_fit

log = logging.getLogger(__name__)

_FIXED_PAGE_ATTEMPTS = 5
_FACES = ((400, "DocSerif-Regular.otf"), (700, "DocSerif-Bold.otf"))
"""The forms' DocSerif faces (weight, file), registered again per values page."""


class ValuesWriter(Protocol):
    """What draws a group's values pages without CSS layout (``values_painter``)."""

    def write(self, pages: Sequence[ValuesPage]) -> bytes | None:
        """One page per ``(face, texts, qr_src)``, or None to lay them out as HTML."""
        ...


PainterFactory = Callable[[Any, tuple[str, ...], str], ValuesWriter | None]
"""Learns a :class:`ValuesWriter` from a probe (WeasyPrint's layout of the values page, a
page per face), the slots' keys and the probe's QR ``src``; None where that cannot be
exact."""


@dataclass(frozen=True)
class FixedPage:
    """The form laid out once with its values hidden."""

    pdf: bytes
    skeleton: str
    slots: tuple[Slot, ...]
    signature_areas: dict[str, Any]
    values_css: Any
    """The values page's stylesheet (a class per slot), parsed once."""
    painter: ValuesWriter | None = None
    """Draws the values pages without CSS layout (``rendering.values_painter``), or None
    where that cannot be exact (they are then laid out as HTML)."""


class OverlayRenderer:
    """Renders many documents of one form (and the same shared values) by overlay.

    The fixed page is laid out from the first document it renders (or, if that one's
    values cannot be placed, from one of the next few); :meth:`render` falls back to
    ``renderer.render`` whenever the overlay cannot be exact. Thread-safe; one per batch
    and process. ``painter`` learns the direct painter of the values pages (a test passes
    a fake)."""

    def __init__(self, renderer: PdfRenderer, form: FormSpec, institution: Institution, *,
                 painter: PainterFactory = ValuesPainter.from_probe) -> None:
        self._renderer = renderer
        self._form = form
        self._institution = institution
        self._painter_factory = painter
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

        The values of up to ``GROUP_SIZE`` documents are laid out in one WeasyPrint pass,
        a page each; every page draws with a font face of its own, so each document
        embeds a subset of its own characters only (never another student's)."""
        results: list[RenderedPdf | DocServiceError | None] = [None] * len(requests)
        overlaid: list[tuple[int, SlottedPage]] = []
        fixed: FixedPage | None = None
        for i, (form, data, meta, institution) in enumerate(requests):
            if form.id != self._form.id or institution != self._institution:
                continue
            try:
                page = self._renderer.slotted_page(self._form, data, meta, self._institution)
            except DocServiceError as e:
                results[i] = e
                continue
            fixed = self._fixed_page(data, meta, page)
            if fixed is not None and page.skeleton == fixed.skeleton:
                overlaid.append((i, page))
        for start in range(0, len(overlaid), GROUP_SIZE):
            group = overlaid[start:start + GROUP_SIZE]
            assert fixed is not None
            try:
                pdfs = self._overlay(fixed, [page for _i, page in group])
            except DocServiceError as e:
                pdfs = [None] * len(group)
                log.warning("form %s: overlay failed, rendering in full: %s", self._form.id, e)
            for (i, _page), pdf in zip(group, pdfs, strict=True):
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

    def _fixed_page(self, data: dict[str, Any], meta: DocumentMeta,
                    page: SlottedPage) -> FixedPage | None:
        """The fixed page, laid out from this document (``page`` is its slotted page) if
        none is yet. A document whose values cannot be reproduced alone (one wraps)
        cannot give it; the next few may."""
        with self._lock:
            if self._fixed is None and self._attempts < _FIXED_PAGE_ATTEMPTS:
                self._attempts += 1
                try:
                    self._fixed = self._lay_out_fixed(data, meta, page)
                except RenderError:
                    log.exception("form %s: could not lay out the fixed page",
                                  self._form.id)
            return self._fixed

    def _lay_out_fixed(self, data: dict[str, Any], meta: DocumentMeta,
                       page: SlottedPage) -> FixedPage | None:
        qr_src = page.qr_src
        if qr_src is None or not page.texts:
            return None
        renderer = self._renderer
        html = renderer.html(self._form, data, meta, self._institution)
        try:
            with renderer.lock:
                document = renderer.layout(html, self._form.id, stylesheets=(
                    renderer.base_stylesheet, _hidden_slots(renderer)))
                if len(document.pages) != 1:
                    return None
                slots = slot_lines(document)
                areas = signature_areas(document)
                pdf = document.write_pdf(pdf_variant="pdf/a-3b")
        except Exception as e:  # WeasyPrint raises many unrelated types
            raise RenderError(f"PDF 生成失败：{type(e).__name__}: {e}") from e
        if slots is None or len(slots) != page.slot_count:
            return None  # a slot without a box of its own (an empty value) cannot be placed
        values_css = renderer.stylesheet(_values_css(slots))
        return FixedPage(pdf=pdf, skeleton=page.skeleton, slots=slots,
                         signature_areas=areas, values_css=values_css,
                         painter=self._painter(slots, values_css, qr_src))

    def _painter(self, slots: tuple[Slot, ...], values_css: Any,
                 qr_src: str) -> ValuesWriter | None:
        """The direct painter of these slots' values, learnt from a probe page per face."""
        texts = {s.key: PROBE_TEXT for s in slots if s.key != QR_KEY}
        page = ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head><body>'
                + "".join(_values_page(slots, texts, qr_src, face) for face in range(GROUP_SIZE))
                + "</body></html>")
        renderer = self._renderer
        try:
            with renderer.lock:
                probe = renderer.layout(page, self._form.id,
                                        stylesheets=(_page_faces(renderer), values_css))
                if len(probe.pages) != GROUP_SIZE:
                    return None
                return self._painter_factory(probe, tuple(s.key for s in slots), qr_src)
        except Exception:  # WeasyPrint raises many unrelated types
            log.warning("form %s: values are laid out as HTML", self._form.id, exc_info=True)
            return None

    # --- one document ----------------------------------------------------------------

    def _overlay(self, fixed: FixedPage, pages: list[SlottedPage]) -> list[bytes | None]:
        """Each document's values drawn over the fixed page, or None where that would not
        be exact (the caller renders those in full)."""
        drawn: list[tuple[int, ValuesPage]] = []
        for i, page in enumerate(pages):
            texts = page.text_by_key
            qr_src = page.qr_src
            if qr_src is not None and all(s.key in texts or s.key == QR_KEY
                                          for s in fixed.slots):
                drawn.append((i, (len(drawn), texts, qr_src)))
        out: list[bytes | None] = [None] * len(pages)
        if not drawn:
            return out
        renderer = self._renderer
        try:
            with renderer.lock:
                values_pdf = fits = None
                if fixed.painter is not None:
                    values_pdf = _painted(fixed.painter, [values for _i, values in drawn])
                    fits = [True] * len(drawn)
                if values_pdf is None:
                    values_html = (
                        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
                        '</head><body>'
                        + "".join(_values_page(fixed.slots, texts, qr_src, face)
                                  for _i, (face, texts, qr_src) in drawn)
                        + "</body></html>")
                    document = renderer.layout(values_html, self._form.id,
                                               stylesheets=(_page_faces(renderer),
                                                            fixed.values_css))
                    if len(document.pages) != len(drawn):
                        return out
                    fits = [values_fit(p, FIT_SLACK_PX) for p in document.pages]
                    values_pdf = document.write_pdf()
        except Exception as e:  # WeasyPrint raises many unrelated types
            raise RenderError(f"PDF 生成失败：{type(e).__name__}: {e}") from e
        assert fits is not None
        labels = [(pages[i].title, pages[i].keywords) for i, _values in drawn]
        merged = merge_pages(fixed.pdf, values_pdf, labels, fits)
        for (i, _values), pdf in zip(drawn, merged, strict=True):
            out[i] = pdf
        return out


_FACE_SHEETS: weakref.WeakKeyDictionary[PdfRenderer, Any] = weakref.WeakKeyDictionary()
_HIDING_SHEETS: weakref.WeakKeyDictionary[PdfRenderer, Any] = weakref.WeakKeyDictionary()


def _page_faces(renderer: PdfRenderer) -> Any:
    """The forms' faces once more under one family name per values page (``DocSerifP0``
    …), registered once per renderer: WeasyPrint embeds one subset per family, so each
    page's subset holds only that page's characters. Callers hold the renderer's lock."""
    sheet = _FACE_SHEETS.get(renderer)
    if sheet is None:
        rules = [f"@font-face {{ font-family: {face_family(n)}; font-weight: {weight}; "
                 f"src: url({ASSET_BASE}fonts/{file}); }}"
                 for n in range(GROUP_SIZE) for weight, file in _FACES]
        sheet = _FACE_SHEETS[renderer] = renderer.stylesheet("\n".join(rules))
    return sheet


def _hidden_slots(renderer: PdfRenderer) -> Any:
    """The stylesheet that hides every slot's value, parsed once per renderer. Callers
    hold the renderer's lock."""
    sheet = _HIDING_SHEETS.get(renderer)
    if sheet is None:
        sheet = _HIDING_SHEETS[renderer] = renderer.stylesheet(HIDDEN_SLOTS_CSS)
    return sheet


def _painted(painter: ValuesWriter, pages: list[ValuesPage]) -> bytes | None:
    """The painter's values pages, or None (laid out as HTML instead) if it declines or
    fails: it drives WeasyPrint's internals, which a release may change."""
    try:
        return painter.write(pages)
    except Exception:
        log.warning("values painter failed; laying the values out as HTML", exc_info=True)
        return None


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
    rules += [f".f{n} {{ font-family: {face_family(n)}; }}" for n in range(GROUP_SIZE)]
    for i, s in enumerate(slots):
        box = (f"left: {s.left:.4f}px; top: {s.top:.4f}px; width: {s.width:.4f}px; "
               f"height: {s.height:.4f}px;")
        if s.key == QR_KEY:
            rules.append(f".s{i} {{ {box} image-rendering: pixelated; }}")
        else:
            rules.append(
                f".s{i} {{ {box} line-height: {s.height:.4f}px; font-size: {s.font_size:.4f}px; "
                f"font-weight: {s.font_weight}; letter-spacing: {s.letter_spacing:.4f}px; "
                f"color: {s.color}; text-align: {s.align}; }}")
    return "\n".join(rules)


def _values_page(slots: tuple[Slot, ...], texts: Mapping[str, str], qr_src: str,
                 index: int) -> str:
    """One A4 page of nothing but the values, each on its slot's line (styled by
    :func:`_values_css`, and marked with its slot's index for the painter), in the face of
    page ``index``. ``texts`` are the template's own, already escaped, output."""
    parts = [f'<div class="pg f{index}">']
    for i, s in enumerate(slots):
        if s.key == QR_KEY:
            parts.append(f'<img class="v s{i}" {VALUE_INDEX_ATTR}="{i}" src="{qr_src}">')
        else:
            parts.append(f'<div class="v s{i}" {VALUE_INDEX_ATTR}="{i}">{texts[s.key]}</div>')
    parts.append("</div>")
    return "".join(parts)
