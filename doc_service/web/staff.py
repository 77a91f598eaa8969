"""Staff pages: inbox, document list, issuing, document details, decisions and downloads.

Each view parses the request, calls one use case from ``doc_service.services``
(which authorizes the object and writes the audit log) and renders a Chinese
page. Validation problems on form pages re-show the form with each field's
message next to it; other errors go to the one error mapping in ``errors.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from doc_service.errors import DocServiceError, PermissionDeniedError, ValidationError
from doc_service.forms.spec import FieldType, FormSpec, all_forms, load_form
from doc_service.services import decisions, documents, identity, previews, students
from doc_service.services.access import CAN_ISSUE, Staff, can_unlock_identity
from doc_service.services.inbox import inbox
from doc_service.storage.models import STATUS_LABELS, DocStatus, Document, Role, StepState
from doc_service.web.auth import current_staff, runtime, staff_required
from doc_service.web.security import client_ip
from doc_service.web.serialize import document_data, steps_json
from signing.roles import ROLE_LABELS

bp = Blueprint("staff", __name__)

PER_PAGE = 20
BATCH_ROLES = {Role.CLASS_TEACHER, Role.COLLEGE_HEAD}
"""Who gets checkboxes and 批量同意 (DOMAIN.md: they sign whole classes at once)."""
STEP_STATE_LABELS = {StepState.WAITING: "未到", StepState.CURRENT: "待办理",
                     StepState.DONE: "已签", StepState.REJECTED: "已退回",
                     StepState.CANCELLED: "已取消"}
DECISION_LABELS = {"approve": "同意", "acknowledge": "已签收", "seal": "同意并盖章",
                   "reject": "退回"}
FORM_TITLES = {f.id: f.title for f in all_forms()}


def explain(e: DocServiceError) -> str:
    """A page-sized sentence for an error: a validation error's own field messages."""
    if isinstance(e, ValidationError) and e.errors:
        return "；".join(fe.message for fe in e.errors)
    return e.message


def _me() -> Staff:
    actor = current_staff()
    assert actor is not None  # staff_required ran first
    return actor


def _doc_id(raw: str) -> str:
    return raw[:40]


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"STATUS_LABELS": STATUS_LABELS, "ROLE_LABELS": ROLE_LABELS,
            "STEP_STATE_LABELS": STEP_STATE_LABELS, "DECISION_LABELS": DECISION_LABELS,
            "FORM_TITLES": FORM_TITLES, "today": dt.date.today()}


BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")


@bp.app_template_filter("beijing")
def beijing_time(value: dt.datetime | str | None) -> str:
    """A stored UTC time (naive, or ISO text with Z) as Beijing wall-clock time."""
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.removesuffix("Z"))
    return value.replace(tzinfo=dt.UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


# ---- inbox ------------------------------------------------------------------------------

@bp.get("/inbox")
@staff_required
def inbox_page() -> str:
    user = _me().user
    return render_template("staff/inbox.html", items=inbox(runtime(), user),
                           can_batch=user.role in BATCH_ROLES, results=None)


@bp.post("/inbox/approve")
@staff_required
def batch_approve() -> Any:
    me = _me()
    ids = [_doc_id(i) for i in request.form.getlist("doc_id") if i]
    if not ids:
        flash("请先勾选要同意的文书", "alert")
        return redirect(url_for("staff.inbox_page"))
    outcomes = decisions.approve_many(runtime(), me, ids, ip=client_ip())
    results = []
    for o in outcomes:
        # Only documents this user just signed are named; a failed id may be anything typed.
        doc = documents.load_document(runtime(), o.document_id) if o.ok else None
        results.append({"id": o.document_id, "ok": o.ok, "message": o.message, "doc": doc})
    return render_template("staff/inbox.html", items=inbox(runtime(), me.user),
                           can_batch=me.user.role in BATCH_ROLES, results=results)


# ---- document list ----------------------------------------------------------------------

@bp.get("/documents")
@staff_required
def documents_page() -> str:
    try:
        page = max(1, min(10_000, int(request.args.get("page", "1"))))
    except ValueError:
        page = 1
    filters = {"form_id": (request.args.get("form_id") or "")[:40],
               "student_no": (request.args.get("student_no") or "").strip()[:20],
               "status": (request.args.get("status") or "")[:20]}
    docs, total = documents.list_documents(
        runtime(), _me(), form_id=filters["form_id"] or None,
        student_no=filters["student_no"] or None, status=filters["status"] or None,
        page=page, per_page=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return render_template("staff/documents.html", docs=docs, total=total, page=page,
                           pages=pages, filters=filters, forms=all_forms(),
                           can_issue=_me().user.role in CAN_ISSUE)


# ---- issuing ----------------------------------------------------------------------------

def _posted_values(form: FormSpec, keys: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in form.fields:
        if f.key not in keys:
            continue
        if f.type is FieldType.MULTI:
            values[f.key] = [v for v in request.form.getlist(f.key) if v]
        else:
            values[f.key] = request.form.get(f.key, "")
    return values


def _field_errors(e: ValidationError) -> tuple[dict[str, list[str]], list[str]]:
    by_key: dict[str, list[str]] = {}
    for fe in e.errors:
        by_key.setdefault(fe.key, []).append(fe.message)
    return by_key, by_key.pop("*", [])


@bp.route("/documents/new", methods=["GET", "POST"])
@staff_required
def new_document() -> Any:
    me = _me()
    if me.user.role not in CAN_ISSUE:
        raise PermissionDeniedError("只有学院学籍秘书或教务处学籍科可以出具文书")
    args = request.form if request.method == "POST" else request.args
    form_id = (args.get("form_id") or "")[:40]
    if not form_id:
        return render_template("staff/new_pick_form.html", forms=all_forms())
    form = load_form(form_id)
    student_no = (args.get("student_no") or "").strip()[:20]
    manual = args.get("manual") == "1"
    if not student_no and not manual:
        q = (request.args.get("q") or "").strip()[:20]
        return render_template("staff/new_pick_student.html", form=form, q=q,
                               students=students.find_students(runtime(), me, q))
    student = students.roster_student(runtime(), me, student_no) if student_no else None
    if student_no and student is None:
        flash(f"花名册中没有学号为 {student_no} 的学生（或不在您的管理范围内）", "alert")
        return redirect(url_for("staff.new_document", form_id=form.id))
    roster = ({k: v for k, v in student.form_data().items() if k in form.keys}
              if student else {})
    shown = {k for k in form.keys if k not in roster}
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    if request.method == "POST":
        # A roster value that failed validation was re-shown as an input: keep it shown.
        shown |= set(request.form.getlist("_shown")) & set(form.keys)
        values = _posted_values(form, shown)
        try:
            doc = documents.issue_document(runtime(), me, form.id, values,
                                           student_no=student_no or None, ip=client_ip())
        except ValidationError as e:
            errors, general = _field_errors(e)
            shown |= {k for k in errors if k in form.keys}
            general += [f"{k}：{'；'.join(m)}" for k, m in errors.items() if k not in form.keys]
        except DocServiceError as e:
            general = [e.message]
        else:
            flash(f"已出具 {form.title}，文号 {doc.number}", "notice")
            return redirect(url_for("staff.document_page", doc_id=doc.id))
    fields = [f for f in form.fields if f.key in shown]
    roster_fields = [f for f in form.fields if f.key in roster and f.key not in shown]
    status = 422 if general or errors else 200
    return render_template("staff/new_fill.html", form=form, student=student, roster=roster,
                           roster_fields=roster_fields, fields=fields, values=values,
                           errors=errors, general=general, manual=manual), status


# ---- one document -----------------------------------------------------------------------

def _render_document(doc: Document, *, error: str | None = None, status: int = 200) -> Any:
    me = _me()
    rt = runtime()
    form = load_form(doc.form_id)
    data = document_data(doc, me)
    try:
        page_total = previews.page_count(rt, doc.current_sha256)
        preview_error = None
    except DocServiceError as e:
        page_total, preview_error = 0, e.message
    return render_template(
        "staff/document.html", doc=doc, form=form, data=data, steps=steps_json(doc),
        current=doc.current_step, versions=documents.history(rt, me, doc),
        page_total=page_total, preview_error=preview_error, error=error,
        can_sign=decisions.signable_step(rt, me, doc) is not None,
        can_unlock=can_unlock_identity(me.user, doc),
        can_revise=(doc.status == DocStatus.REJECTED
                    and (me.user.id == doc.issuer_id or me.user.role == Role.REGISTRAR)),
        can_chsi=(me.user.role == Role.REGISTRAR and doc.chsi_due_on is not None
                  and doc.chsi_marked_at is None),
        can_docx=me.user.role in (Role.ISSUER, Role.REGISTRAR)), status


@bp.get("/documents/<doc_id>")
@staff_required
def document_page(doc_id: str) -> Any:
    doc = documents.get_document(runtime(), _me(), _doc_id(doc_id), ip=client_ip())
    return _render_document(doc)


@bp.post("/documents/<doc_id>/decision")
@staff_required
def decide(doc_id: str) -> Any:
    me = _me()
    decision = request.form.get("decision", "")
    comment = (request.form.get("comment") or "")[:600]
    if decision not in ("approve", "reject"):
        abort(400)
    try:
        result = decisions.record_decision(runtime(), me, _doc_id(doc_id), decision, comment,
                                           ip=client_ip())
    except DocServiceError as e:
        # Out of turn, a race lost, a missing reason: say so on the page itself
        # (if the document is not visible at all, get_document answers 404).
        doc = documents.get_document(runtime(), me, _doc_id(doc_id), log=False)
        return _render_document(doc, error=explain(e), status=e.http_status)
    if decision == "reject":
        flash("已退回，出具人将收到退回理由", "notice")
    else:
        flash("已签批并盖章，文书已办结" if result.sealed else "已签批，文书已转下一环节",
              "notice")
    return redirect(url_for("staff.document_page", doc_id=result.document.id))


@bp.route("/documents/<doc_id>/revise", methods=["GET", "POST"])
@staff_required
def revise(doc_id: str) -> Any:
    me = _me()
    if me.user.role not in CAN_ISSUE:
        raise PermissionDeniedError("只有原出具人或教务处学籍科可以修改重出")
    doc = documents.get_document(runtime(), me, _doc_id(doc_id), ip=client_ip())
    form = load_form(doc.form_id)
    values: dict[str, Any] = document_data(doc, me)
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    if request.method == "POST":
        values = _posted_values(form, set(form.keys))
        try:
            new = documents.revise_document(runtime(), me, doc.id, values, ip=client_ip())
        except ValidationError as e:
            errors, general = _field_errors(e)
        except DocServiceError as e:
            general = [e.message]
        else:
            flash(f"已修改并重新出具（第{new.version}版），签批流程重新开始", "notice")
            return redirect(url_for("staff.document_page", doc_id=new.id))
    status = 422 if general or errors else 200
    return render_template("staff/revise.html", doc=doc, form=form, fields=form.fields,
                           values=values, errors=errors, general=general), status


@bp.post("/documents/<doc_id>/chsi")
@staff_required
def chsi_done(doc_id: str) -> Any:
    doc = decisions.mark_chsi_done(runtime(), _me(), _doc_id(doc_id), ip=client_ip())
    flash("已记录：该异动已在学信网完成标注", "notice")
    return redirect(url_for("staff.document_page", doc_id=doc.id))


@bp.post("/documents/<doc_id>/identity-unlock")
@staff_required
def identity_unlock(doc_id: str) -> Any:
    """The issuer or the registrar lets a locked-out student try the QR code again."""
    doc = documents.get_document(runtime(), _me(), _doc_id(doc_id), log=False)
    identity.unlock(runtime(), _me(), doc.id, ip=client_ip())
    flash("已解除该文书二维码的身份验证锁定，学生可重新验证", "notice")
    return redirect(url_for("staff.document_page", doc_id=doc.id))


# ---- files ------------------------------------------------------------------------------

@bp.get("/documents/<doc_id>/pdf")
@staff_required
def download_pdf(doc_id: str) -> Response:
    doc_id = _doc_id(doc_id)
    data = documents.pdf_bytes(runtime(), _me(), doc_id, ip=client_ip())
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{doc_id}.pdf"',
                             "Cache-Control": "no-store"})


@bp.get("/documents/<doc_id>/docx")
@staff_required
def download_docx(doc_id: str) -> Response:
    doc_id = _doc_id(doc_id)
    data = documents.docx_bytes(runtime(), _me(), doc_id, ip=client_ip())
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument."
                    "wordprocessingml.document",
                    headers={"Content-Disposition": f'attachment; filename="{doc_id}.docx"',
                             "Cache-Control": "no-store"})


@bp.get("/documents/<doc_id>/pages/<int:n>.png")
@staff_required
def page_image(doc_id: str, n: int) -> Response:
    doc = documents.get_document(runtime(), _me(), _doc_id(doc_id), log=False)
    png = previews.page_png(runtime(), doc.current_sha256, n)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, no-store"})
