"""Override entry through the CLI changes the service's deadlines."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from doc_service.bootstrap import build_runtime
from doc_service.services.deadlines import make_calendar


def cli(instance: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DOC_SERVICE_INSTANCE"] = str(instance)
    return subprocess.run([sys.executable, "-m", "doc_service", "holidays", *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_imported_year_is_known_and_moves_deadlines(tmp_path: Path) -> None:
    table = tmp_path / "2027.csv"
    table.write_text("date,kind,note\n2027,complete,国务院办公厅通知\n"
                     "2027-01-04,holiday,元旦调休\n", encoding="utf-8")
    result = cli(tmp_path / "inst", "import", str(table))
    assert result.returncode == 0, result.stderr
    assert "2027" in result.stdout

    rt = build_runtime(tmp_path / "inst",
                       database_url=f"sqlite:///{tmp_path / 'inst' / 'doc-service.db'}")
    calendar = make_calendar(rt.sessions)
    assert not calendar.is_workday(dt.date(2027, 1, 4))
    deadline = calendar.deadline(dt.date(2027, 1, 1), 1)
    assert deadline.date == dt.date(2027, 1, 5)
    assert deadline.warning in (None, "")
    rt.engine.dispose()


def test_bad_override_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,kind,note\nnot-a-date,holiday,x\n", encoding="utf-8")
    result = cli(tmp_path / "inst", "import", str(bad))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
