"""Use cases that turn form data into documents.

``render_document`` validates and renders in memory (PDF and, on request,
DOCX); nothing is written unless everything succeeded. ``issue_standalone``
is the CLI's path: it takes the next 文号 from the instance database in the
same transaction, so a failed render gives the number back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from doc_service.config import Institution
from doc_service.forms.spec import FormSpec, load_form
from doc_service.forms.validation import validate
from doc_service.numbering import next_number
from doc_service.rendering.context import DocumentMeta
from doc_service.rendering.pdf import RenderedPdf, default_renderer
from doc_service.rendering.qr import new_code


@dataclass(frozen=True)
class RenderedDocument:
    form: FormSpec
    data: dict[str, Any]
    """The cleaned data that was rendered."""
    meta: DocumentMeta
    pdf: RenderedPdf
    docx: bytes | None


def render_document(form_id: str, raw: Any, meta: DocumentMeta, institution: Institution,
                    *, with_docx: bool = False) -> RenderedDocument:
    """Validate ``raw`` and render it; raises ValidationError/RenderError, writes nothing."""
    form = load_form(form_id)
    data = validate(form, raw)
    pdf = default_renderer().render(form, data, meta, institution)
    docx = None
    if with_docx:
        from doc_service.rendering.docx import render_docx

        docx = render_docx(form, data, meta, institution)
    return RenderedDocument(form=form, data=data, meta=meta, pdf=pdf, docx=docx)


def issue_standalone(engine: Engine, form_id: str, raw: Any, institution: Institution, *,
                     with_docx: bool = False, number: str | None = None,
                     today: dt.date | None = None) -> RenderedDocument:
    """Render with a fresh number and code; the number is only consumed on success."""
    form = load_form(form_id)
    validate(form, raw)  # fail fast before touching the database
    today = today or dt.date.today()
    code = new_code()
    with engine.begin() as conn:
        if number is None:
            number = form.format_number(year=today.year, seq=next_number(conn, form_id, today.year))
        meta = DocumentMeta.issued(institution, number, code, issued_on=today)
        return render_document(form_id, raw, meta, institution, with_docx=with_docx)
