"""Issuing from the command line: ``doc-service render`` and ``demo-chain``.

The same steps as :mod:`doc_service.services.documents` (validate, ``take_number``,
``build_meta``, ``render_form``) with nothing recorded: there is no signed-in person,
roster student or chain here, only the instance's 文号 sequence. Nothing is written
unless everything succeeded; a failed render gives the number back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from doc_service.config import Institution
from doc_service.forms.spec import load_form
from doc_service.forms.validation import validate
from doc_service.rendering.context import DocumentMeta
from doc_service.rendering.pdf import DocumentRenderer
from doc_service.rendering.qr import new_code
from doc_service.services.documents import (
    SYSTEM_CLOCK,
    Clock,
    RenderedDocument,
    build_meta,
    render_form,
    take_number,
)


def render_document(form_id: str, raw: Any, meta: DocumentMeta, institution: Institution, *,
                    with_docx: bool = False,
                    renderer: DocumentRenderer | None = None) -> RenderedDocument:
    """Validate ``raw`` and render it under ``meta``, in memory; raises
    ValidationError/RenderError, writes nothing."""
    form = load_form(form_id)
    return render_form(form, validate(form, raw), meta, institution, renderer=renderer,
                       with_docx=with_docx)


def render_standalone(form_id: str, raw: Any, institution: Institution, *, number: str,
                      document_id: str = "", issued_on: dt.date | None = None,
                      renderer: DocumentRenderer | None = None,
                      with_docx: bool = False) -> RenderedDocument:
    """:func:`render_document` under ``number`` with a fresh QR code, issued today unless
    ``issued_on`` (``demo-chain``'s render)."""
    meta = build_meta(institution, number, new_code(), document_id=document_id,
                      issued_on=issued_on or SYSTEM_CLOCK.today())
    return render_document(form_id, raw, meta, institution, with_docx=with_docx,
                           renderer=renderer)


def issue_standalone(engine: Engine, form_id: str, raw: Any, institution: Institution, *,
                     with_docx: bool = False, number: str | None = None,
                     clock: Clock | None = None,
                     renderer: DocumentRenderer | None = None) -> RenderedDocument:
    """Render with the form's next 文号 (or ``number``, for a reprint) and a fresh code;
    the number is only consumed on success (``render``'s path)."""
    form = load_form(form_id)
    validate(form, raw)  # fail fast before touching the database
    today = (clock or SYSTEM_CLOCK).today()
    with engine.begin() as conn:
        if number is None:
            number = take_number(conn, form, today)
        return render_standalone(form_id, raw, institution, number=number, issued_on=today,
                                 renderer=renderer, with_docx=with_docx)
