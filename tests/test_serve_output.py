"""``serve`` never writes the demo accounts' passwords to its output (usually a log)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from gunicorn.app.base import BaseApplication

from doc_service.bootstrap import build_runtime
from doc_service.cli import main
from doc_service.services.demo import demo_accounts


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOC_SERVICE_INSTANCE", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    # everything serve does before it hands over to gunicorn, without the server itself
    monkeypatch.setattr(BaseApplication, "run", lambda self: None)
    return tmp_path


def test_serve_keeps_demo_passwords_out_of_its_output(instance: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["serve", "--demo", "--workers", "1"])
    assert first.exit_code == 0, first.output
    assert "已载入演示数据" in first.output and "doc-service demo" in first.output
    again = runner.invoke(main, ["serve", "--demo", "--workers", "1"])
    assert again.exit_code == 0, again.output
    assert "已载入演示数据" not in again.output
    rt = build_runtime(instance)
    passwords = [a["password"] for a in demo_accounts(rt)]
    rt.engine.dispose()
    assert passwords
    for output in (first.output, again.output):
        assert not any(p in output for p in passwords)
    shown = runner.invoke(main, ["demo"])
    assert all(p in shown.output for p in passwords)
