"""Public pages: the form catalogue and a health check (the full service grows here)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from doc_service.forms.spec import all_forms

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    return render_template("index.html", forms=all_forms(),
                           school=current_app.extensions["institution"])


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")


@bp.get("/api/v1/forms")
def forms_api():  # type: ignore[no-untyped-def]
    return jsonify([f.to_dict() for f in all_forms()])
