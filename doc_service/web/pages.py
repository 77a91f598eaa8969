"""Public pages: the form catalogue (signed-in staff go to their inbox) and a health check
(the database and the file stores, 503 during an outage)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, redirect, render_template, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from doc_service.forms.spec import all_forms
from doc_service.services.health import check_health
from doc_service.web.auth import current_staff, runtime

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str | BaseResponse:
    if current_staff() is not None:
        return redirect(url_for("staff.inbox_page"))
    return render_template("index.html", forms=all_forms())


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database answers and the file stores take writes, else 503 and why."""
    health = check_health(runtime())
    if health.ok:
        return jsonify(status="ok"), 200
    return jsonify(status="unavailable", problems=list(health.problems)), 503
