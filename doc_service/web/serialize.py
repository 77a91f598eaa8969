"""JSON shapes of the API, with personal data masked for those not entitled to it."""

from __future__ import annotations

from typing import Any

from doc_service.forms.spec import load_form
from doc_service.services.access import Actor, can_see_personal_data
from doc_service.storage.models import STATUS_LABELS, Document
from signing.roles import STUDENT, role_label


def mask_value(key: str, value: Any) -> str:
    text = str(value)
    if key == "id_number" and len(text) >= 6:
        return text[:2] + "*" * (len(text) - 4) + text[-2:]
    if key in ("phone", "exam_no") and len(text) > 4:
        return "*" * (len(text) - 4) + text[-4:]
    return "***"


def document_data(doc: Document, actor: Actor | None) -> dict[str, Any]:
    if actor is not None and can_see_personal_data(actor, doc):
        return dict(doc.data)
    form = load_form(doc.form_id)
    sensitive = {f.key for f in form.fields if f.sensitive}
    return {k: (mask_value(k, v) if k in sensitive else v) for k, v in doc.data.items()}


def steps_json(doc: Document) -> list[dict[str, Any]]:
    return [{
        "position": s.position,
        "role": s.role,
        "role_label": role_label(s.role),
        "label": s.label,
        "signer": (s.signer_name or (s.assignee.name if s.assignee else None)
                   or ("学生本人" if s.role == STUDENT else role_label(s.role))),
        "state": s.state,
        "decision": s.decision,
        "comment": s.comment,
        "due_on": s.due_on.isoformat() if s.due_on else None,
        "decided_at": s.decided_at.isoformat() + "Z" if s.decided_at else None,
    } for s in doc.steps]


def document_json(doc: Document, actor: Actor | None, *, with_data: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": doc.id,
        "series_id": doc.series_id,
        "version": doc.version,
        "form_id": doc.form_id,
        "number": doc.number,
        "code": doc.code,
        "status": doc.status,
        "status_label": STATUS_LABELS.get(doc.status, doc.status),  # type: ignore[call-overload]
        "student_no": doc.student_no,
        "student_name": doc.student_name,
        "college": doc.college.name,
        "issued_on": doc.issued_on.isoformat(),
        "sealed_at": doc.sealed_at.isoformat() + "Z" if doc.sealed_at else None,
        "rejection_reason": doc.rejection_reason,
        "superseded_by": doc.superseded_by,
        "pdf_sha256": doc.current_sha256,
        "chsi_due_on": doc.chsi_due_on.isoformat() if doc.chsi_due_on else None,
        "chsi_marked_at": doc.chsi_marked_at.isoformat() + "Z" if doc.chsi_marked_at else None,
        "steps": steps_json(doc),
    }
    if with_data:
        out["data"] = document_data(doc, actor)
    return out
