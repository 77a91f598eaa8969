"""The Flask application factory: configuration, the runtime, extensions and blueprints.

The runtime comes from the composition root (``bootstrap.build_runtime``) unless a test
hands one in; every blueprint is registered here, by name.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from doc_service.bootstrap import build_runtime
from doc_service.config import instance_path, instance_secret
from doc_service.forms.spec import FieldSpec, FieldType
from doc_service.rendering.context import cn_date, cn_month
from doc_service.services.runtime import Runtime
from doc_service.web import (
    api,
    archive_pages,
    auth,
    batch_pages,
    errors,
    pages,
    request_body,
    security,
    sign,
    staff,
)

BLUEPRINTS = (pages.bp, api.bp, staff.bp, sign.bp, batch_pages.bp, archive_pages.bp)
"""Public pages, the JSON API, staff pages, phone signing pages (``/d/<code>``), batch
pages, archive and public verification pages; ``auth`` registers its own."""


def create_app(test_config: dict[str, Any] | None = None,
               runtime: Runtime | None = None) -> Flask:
    instance = instance_path()
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("DOC_SERVICE_SECRET_KEY") or instance_secret(instance),
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("DOC_SERVICE_SECURE_COOKIES", "0") == "1",
        SESSION_COOKIE_NAME="docsvc_session",
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        WTF_CSRF_ENABLED=True,
        RATELIMIT_ENABLED=True,
    )
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.update(test_config)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    if runtime is None:
        runtime = build_runtime(instance, secret_key=app.config["SECRET_KEY"], migrate=True)
    runtime.secret_key = app.config["SECRET_KEY"]
    app.extensions["runtime"] = runtime
    app.extensions["institution"] = runtime.institution

    app.jinja_env.filters["paper"] = paper_value
    security.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.wsgi_app = request_body.BoundedBody(  # type: ignore[method-assign]
        app.wsgi_app, lambda: app.config["MAX_CONTENT_LENGTH"])
    return app


def paper_value(value: Any, field: FieldSpec) -> str:
    """A field's value as the paper form prints it (2007年5月16日, 4年, 甲、乙)."""
    if value in (None, "", []):
        return "—"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    text = str(value)
    try:
        if field.type is FieldType.DATE and "*" not in text:
            return cn_date(text)
        if field.type is FieldType.MONTH and "*" not in text:
            return cn_month(text)
    except ValueError:
        return text
    return f"{text}{field.unit}"
