"""The Flask application factory: the one place that wires every part together."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from doc_service.config import instance_path, load_institution


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    instance = instance_path()
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("DOC_SERVICE_SECRET_KEY") or _instance_secret(instance),
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        JSON_AS_ASCII=False,
    )
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.update(test_config)
    app.extensions["institution"] = load_institution(instance)

    from doc_service.web import pages

    app.register_blueprint(pages.bp)
    return app


def _instance_secret(instance: os.PathLike[str] | str) -> str:
    """A per-instance random secret, created once with owner-only permissions."""
    import secrets
    from pathlib import Path

    path = Path(instance) / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()
