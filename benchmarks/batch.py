"""Benchmark: batch issuance of registration checklists (render, QR, chain set-up, storage).

    .venv/bin/python benchmarks/batch.py [--students 5000] [--workers 0|2] [--db URL] [--profile]

Sets up a throw-away instance (demo school and keys), imports a generated roster of
``--students`` students in classes of 50 with class teachers (not timed), then times one
batch from ``start_batch`` until every item is done. ``--workers 0`` issues in this
process; ``--workers N`` starts N ``doc-service worker`` processes on a private Redis
queue. Prints ``docs=<n> wall_s=<n> docs_per_s=<n> peak_rss_mb=<n>``; peak RSS is the
highest sum over this process and the workers, sampled every 0.2 s. ``--profile`` (in
process only, in one process) prints where the time goes. ``--processes`` sets how
many local processes the in-process batch uses (default: one per core).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXTRA = {"registration_type": "新生学籍注册", "academic_year": "2026-2027"}


def setup(instance: Path, url: str, students: int) -> tuple[Any, Any]:
    from sqlalchemy import select

    from doc_service.bootstrap import build_runtime
    from doc_service.migrations import upgrade
    from doc_service.services.access import Staff
    from doc_service.services.demo import ensure_keys, load_demo
    from doc_service.services.roster_import import import_roster
    from doc_service.storage.models import Role, SchoolClass, User
    from tests.services.batch.conftest import roster_student, xlsx_bytes

    rt = build_runtime(instance, secret_key="bench", database_url=url)
    upgrade(rt.engine)
    load_demo(rt)
    ensure_keys(rt)
    with rt.sessions() as s:
        registrar = Staff(s.scalars(select(User).where(User.role == Role.REGISTRAR)).first())
    rows = [roster_student(i, f"基准{i // 50:03d}") for i in range(students)]
    t = time.perf_counter()
    result = import_roster(rt, registrar, xlsx_bytes(rows), "bench.xlsx", commit=True)
    print(f"# roster import: {result.created} students in {time.perf_counter() - t:.1f} s",
          file=sys.stderr)
    with rt.sessions.begin() as s:
        for klass in s.scalars(select(SchoolClass).where(SchoolClass.class_no.like("基准%"))):
            user = User(username=f"bt-{klass.id}", name="班主任", role=Role.CLASS_TEACHER,
                        college_id=klass.college_id, password_hash="!")
            s.add(user)
            s.flush()
            klass.teacher_id = user.id
    return rt, registrar


class PeakRss:
    """Highest total RSS of this process plus the given children, sampled in a thread."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.children: list[Any] = []
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def add(self, pid: int) -> None:
        import psutil

        self.children.append(psutil.Process(pid))

    def _sample(self) -> None:
        import psutil

        total = self.me.memory_info().rss
        try:  # the in-process batch's pool processes are children of this one
            pool = self.me.children(recursive=True)
        except psutil.Error:
            pool = []
        for child in {*self.children, *pool}:
            try:
                total += child.memory_info().rss
            except Exception:  # a worker that already exited
                pass
        self.peak = max(self.peak, total)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self._sample()
        return self.peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--db", default="", help="database URL (default: SQLite in the instance)")
    ap.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    ap.add_argument("--processes", type=int, default=None,
                    help="in-process batch: local processes (default: one per core)")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    os.environ["DOC_SERVICE_INSTANCE"] = str(instance)
    url, drop_schema = args.db, None
    if url.startswith("postgres"):
        from sqlalchemy import create_engine, text

        from doc_service.db import database_url

        os.environ["DATABASE_URL"] = url
        base = database_url(instance)
        drop_schema = f"bench_{secrets.token_hex(4)}"
        with create_engine(base).begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {drop_schema}"))
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{drop_schema}"
    url = url or f"sqlite:///{instance / 'doc-service.db'}"
    rt, registrar = setup(instance, url, args.students)
    classes = [f"基准{k:03d}" for k in range((args.students + 49) // 50)]

    from doc_service.services import batch

    peak = PeakRss()
    procs: list[subprocess.Popen[bytes]] = []
    dispatcher = None
    if args.workers:
        queue = f"bench-{secrets.token_hex(4)}"
        dispatcher = batch.RqDispatcher(args.redis, queue)
        env = {**os.environ, "DOC_SERVICE_INSTANCE": str(instance), "DATABASE_URL": url,
               "REDIS_URL": args.redis, "DOC_SERVICE_BATCH_QUEUE": queue,
               "DOC_SERVICE_SECRET_KEY": "bench"}
        for _ in range(args.workers):
            p = subprocess.Popen([sys.executable, "-m", "doc_service", "worker"], env=env)
            procs.append(p)
            peak.add(p.pid)
        time.sleep(3)  # let the workers import and connect before the clock starts
    profiler = cProfile.Profile() if args.profile and not args.workers else None
    try:
        t0 = time.perf_counter()
        progress = batch.start_batch(rt, registrar, "verification_checklist",
                                     classes=classes, extra_data=EXTRA,
                                     dispatch=bool(args.workers), dispatcher=dispatcher)
        if args.workers:
            while not progress.finished:
                time.sleep(0.5)
                progress = batch.batch_progress(rt, registrar, progress.job_id)
        else:
            if profiler is not None:
                profiler.enable()
            batch.run_batch(rt, progress.job_id,
                            processes=1 if profiler is not None else args.processes)
            if profiler is not None:
                profiler.disable()
            progress = batch.batch_progress(rt, registrar, progress.job_id)
        wall = time.perf_counter() - t0
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        if dispatcher is not None:
            dispatcher.queue().delete(delete_jobs=True)
    peak_mb = peak.stop() / 2**20
    if progress.failed:
        print(f"# {progress.failed} items failed: {progress.errors[:3]}", file=sys.stderr)
    print(f"docs={progress.done} wall_s={wall:.1f} docs_per_s={progress.done / wall:.2f} "
          f"peak_rss_mb={peak_mb:.0f}")
    if profiler is not None:
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(35)
    rt.engine.dispose()
    if drop_schema:
        from sqlalchemy import create_engine, text

        with create_engine(database_url(instance)).begin() as conn:
            conn.execute(text(f"DROP SCHEMA {drop_schema} CASCADE"))


if __name__ == "__main__":
    main()
