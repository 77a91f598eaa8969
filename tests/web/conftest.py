"""A running service for functional tests: migrated database, keys, demo data.

Uses SQLite in a temporary instance, or PostgreSQL when ``DATABASE_URL`` is set
(in its own schema, dropped afterwards, so runs never collide).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from doc_service.bootstrap import build_runtime
from doc_service.services.demo import demo_accounts, demo_students, ensure_keys, load_demo
from doc_service.web import create_app
from tests.conftest import database_for_tests


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from database_for_tests(tmp_path_factory, "test")


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory, db_url: str) -> Any:
    instance = tmp_path_factory.mktemp("svc")
    rt = build_runtime(instance, secret_key="test-secret", database_url=db_url, migrate=True)
    load_demo(rt)
    ensure_keys(rt)
    yield rt
    rt.engine.dispose()


@pytest.fixture(scope="session")
def app(runtime: Any) -> Any:
    return create_app({"TESTING": True, "SECRET_KEY": "test-secret", "RATELIMIT_ENABLED": False},
                      runtime=runtime)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture(scope="session")
def accounts(runtime: Any) -> dict[str, dict[str, Any]]:
    return {a["username"]: a for a in demo_accounts(runtime)}


@pytest.fixture(scope="session")
def students(runtime: Any) -> list[dict[str, Any]]:
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
