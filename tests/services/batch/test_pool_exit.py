"""Killing ``doc-service batch`` ends the processes it spawned (issue 15: they went on
running). A job big enough for the process pool is killed with SIGKILL (no chance to stop
the pool: its processes notice their parent is gone) and with SIGTERM (the command stops
at once, saying how to resume); either way no pool process is left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from doc_service.services import batch
from doc_service.storage.batch_models import ItemState, JobStatus
from tests.services.batch.conftest import EXTRA, assign_teachers, import_generated, subprocess_env
from tests.services.batch.test_resume import item_counts, job_of_class

FORM = "verification_checklist"
HANG_GUARD_S = 300  # only to stop a hung test; nothing here asserts on speed


def wait_for(predicate: Any, what: str) -> Any:
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


def pool_children(parent: int) -> set[int]:
    """The spawned pool processes of ``parent`` (not the resource tracker)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            out.add(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent (now init) has not reaped it


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_killing_the_batch_command_ends_its_pool_processes(
        runtime: Any, registrar: Any, db_url: str, tmp_path: Any, sig: signal.Signals) -> None:
    class_no, first = {signal.SIGKILL: ("孤儿2801", 61_600),
                       signal.SIGTERM: ("孤儿2802", 61_800)}[sig]
    import_generated(runtime, registrar, {class_no: range(first, first + 110)})
    assign_teachers(runtime, [class_no])
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(EXTRA), encoding="utf-8")
    env = subprocess_env(runtime, db_url, DOC_SERVICE_BATCH_PROCESSES="2")
    cli = [sys.executable, "-m", "doc_service", "batch", FORM, "--class", class_no,
           "--data", str(extra)]
    proc = subprocess.Popen(cli, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        job_id = wait_for(lambda: job_of_class(runtime, class_no), "the job")
        children = wait_for(lambda: pool_children(proc.pid) if len(pool_children(proc.pid)) == 2
                            else None, "two pool processes")
        wait_for(lambda: item_counts(runtime, job_id)[ItemState.DONE] >= 1, "an item done")
    finally:
        os.kill(proc.pid, sig)
        _, stderr = proc.communicate(timeout=HANG_GUARD_S)
    if sig == signal.SIGTERM:
        assert proc.returncode == 130 and f"--resume {job_id}" in stderr, stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    wait_for(lambda: not any(alive(pid) for pid in children), "the pool processes to end")
    counts = item_counts(runtime, job_id)
    assert counts[ItemState.PENDING] + counts[ItemState.ISSUING] > 0, counts
    assert batch.cancel_batch(runtime, registrar, job_id).status == JobStatus.CANCELLED
