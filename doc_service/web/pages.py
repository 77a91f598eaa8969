"""Public pages: the form catalogue and a health check (the full service grows here)."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, url_for

from doc_service.forms.spec import all_forms
from doc_service.web.auth import current_staff

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    if current_staff() is not None:
        return redirect(url_for("staff.inbox_page"))
    return render_template("index.html", forms=all_forms())


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")


