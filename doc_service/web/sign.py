"""Phone signing pages: what the QR code opens (``/d/<code>``), identity check, signing.

Anyone holding the paper sees the document's state (no personal data beyond a
masked name). When the next signer is the student, they prove who they are
(学号 + 身份证号后六位, rate limited per address and code, and held back after
repeated failures from one address by ``identity.prove_identity``); the short-lived token is kept in the session and
opens the document's page images and the Approve / Send back form. Decisions
go through ``decisions.record_decision`` like every other signature.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from doc_service.errors import AuthError, DocServiceError, LockedError
from doc_service.forms.spec import load_form
from doc_service.services import decisions, documents, identity, previews
from doc_service.services.access import StudentActor
from doc_service.services.verification import mask_name
from doc_service.storage.models import DocStatus, Document, StepState
from doc_service.web.auth import current_staff, runtime
from doc_service.web.security import client_ip, rate_limited
from doc_service.web.serialize import document_data
from doc_service.web.staff import explain
from signing.roles import ROLE_LABELS, STUDENT

bp = Blueprint("sign", __name__)

STEP_STATES = {StepState.WAITING: "未到", StepState.CURRENT: "待签", StepState.DONE: "已签",
               StepState.REJECTED: "已退回", StepState.CANCELLED: "已取消"}
# Keyed by str: ``Document.status`` is the column's plain string, which finds the StrEnum keys.
PUBLIC_STATUS: dict[str, str] = {DocStatus.IN_PROGRESS: "签批中", DocStatus.REJECTED: "已退回修改",
                 DocStatus.SEALED: "已办结（有效）",
                 DocStatus.SUPERSEDED: "已被新版本取代（本件无效）",
                 DocStatus.VOIDED: "已作废（无效）"}


def _by_code(code: str) -> Document:
    return documents.document_by_code(runtime(), code[:16])


def _student_turn(doc: Document) -> bool:
    step = doc.current_step
    return step is not None and step.role == STUDENT


def _verified_student(doc: Document) -> StudentActor:
    """The student whose token in this session is good for this document, or AuthError."""
    token = session.get("student_token")
    if not token:
        raise AuthError("请先验证身份")
    return identity.actor_from_token(runtime(), str(token), doc.id)


def _staff_can_sign(doc: Document) -> bool:
    staff = current_staff()
    return staff is not None and decisions.signable_step(runtime(), staff, doc) is not None


def _status_page(doc: Document, *, error: str | None = None, locked: bool = False,
                 student_no: str = "", status: int = 200) -> Any:
    try:
        verified = _verified_student(doc) is not None
    except AuthError:
        verified = False
    # The archive's public verification page checks a PDF.
    verify_link = url_for("archive_pages.public_page", code=doc.code)
    return render_template(
        "sign/status.html", doc=doc, verify_link=verify_link, form=load_form(doc.form_id),
        masked_name=mask_name(doc.student_name), status_label=PUBLIC_STATUS.get(
            doc.status, doc.status), steps=doc.steps, step_states=STEP_STATES,
        role_labels=ROLE_LABELS, student_turn=_student_turn(doc), verified=verified,
        staff_can_sign=_staff_can_sign(doc), error=error, locked=locked,
        student_no=student_no), status


@bp.get("/d/<code>")
@rate_limited("public", limit=120, per_seconds=60)
def status(code: str) -> Any:
    return _status_page(_by_code(code))


@bp.post("/d/<code>/identity")
@rate_limited("identity-address", limit=600, per_seconds=60)
@rate_limited("identity", limit=20, per_seconds=60, per_code=True)
def prove(code: str) -> Any:
    doc = _by_code(code)
    student_no = (request.form.get("student_no") or "").strip()[:20]
    last6 = (request.form.get("id_last6") or "").strip()[:6]
    if not student_no or not last6:
        return _status_page(doc, error="请填写学号和身份证号后六位", student_no=student_no,
                            status=400)
    try:
        token, _actor = identity.prove_identity(runtime(), doc.code, student_no, last6,
                                                ip=client_ip())
    except LockedError as e:
        page, status = _status_page(doc, error=e.message, locked=True, status=429)
        headers = {"Retry-After": str(e.retry_after)} if e.retry_after is not None else {}
        return page, status, headers
    except AuthError as e:
        return _status_page(doc, error=e.message, student_no=student_no, status=401)
    session["student_token"] = token
    return redirect(url_for("sign.sign_page", code=doc.code))


def _sign_page(doc: Document, actor: StudentActor, *, error: str | None = None,
               status: int = 200) -> Any:
    rt = runtime()
    try:
        page_total, preview_error = previews.page_count(rt, doc.current_sha256), None
    except DocServiceError as e:
        page_total, preview_error = 0, e.message
    step = doc.current_step
    # The batch part's field-by-field correction request.
    correction_link = url_for("batch.correction_form", code=doc.code)
    return render_template(
        "sign/sign.html", correction_link=correction_link, doc=doc,
        form=load_form(doc.form_id), data=document_data(doc, actor),
        actor=actor, step=step, can_decide=_student_turn(doc), page_total=page_total,
        preview_error=preview_error, error=error, step_states=STEP_STATES), status


@bp.get("/d/<code>/sign")
def sign_page(code: str) -> Any:
    doc = _by_code(code)
    try:
        actor = _verified_student(doc)
    except AuthError as e:
        flash(e.message, "alert")
        return redirect(url_for("sign.status", code=doc.code))
    doc = documents.get_document(runtime(), actor, doc.id, ip=client_ip())
    return _sign_page(doc, actor)


@bp.post("/d/<code>/sign")
def sign(code: str) -> Any:
    doc = _by_code(code)
    try:
        actor = _verified_student(doc)
    except AuthError as e:
        flash(e.message, "alert")
        return redirect(url_for("sign.status", code=doc.code))
    decision = request.form.get("decision", "")
    comment = (request.form.get("comment") or "")[:600]
    if decision not in ("approve", "reject"):
        return _sign_page(doc, actor, error="请选择同意或退回", status=400)
    try:
        result = decisions.record_decision(runtime(), actor, doc.id, decision, comment,
                                           ip=client_ip())
    except DocServiceError as e:
        # Signing twice, out of turn, a missing reason: the services say why.
        doc = documents.get_document(runtime(), actor, doc.id, log=False)
        return _sign_page(doc, actor, error=explain(e), status=e.http_status)
    return render_template("sign/done.html", doc=result.document,
                           form=load_form(result.document.form_id), decision=decision)


@bp.get("/d/<code>/pages/<int:n>.png")
def page_image(code: str, n: int) -> Response:
    doc = _by_code(code)
    actor = _verified_student(doc)
    doc = documents.get_document(runtime(), actor, doc.id, log=False)
    png = previews.page_png(runtime(), doc.current_sha256, n)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, no-store"})
