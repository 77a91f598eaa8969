"""The archive office's pages, the public verification page, and their API.

Archivists (and the registrar, and administrators) search the archive and
open records with their verification report; a college's staff see only their
college's records. Every retrieval and download asks why and is logged. The
fixity trail shows the recorded fixity runs, unfinished ones (start recorded,
end never) marked as such (a college's staff see only their college's failures)
and, on a record's page, when its files were last checked and which later runs
never finished.
The public page (``/v/<code>``, also linked from the QR landing page) shows
what a holder of a paper copy may know, and checks an uploaded PDF.

The archive's words (file roles, fixity problems, who ran a run) come from
:mod:`archive.wording`, given to the templates as filters when the blueprint is
registered, so the pages and the command line name things alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState

from archive import wording
from archive.errors import RecordNotFoundError
from archive.fixity import fixity_failures, fixity_run, fixity_runs, record_fixity
from archive.model import AccessAction, ArchiveRecord
from archive.service import access_log, get_record, log_access, search
from archive.verification import verify_record
from doc_service.errors import (
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from doc_service.forms.spec import all_forms
from doc_service.services import archiving, verification
from doc_service.services.access import SCHOOL_WIDE, Staff
from doc_service.services.documents import document_by_code
from doc_service.storage.models import ROLE_LABELS, Role, User
from doc_service.web.auth import api_actor, current_staff, runtime, staff_required
from doc_service.web.security import client_ip, csrf_exempt, rate_limited

bp = Blueprint("archive_pages", __name__)

ARCHIVE_ROLES = {Role.ARCHIVIST, Role.REGISTRAR, Role.ADMIN, Role.ISSUER, Role.COLLEGE_HEAD}
DECISION_LABELS = {"approve": "同意", "seal": "盖章", "acknowledge": "签收", "reject": "退回",
                   "void": "作废"}


@bp.record_once
def _archive_wording(state: BlueprintSetupState) -> None:
    """The archive's Chinese words for the templates, from their one place."""
    env = state.app.jinja_env
    env.filters["archive_file_role"] = wording.file_role
    env.filters["archive_fixity_problem"] = wording.fixity_problem
    env.filters["archive_runner"] = wording.runner
    env.globals["ARCHIVE_UNFINISHED"] = wording.UNFINISHED


def _archive_user(staff: Staff | None) -> User:
    if staff is None or staff.user.role not in ARCHIVE_ROLES:
        raise PermissionDeniedError("只有档案室、教务处学籍科和学院学籍人员可以查档")
    return staff.user


def _college_scope(user: User) -> str | None:
    """A college's staff search only their own college's records."""
    if user.role in SCHOOL_WIDE:
        return None
    return user.college.name if user.college else "—"


def _date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadRequestError(f"{name} 不是有效日期（格式 2026-09-01）") from None


def _search(user: User, args: Any) -> list[ArchiveRecord]:
    scope = _college_scope(user)
    college = args.get("college") or None
    if scope is not None:
        college = scope
    return search(runtime().engine, student_no=args.get("student_no") or None,
                  name=args.get("name") or None, number=args.get("number") or None,
                  form_id=args.get("form_id") or None, college=college,
                  date_from=_date(args.get("from"), "from"), date_to=_date(args.get("to"), "to"),
                  state=args.get("state") or None, limit=100)


def _record(user: User, record_id: str) -> ArchiveRecord:
    try:
        record = get_record(runtime().engine, record_id[:40])
    except RecordNotFoundError:
        raise NotFoundError("没有找到该档案记录") from None
    scope = _college_scope(user)
    if scope is not None and record.college != scope:
        raise NotFoundError("没有找到该档案记录")
    return record


def _why() -> str:
    why = (request.values.get("why") or "").strip()
    if not why:
        raise BadRequestError("请填写查档事由")
    return why[:200]


def _log(user: User, action: AccessAction, why: str, record_id: str | None) -> None:
    log_access(runtime().engine, f"{user.username}（{user.name}）", action, why, record_id)


def record_json(record: ArchiveRecord) -> dict[str, Any]:
    return {
        "id": record.id, "kind": str(record.kind), "archival_ref": record.archival_ref,
        "document_id": record.document_id, "version": record.version,
        "form_id": record.form_id, "form_title": record.form_title, "number": record.number,
        "student_no": record.student_no, "student_name": record.student_name,
        "college": record.college, "issued_on": record.issued_on.isoformat(),
        "sealed_at": record.sealed_at.isoformat(), "retention": record.retention.label,
        "sha256": record.sha256, "sm3": record.sm3, "state": str(record.state),
        "signers": [s.to_dict() for s in record.signers], "voided_by": record.voided_by,
        "points_to": record.points_to, "reason": record.reason,
    }


def _report(record: ArchiveRecord) -> dict[str, Any]:
    """Verification of an archived record: fixity of its files, its signatures and chain."""
    result = verify_record(runtime().engine, archiving.archive_store(runtime()), record.id,
                           runtime().trust_roots)
    empty: dict[str, list[Any]] = {"signers": [], "failures": []}
    return {"ok": result.ok,
            "fixity": [{"role": str(f.role), "sha256": f.sha256, "ok": f.ok}
                       for f in result.fixity],
            "signatures": result.signatures.to_dict() if result.signatures else empty}


# ------------------------------------------------------------------ archive pages

@bp.get("/archive")
@staff_required
def search_page() -> str:
    user = _archive_user(current_staff())
    searched = any(request.args.get(k) for k in
                   ("student_no", "name", "number", "form_id", "college", "from", "to", "state"))
    results = _search(user, request.args) if searched else []
    if searched:
        _log(user, AccessAction.RETRIEVE, request.args.get("why") or "档案检索", None)
    return render_template("archive/search.html", results=results, forms=all_forms(),
                           args=request.args, searched=searched,
                           scope=_college_scope(user),
                           runs=fixity_runs(runtime().engine, limit=5))


@bp.route("/archive/records/<record_id>", methods=["GET", "POST"])
@staff_required
def record_page(record_id: str) -> Any:
    user = _archive_user(current_staff())
    record = _record(user, record_id)
    why = (request.values.get("why") or "").strip()[:200]
    if not why:
        return render_template("archive/why.html", record=record, action="查看")
    _log(user, AccessAction.RETRIEVE, why, record.id)
    return render_template("archive/record.html", record=record, report=_report(record),
                           why=why, role_labels=ROLE_LABELS, decision_labels=DECISION_LABELS,
                           trail=record_fixity(runtime().engine, record.id))


@bp.get("/archive/records/<record_id>/pdf")
@staff_required
def record_pdf(record_id: str) -> Response:
    user = _archive_user(current_staff())
    record = _record(user, record_id)
    why = _why()
    _log(user, AccessAction.DOWNLOAD, why, record.id)
    data = archiving.archive_store(runtime()).get(record.sha256)
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{record.archival_ref}.pdf"'})


@bp.get("/archive/fixity")
@staff_required
def fixity_runs_page() -> str:
    _archive_user(current_staff())
    return render_template("archive/fixity.html", runs=fixity_runs(runtime().engine, limit=100))


@bp.get("/archive/fixity/<run_id>")
@staff_required
def fixity_run_page(run_id: str) -> str:
    user = _archive_user(current_staff())
    run = fixity_run(runtime().engine, run_id[:40])
    if run is None:
        raise NotFoundError("没有找到该固定性检查记录")
    scope = _college_scope(user)
    return render_template("archive/fixity_run.html", run=run, scope=scope,
                           failures=fixity_failures(runtime().engine, run.id, college=scope))


@bp.get("/archive/log")
@staff_required
def access_log_page() -> str:
    staff = current_staff()
    if staff is None or staff.user.role != Role.ADMIN:
        raise PermissionDeniedError("只有系统管理员可以查看查档日志")
    return render_template("archive/log.html", entries=access_log(runtime().engine, limit=500))


@bp.post("/archive/records/<record_id>/void")
@staff_required
def void_page(record_id: str) -> Any:
    staff = current_staff()
    assert staff is not None
    record = _record(_archive_user(staff), record_id)
    reason = request.form.get("reason", "")
    replaced_by = None
    code = (request.form.get("replaced_by") or "").strip()
    if code:
        replaced_by = document_by_code(runtime(), code[:16]).id
    doc = archiving.void_document(runtime(), staff, record.document_id, reason,
                                  replaced_by=replaced_by, ip=client_ip())
    return redirect(url_for("archive_pages.public_page", code=doc.code))


# ------------------------------------------------------------------ public verification

@bp.route("/v/<code>", methods=["GET", "POST"])
@rate_limited("verify", limit=60, per_seconds=60)
def public_page(code: str) -> Any:
    view = verification.public_view(runtime(), code)
    result = None
    if request.method == "POST":
        upload = request.files.get("pdf")
        if upload is None or not upload.filename:
            result = {"verdict": "unknown", "message": "请选择要核验的 PDF 文件"}
        else:
            result = verification.verify_upload(runtime(), upload.read(), code).to_dict()
    return render_template("archive/public.html", view=view, result=result)


@bp.get("/api/v1/verify/<code>")
@rate_limited("verify", limit=120, per_seconds=60)
def api_verify_code(code: str) -> Response:
    return jsonify(verification.public_view(runtime(), code))


@bp.post("/api/v1/verify")
@csrf_exempt
@rate_limited("verify", limit=30, per_seconds=60)
def api_verify_upload() -> Response:
    upload = request.files.get("pdf")
    data = upload.read() if upload is not None else request.get_data()
    if not data:
        raise BadRequestError("请上传 PDF（multipart 字段 pdf，或请求体为 application/pdf）")
    code = request.args.get("code") or request.form.get("code") or None
    return jsonify(verification.verify_upload(runtime(), data, code).to_dict())


@bp.get("/api/v1/archive")
def api_archive_search() -> Response:
    actor = api_actor()
    if not isinstance(actor, Staff):
        raise PermissionDeniedError("此操作需要教职工账号")
    user = _archive_user(actor)
    results = _search(user, request.args)
    _log(user, AccessAction.RETRIEVE, request.args.get("why") or "API 检索", None)
    return jsonify({"items": [record_json(r) for r in results]})


@bp.get("/api/v1/archive/<record_id>")
def api_archive_record(record_id: str) -> Response:
    actor = api_actor()
    if not isinstance(actor, Staff):
        raise PermissionDeniedError("此操作需要教职工账号")
    user = _archive_user(actor)
    record = _record(user, record_id)
    _log(user, AccessAction.RETRIEVE, _why(), record.id)
    return jsonify({**record_json(record), "verification": _report(record)})


