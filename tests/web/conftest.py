"""A running service for functional tests: migrated database, keys, demo data.

Uses SQLite in a temporary instance, or PostgreSQL when ``DATABASE_URL`` is set
(in its own schema, dropped afterwards, so runs never collide).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    from doc_service.db import database_url

    base = database_url(Path("."))
    schema = f"t_{secrets.token_hex(4)}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory, db_url: str) -> Any:
    from doc_service.migrations import upgrade
    from doc_service.services.demo import ensure_keys, load_demo
    from doc_service.services.runtime import open_runtime

    instance = tmp_path_factory.mktemp("svc")
    rt = open_runtime(instance, secret_key="test-secret", url=db_url)
    upgrade(rt.engine)
    load_demo(rt)
    ensure_keys(rt)
    yield rt
    rt.engine.dispose()


@pytest.fixture(scope="session")
def app(runtime: Any) -> Any:
    from doc_service.web import create_app

    return create_app({"TESTING": True, "SECRET_KEY": "test-secret", "RATELIMIT_ENABLED": False},
                      runtime=runtime)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture(scope="session")
def accounts(runtime: Any) -> dict[str, dict[str, Any]]:
    from doc_service.services.demo import demo_accounts

    return {a["username"]: a for a in demo_accounts(runtime)}


@pytest.fixture(scope="session")
def students(runtime: Any) -> list[dict[str, Any]]:
    from doc_service.services.demo import demo_students

    return demo_students(runtime)


def bearer(account: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {account['token']}"}


@pytest.fixture
def api(client: Any, accounts: dict[str, dict[str, Any]]) -> Any:
    """``api("jy-issuer", "post", "/documents", json=...)`` → response."""
    def call(who: str | None, method: str, path: str, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        if who is not None:
            headers.update(bearer(accounts[who]) if who in accounts else
                           {"Authorization": f"Bearer {who}"})
        return getattr(client, method)("/api/v1" + path, headers=headers, **kw)
    return call
