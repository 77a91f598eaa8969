"""Shared fixtures: an isolated instance folder per test session, example data, tools."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from doc_service.config import FORMS_ROOT
from doc_service.forms.spec import FORM_IDS


@pytest.fixture(autouse=True, scope="session")
def _instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test runs against a throw-away instance folder, never ./instance."""
    import os

    path = tmp_path_factory.mktemp("instance")
    os.environ["DOC_SERVICE_INSTANCE"] = str(path)
    return path


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
