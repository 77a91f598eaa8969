"""Form data → editable Word document through docxtpl.

Fills ``templates/forms/<form_id>/form.docx`` (built by the ``tools/docx_build``
package through ``tools/build_docx_templates.py``; their runs name SimSun/宋体,
see ``tools/docx_build/fonts.py``) with the same context as the PDF, plus the
verification QR code as an inline image. The template renders in the
sandboxed, autoescaping, strict-undefined environment of
:func:`~doc_service.rendering.sandbox.docx_environment`: a template cannot run
code, a misspelt variable is an error, and ``&`` or ``<`` in a value cannot
break the XML.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from docx.opc.exceptions import PackageNotFoundError
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from jinja2 import TemplateError
from lxml import etree

from doc_service.config import Institution
from doc_service.errors import RenderError
from doc_service.forms.spec import FormSpec
from doc_service.rendering.context import DocumentMeta, build_context
from doc_service.rendering.qr import qr_png
from doc_service.rendering.sandbox import docx_environment

QR_WIDTH = Mm(24)
"""At least 2 cm printed, so the code decodes from a 150 dpi scan."""

# What docxtpl and python-docx raise on a bad template or package: Jinja errors
# (syntax, undefined, sandbox), XML that no longer parses, a missing or broken file.
_ENGINE_ERRORS: tuple[type[BaseException], ...] = (
    TemplateError,
    etree.LxmlError,
    PackageNotFoundError,
    zipfile.BadZipFile,
    OSError,
    KeyError,
    ValueError,
)


def render_docx(form: FormSpec, data: dict[str, Any], meta: DocumentMeta,
                institution: Institution) -> bytes:
    """Render cleaned ``data`` into the form's DOCX template; raises RenderError on failure."""
    try:
        template = DocxTemplate(str(form.folder / "form.docx"))
        context: dict[str, Any] = build_context(form, data, meta, institution)
        context["qr"] = InlineImage(template, io.BytesIO(qr_png(meta.verify_url)),
                                    width=QR_WIDTH)
        template.render(context, jinja_env=docx_environment(), autoescape=True)
        out = io.BytesIO()
        template.save(out)
    except _ENGINE_ERRORS as e:
        raise RenderError(f"DOCX 生成失败：{form.id}: {type(e).__name__}: {e}") from e
    return out.getvalue()
