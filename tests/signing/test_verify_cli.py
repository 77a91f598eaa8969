"""``doc-service verify`` on hostile and damaged files: a clear answer, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .hostile import HOSTILE_PDFS, corrupt_seal_timestamp


def verify(pdf: Path, root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DOC_SERVICE_INSTANCE"] = str(pdf.parent / "instance")
    return subprocess.run([sys.executable, "-m", "doc_service", "verify", "--root", str(root),
                           *extra, str(pdf)], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


@pytest.fixture
def root_pem(tmp_path, keystore) -> Path:
    path = tmp_path / "root.pem"
    path.write_text(keystore.root_pem())
    return path


@pytest.mark.parametrize("name", sorted(HOSTILE_PDFS))
def test_hostile_pdf_is_reported_unparseable(name, tmp_pdf, root_pem):
    result = verify(tmp_pdf(HOSTILE_PDFS[name]), root_pem)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert "无法解析的 PDF" in result.stdout and "无效" in result.stdout


def test_corrupted_seal_timestamp_gives_a_verdict_and_no_library_output(sealed_pdf, tmp_pdf,
                                                                        root_pem):
    pdf = tmp_pdf(corrupt_seal_timestamp(sealed_pdf))
    for extra in ((), ("--json",)):
        result = verify(pdf, root_pem, *extra)
        assert result.returncode == 1, result.stderr[-2000:]
        assert result.stderr == "", result.stderr[-2000:]
        assert "无效" in result.stdout or '"ok": false' in result.stdout
