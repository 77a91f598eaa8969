"""The Flask application factory: the one place that wires every part together."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from doc_service.config import instance_path


def create_app(test_config: dict[str, Any] | None = None, runtime: Any = None) -> Flask:
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
        from doc_service.migrations import upgrade
        from doc_service.services.runtime import open_runtime

        runtime = open_runtime(instance, secret_key=app.config["SECRET_KEY"])
        upgrade(runtime.engine)
    runtime.secret_key = app.config["SECRET_KEY"]
    app.extensions["runtime"] = runtime
    app.extensions["institution"] = runtime.institution

    from doc_service.web import api, auth, errors, pages, security

    app.jinja_env.filters["paper"] = paper_value
    security.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    _register_optional(app)
    return app


def _register_optional(app: Flask) -> None:
    """Blueprints of parts built separately (staff pages, signing pages, archive pages)."""
    import importlib

    for name in ("staff", "sign", "batch_pages", "archive_pages"):
        try:
            module = importlib.import_module(f"doc_service.web.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"doc_service.web.{name}":
                raise
            continue
        app.register_blueprint(module.bp)


def instance_secret(instance: os.PathLike[str] | str) -> str:
    """A per-instance random secret, created once with owner-only permissions."""
    path = Path(instance) / "secret_key"
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def paper_value(value: Any, field: Any) -> str:
    """A field's value as the paper form prints it (2007年5月16日, 4年, 甲、乙)."""
    from doc_service.forms.spec import FieldType
    from doc_service.rendering.context import cn_date, cn_month

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


def runtime_of(app: Flask) -> Any:
    return app.extensions["runtime"]
