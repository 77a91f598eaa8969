"""Pages for a whole grade: roster upload, batch issuance with progress, the class overview
(全班同意, print bundle) and corrections (the student's flag form, the registrar's queue).

Each view parses the request, calls one use case and renders. An uploaded roster waits in
the instance folder (owner-only) between the report and the "导入有效行" confirmation, so
the confirmation imports exactly the file that was checked.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from doc_service.errors import AuthError, DocServiceError, ValidationError
from doc_service.forms.spec import all_forms, load_form
from doc_service.services import (
    batch,
    batch_queries,
    bundles,
    corrections,
    documents,
    identity,
    roster_import,
)
from doc_service.services.access import Staff
from doc_service.storage.batch_models import CORRECTION_STATUS_LABELS, JOB_STATUS_LABELS
from doc_service.web.auth import current_staff, runtime, staff_required
from doc_service.web.security import rate_limited

bp = Blueprint("batch", __name__, url_prefix="")
DEFAULT_FORM = "verification_checklist"


def _me() -> Staff:
    staff = current_staff()
    assert staff is not None  # staff_required ran
    return staff


# --- roster upload ---------------------------------------------------------------------

def _upload_dir() -> Path:
    path = runtime().instance / "uploads"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


@bp.get("/batch/")
@staff_required
def home() -> Any:
    jobs = batch_queries.recent_batches(runtime(), _me())
    return render_template("batch/home.html", jobs=jobs, labels=JOB_STATUS_LABELS,
                           forms={f.id: f for f in all_forms()})


@bp.route("/batch/roster", methods=["GET", "POST"])
@staff_required
def roster_upload() -> Any:
    if request.method == "GET":
        return render_template("batch/roster_upload.html")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择名册文件（XLSX 或 CSV）")
        return redirect(url_for("batch.roster_upload"))
    data = upload.read()
    result = roster_import.import_roster(runtime(), _me(), data, upload.filename, commit=False)
    token = None
    if result.report.fatal is None and result.report.valid_count:
        token = secrets.token_urlsafe(16)
        fd = os.open(_upload_dir() / token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        session["roster_upload"] = {"token": token, "filename": upload.filename[:100]}
    return render_template("batch/roster_report.html", result=result, token=token,
                           filename=upload.filename)


@bp.post("/batch/roster/confirm")
@staff_required
def roster_confirm() -> Any:
    pending = session.pop("roster_upload", None)
    token = request.form.get("token", "")
    if not pending or not secrets.compare_digest(pending["token"], token):
        flash("上传的名册已失效，请重新上传")
        return redirect(url_for("batch.roster_upload"))
    path = _upload_dir() / pending["token"]
    try:
        if request.form.get("action") != "import":
            flash("已取消，未导入任何数据")
            return redirect(url_for("batch.roster_upload"))
        result = roster_import.import_roster(runtime(), _me(), path.read_bytes(),
                                             pending["filename"], commit=True,
                                             all_or_nothing=request.form.get("all") == "1")
    finally:
        path.unlink(missing_ok=True)
    return render_template("batch/roster_report.html", result=result, token=None,
                           filename=pending["filename"])


# --- batch issuance --------------------------------------------------------------------

@bp.route("/batch/new", methods=["GET", "POST"])
@staff_required
def new_batch() -> Any:
    me = _me()
    form = load_form(request.values.get("form_id") or DEFAULT_FORM)
    rt = runtime()
    targets = batch_queries.batch_targets(rt, me)
    extra_fields = batch_queries.extra_fields(form)
    errors: dict[str, str] = {}
    error = None
    if request.method == "POST":
        grade = request.form.get("grade", "").strip()
        extra = {f.key: request.form.get(f.key, "").strip() for f in extra_fields}
        extra = {k: v for k, v in extra.items() if v}
        try:
            progress = batch.start_batch(
                rt, me, form.id, int(grade) if grade.isdigit() else None,
                request.form.getlist("college"), request.form.getlist("class_no"), extra)
            return redirect(url_for("batch.job_page", job_id=progress.job_id))
        except ValidationError as e:
            errors = {fe.key: fe.message for fe in e.errors}
            error = e.message
        except DocServiceError as e:
            error = e.message
    return render_template("batch/new.html", form=form, forms=batch_queries.batch_forms(),
                           extra_fields=extra_fields, classes=targets.classes,
                           colleges=targets.colleges, errors=errors, error=error,
                           values=request.form), (422 if error else 200)


@bp.get("/batch/jobs/<job_id>")
@staff_required
def job_page(job_id: str) -> Any:
    progress = batch.batch_progress(runtime(), _me(), job_id[:32])
    return render_template("batch/job.html", p=progress, form=load_form(progress.form_id),
                           labels=JOB_STATUS_LABELS)


@bp.get("/batch/jobs/<job_id>/progress.json")
@staff_required
def job_progress(job_id: str) -> Any:
    return jsonify(batch.batch_progress(runtime(), _me(), job_id[:32]).to_dict())


@bp.post("/batch/jobs/<job_id>/cancel")
@staff_required
def job_cancel(job_id: str) -> Any:
    batch.cancel_batch(runtime(), _me(), job_id[:32])
    flash("已取消：尚未出具的学生不再出具，已出具的文书保留")
    return redirect(url_for("batch.job_page", job_id=job_id))


@bp.post("/batch/jobs/<job_id>/resume")
@staff_required
def job_resume(job_id: str) -> Any:
    batch.resume_batch(runtime(), _me(), job_id[:32])
    return redirect(url_for("batch.job_page", job_id=job_id))


# --- classes ---------------------------------------------------------------------------

@bp.get("/batch/classes")
@staff_required
def classes_page() -> Any:
    form = load_form(request.args.get("form_id") or DEFAULT_FORM)
    overview = bundles.class_overview(runtime(), _me(), form.id)
    return render_template("batch/classes.html", form=form, forms=batch_queries.batch_forms(),
                           overview=overview)


@bp.post("/batch/classes/<int:class_id>/approve")
@staff_required
def class_approve(class_id: int) -> Any:
    form_id = load_form(request.form.get("form_id") or DEFAULT_FORM).id
    outcomes = bundles.approve_class(runtime(), _me(), class_id, form_id)
    ok = sum(1 for o in outcomes if o.ok)
    flash(f"全班同意：已签批{ok}份" + (f"，{len(outcomes) - ok}份未成功：" +
                                  "；".join(sorted({o.message for o in outcomes if not o.ok}))
                                  if ok < len(outcomes) else ""))
    return redirect(url_for("batch.classes_page", form_id=form_id))


@bp.get("/batch/classes/<int:class_id>/bundle.pdf")
@staff_required
def class_bundle(class_id: int) -> Response:
    form_id = load_form(request.args.get("form_id") or DEFAULT_FORM).id
    pdf = bundles.class_bundle(runtime(), _me(), class_id, form_id)
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="class-{class_id}-{form_id}.pdf"',
        "Cache-Control": "no-store"})


# --- corrections -----------------------------------------------------------------------

@bp.get("/batch/corrections")
@staff_required
def corrections_page() -> Any:
    status = request.args.get("status", "open")
    queue = batch_queries.correction_queue(runtime(), _me(), status or None)
    return render_template("batch/corrections.html", items=queue.items, status=status,
                           labels=CORRECTION_STATUS_LABELS, can_decide=queue.can_decide)


@bp.post("/batch/corrections/<int:request_id>/accept")
@staff_required
def correction_accept(request_id: int) -> Any:
    done = corrections.accept_correction(runtime(), _me(), request_id,
                                         request.form.get("remark", ""))
    flash("已按更正重新出具文书，签批流程重新开始")
    return redirect(url_for("batch.corrections_page", status="open",
                            _anchor=f"r{done.id}"))


@bp.post("/batch/corrections/<int:request_id>/decline")
@staff_required
def correction_decline(request_id: int) -> Any:
    corrections.decline_correction(runtime(), _me(), request_id, request.form.get("reason", ""))
    flash("已答复学生：不予更正")
    return redirect(url_for("batch.corrections_page", status="open"))


@bp.route("/d/<code>/correction", methods=["GET", "POST"])
@rate_limited("correction", limit=30, per_seconds=60)
def correction_form(code: str) -> Any:
    """The student's flag form: tick the wrong fields and type what is right."""
    rt = runtime()
    doc = documents.document_by_code(rt, code[:16])
    token = session.get("student_token")
    try:
        if not token:
            raise AuthError("请先验证身份")
        actor = identity.actor_from_token(rt, str(token), doc.id)
    except AuthError as e:
        flash(f"{e.message}：请先在文书页面输入学号和身份证号后六位")
        return redirect(f"/d/{doc.code}")
    form = load_form(doc.form_id)
    fields = corrections.correctable_fields(doc.form_id)
    errors: dict[str, str] = {}
    error = None
    if request.method == "POST":
        changes = {f.key: request.form.get(f.key, "").strip() for f in fields
                   if request.form.get(f"wrong_{f.key}")}
        try:
            corrections.flag_correction(rt, actor, doc.id, changes, request.form.get("note", ""))
            flash("更正申请已提交，教务处学籍科处理后会在此页显示结果")
            return redirect(url_for("batch.correction_form", code=doc.code))
        except ValidationError as e:
            errors = {fe.key: fe.message for fe in e.errors}
            error = e.message
        except DocServiceError as e:
            error = e.message
    history = corrections.corrections_for(rt, actor, doc.id)
    return render_template("batch/correction.html", doc=doc, form=form, fields=fields,
                           errors=errors, error=error, history=history,
                           labels=CORRECTION_STATUS_LABELS,
                           values=request.form), (422 if error else 200)
