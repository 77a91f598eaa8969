"""Form data → official A4 PDF/A-3b through WeasyPrint.

One :class:`PdfRenderer` per process keeps the parsed base stylesheet and the
font configuration warm, so each render only lays out its own page. Boxes in
the template marked ``data-sig-role="<role>"`` are the signature and seal
areas; their positions come back in PDF points for the signing step.

Issuing needs a :class:`DocumentRenderer` (one document at a time); a batch a
:class:`BatchRenderer` (many at once, each failing alone): :class:`PdfRenderer`
is both, a batch's ``overlay.OverlayRenderer`` renders a group in one pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import weasyprint
from jinja2 import TemplateError
from weasyprint.text.fonts import FontConfiguration

from doc_service.config import FONTS_ROOT, FORMS_ROOT, Institution
from doc_service.errors import DocServiceError, FieldError, MissingGlyphError, RenderError
from doc_service.forms.spec import FormSpec
from doc_service.rendering.compression import DEFAULT_LEVEL, use_level
from doc_service.rendering.context import DocumentMeta, build_context
from doc_service.rendering.fetcher import ASSET_BASE, AssetOnlyFetcher
from doc_service.rendering.fonts import ensure_fonts, missing_glyphs
from doc_service.rendering.qr import qr_png_data_uri
from doc_service.rendering.sandbox import html_environment
from doc_service.rendering.slots import SlottedPage, split_page
from doc_service.rendering.weasy_internals import marked_boxes
from signing.box import SignatureBox

log = logging.getLogger(__name__)

PX_TO_PT = 0.75
"""CSS px are 1/96 in, PDF points 1/72 in."""


@dataclass(frozen=True)
class RenderedPdf:
    pdf: bytes
    signature_areas: dict[str, SignatureBox]
    page_count: int
    refused_urls: tuple[str, ...] = field(default=())


RenderRequest = tuple[FormSpec, dict[str, Any], DocumentMeta, Institution]
"""What :meth:`DocumentRenderer.render` takes: the form, its cleaned data, meta, school."""


class DocumentRenderer(Protocol):
    """What issuing needs of a renderer: :class:`PdfRenderer`, or a batch's
    ``overlay.OverlayRenderer``."""

    def render(self, form: FormSpec, data: dict[str, Any], meta: DocumentMeta,
               institution: Institution) -> RenderedPdf: ...


class BatchRenderer(DocumentRenderer, Protocol):
    """What a batch needs of a renderer: many documents at once, each failing alone
    (:class:`PdfRenderer`, one after the other, or ``overlay.OverlayRenderer``)."""

    def render_many(self, requests: Sequence[RenderRequest]
                    ) -> list[RenderedPdf | DocServiceError]:
        """Each request's PDF, or the error :meth:`render` raises for it, in its place."""
        ...


def render_each(renderer: DocumentRenderer, requests: Sequence[RenderRequest]
                ) -> list[RenderedPdf | DocServiceError]:
    """:meth:`BatchRenderer.render_many` for a renderer of one document at a time."""
    rendered: list[RenderedPdf | DocServiceError] = []
    for request in requests:
        try:
            rendered.append(renderer.render(*request))
        except DocServiceError as e:
            rendered.append(e)
    return rendered


def check_glyphs(form: FormSpec, data: dict[str, Any], institution: Institution) -> None:
    """Refuse (MissingGlyphError, per field) values with a character no embedded font draws."""
    errors = []
    for key, value in data.items():
        text = "".join(value) if isinstance(value, list) else str(value)
        bad = missing_glyphs(text)
        if bad:
            label = form.field(key).label
            shown = "、".join(f"「{c}」(U+{ord(c):04X})" for c in bad[:3])
            errors.append(FieldError(key, f"{label}中的字符{shown}无法用嵌入字体打印，"
                                          "请改用规范汉字或联系管理员补充字库", "missing_glyph"))
    bad = missing_glyphs(institution.name + institution.regulation)
    if bad:
        errors.append(FieldError("*", f"学校名称中的字符「{bad[0]}」无法打印", "missing_glyph"))
    if errors:
        raise MissingGlyphError(errors, "有字符无法用嵌入字体打印")


class PdfRenderer:
    """Renders forms to PDF; thread-safe, reuse one per process."""

    def __init__(self, forms_root: Path = FORMS_ROOT, fonts_root: Path = FONTS_ROOT) -> None:
        ensure_fonts()
        use_level(DEFAULT_LEVEL)
        self._forms_root = forms_root
        self._mounts = {"forms": forms_root, "fonts": fonts_root}
        self._env = html_environment(forms_root)
        self._font_config = FontConfiguration()
        self._base_css = weasyprint.CSS(
            url=ASSET_BASE + "forms/_shared/base.css",
            url_fetcher=AssetOnlyFetcher(self._mounts),
            font_config=self._font_config,
        )
        # WeasyPrint's font configuration is not documented as thread-safe.
        self._lock = threading.Lock()

    def render(self, form: FormSpec, data: dict[str, Any], meta: DocumentMeta,
               institution: Institution) -> RenderedPdf:
        """Render cleaned ``data``; raises MissingGlyphError or RenderError, never half-writes."""
        html = self.html(form, data, meta, institution)
        fetcher = AssetOnlyFetcher(self._mounts)
        try:
            with self._lock:
                document = self.layout(html, form.id, fetcher)
                areas = signature_areas(document)
                pdf = document.write_pdf(pdf_variant="pdf/a-3b")
        except Exception as e:  # WeasyPrint raises many unrelated types; wrap them all.
            raise RenderError(f"PDF 生成失败：{type(e).__name__}: {e}") from e
        return RenderedPdf(pdf=pdf, signature_areas=areas, page_count=len(document.pages),
                           refused_urls=tuple(fetcher.refused))

    def render_many(self, requests: Sequence[RenderRequest]
                    ) -> list[RenderedPdf | DocServiceError]:
        """:meth:`render` for each request in turn (see :class:`BatchRenderer`)."""
        return render_each(self, requests)

    def html(self, form: FormSpec, data: dict[str, Any], meta: DocumentMeta,
             institution: Institution) -> str:
        """The form's page as HTML (checked for printable characters first)."""
        check_glyphs(form, data, institution)
        context = build_context(form, data, meta, institution,
                                qr_data_uri=qr_png_data_uri(meta.verify_url))
        try:
            return self._env.get_template(f"{form.id}/form.html").render(context)
        except TemplateError as e:
            raise RenderError(f"表单模板 {form.id} 渲染失败：{e}") from e

    def slotted_page(self, form: FormSpec, data: dict[str, Any], meta: DocumentMeta,
                     institution: Institution) -> SlottedPage:
        """The form's page split into its skeleton and its slots' values (see
        ``rendering.slots``), with the same checks and errors as :meth:`html`."""
        return split_page(lambda: self.html(form, data, meta, institution))

    def layout(self, html: str, form_id: str, fetcher: AssetOnlyFetcher | None = None,
               stylesheets: tuple[Any, ...] | None = None) -> Any:
        """Lay ``html`` out as a WeasyPrint document with the forms' fonts and only the
        form's own assets, styled by the forms' base stylesheet, or by ``stylesheets``
        (from :meth:`stylesheet`) instead. Callers hold :attr:`lock`."""
        return weasyprint.HTML(
            string=html, base_url=f"{ASSET_BASE}forms/{form_id}/",
            url_fetcher=fetcher or AssetOnlyFetcher(self._mounts),
        ).render(font_config=self._font_config,
                 stylesheets=[self._base_css] if stylesheets is None else list(stylesheets))

    def stylesheet(self, css: str) -> Any:
        """``css`` parsed once, to pass to :meth:`layout` many times."""
        return weasyprint.CSS(string=css, font_config=self._font_config,
                                    url_fetcher=AssetOnlyFetcher(self._mounts))

    @property
    def base_stylesheet(self) -> Any:
        """The forms' base stylesheet, which :meth:`layout` uses unless given others."""
        return self._base_css

    @property
    def lock(self) -> threading.Lock:
        """Serializes WeasyPrint work in this process (its font configuration is shared)."""
        return self._lock


def signature_areas(document: Any) -> dict[str, SignatureBox]:
    """The boxes marked ``data-sig-role``, in PDF points, by role (the first of each)."""
    areas: dict[str, SignatureBox] = {}
    for box in marked_boxes(document, "data-sig-role"):
        if box.value in areas:
            continue
        height_pt = document.pages[box.page_index].height * PX_TO_PT
        areas[box.value] = SignatureBox(
            page_index=box.page_index,
            x1=round(box.x * PX_TO_PT, 2),
            y1=round(height_pt - (box.y + box.height) * PX_TO_PT, 2),
            x2=round((box.x + box.width) * PX_TO_PT, 2),
            y2=round(height_pt - box.y * PX_TO_PT, 2),
        )
    return areas


_default: PdfRenderer | None = None
_default_lock = threading.Lock()


def default_renderer() -> PdfRenderer:
    global _default
    with _default_lock:
        if _default is None:
            _default = PdfRenderer()
        return _default
