"""Shared fixtures: an isolated instance folder per test session, example data, tools."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from doc_service.config import FORMS_ROOT
from doc_service.db import database_url
from doc_service.forms.spec import FORM_IDS


@pytest.fixture(autouse=True, scope="session")
def _instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test runs against a throw-away instance folder, never ./instance."""
    path = tmp_path_factory.mktemp("instance")
    os.environ["DOC_SERVICE_INSTANCE"] = str(path)
    return path


def database_for_tests(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[str]:
    """Yield a database URL: SQLite in a temporary folder, or, when ``DATABASE_URL`` is set,
    that PostgreSQL in a schema of its own, dropped afterwards (runs never collide)."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / f'{name}.db'}"
        return
    base = database_url(Path("."))
    schema = f"{name[:1]}_{secrets.token_hex(4)}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def example(form_id: str) -> dict:
    return json.loads((FORMS_ROOT / form_id / "example.json").read_text(encoding="utf-8"))


@pytest.fixture(params=FORM_IDS)
def form_id(request: pytest.FixtureRequest) -> str:
    return request.param


def run_tool(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run an outside tool (pdftotext, qpdf …); fail the test clearly if it is missing."""
    if shutil.which(args[0]) is None:
        pytest.fail(f"{args[0]} is not installed (make test installs it)")
    return subprocess.run(args, input=input, capture_output=True, timeout=120, check=False)
