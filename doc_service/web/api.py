"""The JSON API under /api/v1: everything the pages do, for scripts and other systems.

Each view parses, calls one use case, and shapes the answer. Errors come back
as ``{"error": code, "message": 中文, "fields": [...]}`` with a fitting status.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from doc_service.errors import BadRequestError, FieldError, ValidationError
from doc_service.forms.spec import all_forms
from doc_service.services import decisions, documents, identity
from doc_service.services.access import StudentActor, require_staff
from doc_service.services.inbox import inbox
from doc_service.services.verification import mask_name
from doc_service.storage.models import DocStatus
from doc_service.web.auth import api_actor, current_actor, runtime
from doc_service.web.openapi import spec
from doc_service.web.security import client_ip, rate_limited
from doc_service.web.serialize import document_json

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequestError("请求体应为 JSON 对象（Content-Type: application/json）")
    return data


def _text_arg(name: str, max_length: int = 40) -> str | None:
    """An optional text filter; control characters (a NUL breaks PostgreSQL) are refused."""
    raw = request.args.get(name)
    if not raw:
        return None
    if len(raw) > max_length or any(ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise BadRequestError(f"参数 {name} 格式不正确")
    return raw


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"参数 {name} 应为整数") from None
    return max(lo, min(hi, value))


@bp.get("/forms")
def forms() -> Response:
    return jsonify([f.to_dict() for f in all_forms()])


@bp.post("/documents")
def create_document() -> tuple[Response, int]:
    actor = api_actor()
    body = _body()
    form_id = body.get("form_id")
    if not isinstance(form_id, str) or not form_id:
        raise BadRequestError("请提供 form_id（文本）")
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise ValidationError([FieldError("data", "data 应为对象（字段名 → 值）", "type")])
    student_no = body.get("student_no")
    if student_no is not None and not isinstance(student_no, str):
        raise ValidationError([FieldError("student_no", "student_no 应为文本", "type")])
    unknown = set(body) - {"form_id", "data", "student_no"}
    if unknown:
        raise BadRequestError(f"未知的请求字段：{'、'.join(sorted(str(k)[:40] for k in unknown))}")
    doc = documents.issue_document(runtime(), actor, form_id, data,
                                   student_no=student_no or None, ip=client_ip())
    return jsonify(document_json(doc, actor)), 201


@bp.get("/documents")
def list_documents() -> Response:
    actor = api_actor()
    page = _int_arg("page", 1, 1, 10_000)
    per_page = _int_arg("per_page", 20, 1, 100)
    status = _text_arg("status")
    if status is not None and status not in {str(s) for s in DocStatus}:
        raise BadRequestError(f"参数 status 应为以下之一：{'、'.join(str(s) for s in DocStatus)}")
    docs, total = documents.list_documents(
        runtime(), actor, form_id=_text_arg("form_id"), student_no=_text_arg("student_no", 20),
        status=status, page=page, per_page=per_page)
    return jsonify({"items": [document_json(d, actor, with_data=False) for d in docs],
                    "page": page, "per_page": per_page, "total": total})


@bp.get("/documents/<doc_id>")
def get_document(doc_id: str) -> Response:
    actor = api_actor()
    doc = documents.get_document(runtime(), actor, doc_id[:40], ip=client_ip())
    return jsonify(document_json(doc, actor))


@bp.get("/documents/<doc_id>/pdf")
def get_pdf(doc_id: str) -> Response:
    actor = api_actor()
    data = documents.pdf_bytes(runtime(), actor, doc_id[:40], ip=client_ip())
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{doc_id[:40]}.pdf"'})


@bp.get("/documents/<doc_id>/docx")
def get_docx(doc_id: str) -> Response:
    actor = api_actor()
    data = documents.docx_bytes(runtime(), actor, doc_id[:40], ip=client_ip())
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument."
                    "wordprocessingml.document",
                    headers={"Content-Disposition": f'attachment; filename="{doc_id[:40]}.docx"'})


@bp.post("/documents/<doc_id>/decisions")
def decide(doc_id: str) -> tuple[Response, int]:
    actor = api_actor()
    body = _body()
    decision = body.get("decision")
    comment = body.get("comment")
    if comment is None:
        comment = ""
    if decision not in ("approve", "reject") or not isinstance(comment, str):
        raise BadRequestError('decision 应为 "approve" 或 "reject"，comment 为文本')
    result = decisions.record_decision(runtime(), actor, doc_id[:40], decision, comment,
                                       ip=client_ip())
    return jsonify(document_json(result.document, actor)), 201


@bp.post("/documents/batch-decisions")
def batch_decide() -> Response:
    actor = api_actor()
    ids = _body().get("document_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise BadRequestError("document_ids 应为文书编号列表")
    outcomes = decisions.approve_many(runtime(), actor, [i[:40] for i in ids], ip=client_ip())
    return jsonify({"results": [{"id": o.document_id, "ok": o.ok, "message": o.message}
                                for o in outcomes]})


@bp.post("/documents/<doc_id>/revisions")
def revise(doc_id: str) -> tuple[Response, int]:
    actor = api_actor()
    data = _body().get("data", {})
    if not isinstance(data, dict):
        raise BadRequestError("data 应为对象")
    doc = documents.revise_document(runtime(), actor, doc_id[:40], data, ip=client_ip())
    return jsonify(document_json(doc, actor)), 201


@bp.post("/documents/<doc_id>/chsi-marked")
def chsi_marked(doc_id: str) -> Response:
    actor = api_actor()
    doc = decisions.mark_chsi_done(runtime(), actor, doc_id[:40], ip=client_ip())
    return jsonify({"id": doc.id, "chsi_marked_at": doc.chsi_marked_at.isoformat() + "Z"
                    if doc.chsi_marked_at else None})


@bp.post("/documents/<doc_id>/identity-unlock")
def identity_unlock(doc_id: str) -> Response:
    """The issuer or the registrar clears the student identity check's counters."""
    actor = api_actor()
    cleared = identity.unlock(runtime(), actor, doc_id[:40], ip=client_ip())
    return jsonify({"id": doc_id[:40], "cleared": cleared})


@bp.get("/inbox")
def my_inbox() -> Response:
    actor = api_actor()
    user = require_staff(actor)
    items = inbox(runtime(), user)
    return jsonify({"items": [{**document_json(i.document, actor, with_data=False),
                               "step": i.step.position, "role": i.step.role,
                               "due_on": i.step.due_on.isoformat() if i.step.due_on else None,
                               "overdue": i.overdue} for i in items]})


@bp.post("/codes/<code>/identity")
@rate_limited("identity-address", limit=600, per_seconds=60)
@rate_limited("identity", limit=20, per_seconds=60, per_code=True)
def prove_identity(code: str) -> Response:
    body = _body()
    student_no, last6 = body.get("student_no"), body.get("id_last6")
    if not isinstance(student_no, str) or not isinstance(last6, str):
        raise BadRequestError("请提供 student_no 和 id_last6")
    token, actor = identity.prove_identity(runtime(), code, student_no, last6, ip=client_ip())
    return jsonify({"token": token, "document_id": actor.document_id,
                    "expires_in": identity.TOKEN_SECONDS})


@bp.get("/codes/<code>")
@rate_limited("public", limit=120, per_seconds=60)
def code_status(code: str) -> Response:
    """The public state of a document by its QR code: no personal data."""
    doc = documents.document_by_code(runtime(), code[:16])
    actor = current_actor()
    own = isinstance(actor, StudentActor) and actor.document_id == doc.id
    return jsonify({
        "code": doc.code, "form_id": doc.form_id, "number": doc.number,
        "status": doc.status, "version": doc.version,
        "student_name": doc.student_name if own else mask_name(doc.student_name),
        "college": doc.college.name, "issued_on": doc.issued_on.isoformat(),
        "steps": [{"role": s.role, "label": s.label, "state": s.state,
                   "decided_at": s.decided_at.isoformat() + "Z" if s.decided_at else None}
                  for s in doc.steps],
    })


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(spec(current_app))
