"""Load benchmark: 50 concurrent users against a running doc-service.

Prints latency percentiles of the signing page (``GET /d/<code>`` and the public API
``GET /api/v1/codes/<code>``) and of an approval (``POST /api/v1/documents/<id>/decisions``
by the class teacher), then one summary line::

    signing_page_p95_ms=<n> approval_p95_ms=<n>

Targets (issue 4, 2-core machine): signing page p95 <= 200 ms, approval p95 <= 500 ms.

By default it makes a throw-away instance (``doc-service demo`` into a temporary folder,
rate limits off in its config.py) and starts ``doc-service serve`` there. With ``--url``
it drives a service that is already running; ``--instance`` must then name that
service's instance folder (for the demo accounts, via ``doc-service demo --json``), and
the service should run with ``RATELIMIT_ENABLED = False`` or most calls will get 429.

Setup, not measured: the issuers issue ``--docs`` checklists through the API and each
student proves who they are and signs, so that every document waits for its class teacher.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Client:
    """A tiny JSON-over-HTTP client that records every call's latency and status."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.samples: dict[str, list[float]] = {}
        self.statuses: dict[str, Counter[int]] = {}
        self._lock = threading.Lock()

    def call(self, label: str, method: str, path: str, *, token: str | None = None,
             body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        elapsed = (time.perf_counter() - start) * 1000
        with self._lock:
            self.samples.setdefault(label, []).append(elapsed)
            self.statuses.setdefault(label, Counter())[status] += 1
        if raw[:1] in (b"{", b"["):
            return status, json.loads(raw)
        return status, None


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli() -> str:
    found = shutil.which("doc-service") or str(Path(sys.executable).with_name("doc-service"))
    return found


def _demo(instance: Path) -> dict[str, Any]:
    env = {**os.environ, "DOC_SERVICE_INSTANCE": str(instance)}
    out = subprocess.run([_cli(), "demo", "--json"], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@contextmanager
def _served(instance: Path, threads: int) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "DOC_SERVICE_INSTANCE": str(instance)}
    log = open(instance / "serve.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([_cli(), "serve", "--port", str(port), "--threads", str(threads)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"doc-service serve did not start; see {log.name}") from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _pool(users: int, jobs: list[Callable[[], Any]]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=users) as ex:
        return list(ex.map(lambda job: job(), jobs))


def prepare(client: Client, demo: dict[str, Any], docs: int, users: int
            ) -> list[dict[str, Any]]:
    """Issue ``docs`` checklists and have each student sign: they wait for class teachers."""
    accounts = {a["username"]: a for a in demo["accounts"]}
    issuer_of = {a["college"]: a["token"] for a in demo["accounts"] if a["role"] == "issuer"}
    teacher_of = {c: a["token"] for a in demo["accounts"] if a["role"] == "class_teacher"
                  for c in a["classes"]}
    students = demo["students"]
    assert accounts, "no demo accounts: run `doc-service demo` on that instance first"

    def issue(i: int) -> dict[str, Any]:
        student = students[i % len(students)]
        status, body = client.call("setup: issue", "POST", "/api/v1/documents",
                                   token=issuer_of[student["college"]], body={
                                       "form_id": "verification_checklist",
                                       "student_no": student["student_no"],
                                       "data": {"registration_type": "新生学籍注册",
                                                "academic_year": "2026-2027"}})
        if status != 201:
            raise SystemExit(f"issue failed: {status} {body}")
        return {"doc": body, "student": student, "teacher": teacher_of[student["class_no"]]}

    def student_signs(item: dict[str, Any]) -> None:
        doc, student = item["doc"], item["student"]
        status, body = client.call("setup: identity", "POST",
                                   f"/api/v1/codes/{doc['code']}/identity",
                                   body={"student_no": student["student_no"],
                                         "id_last6": student["id_number"][-6:]})
        if status != 200:
            raise SystemExit(f"identity failed: {status} {body}")
        status, body = client.call("setup: student signs", "POST",
                                   f"/api/v1/documents/{doc['id']}/decisions",
                                   token=body["token"], body={"decision": "approve"})
        if status != 201:
            raise SystemExit(f"student signing failed: {status} {body}")

    # Issuing takes the next 文号 under a row lock, so a few issuers at once are plenty.
    items = _pool(4, [lambda i=i: issue(i) for i in range(docs)])
    _pool(min(users, 8), [lambda it=it: student_signs(it) for it in items])
    return items


def run(client: Client, items: list[dict[str, Any]], users: int, page_rounds: int,
        think: float = 0.0) -> None:
    """Each user visits signing pages, then the users approve the documents.

    ``think`` is a user's mean pause (uniform 0…2×think seconds) before each action; 0
    means every user fires again the moment an answer arrives (a saturation test).
    """
    codes = [it["doc"]["code"] for it in items]
    rng = random.Random(4)

    def pause() -> None:
        if think > 0:
            time.sleep(rng.uniform(0, 2 * think))

    def signing_pages(u: int) -> None:
        for r in range(page_rounds):
            pause()
            code = codes[(u * page_rounds + r) % len(codes)]
            client.call("signing page GET /d/<code>", "GET", f"/d/{code}")
            client.call("signing page GET /api/v1/codes/<code>", "GET", f"/api/v1/codes/{code}")

    _pool(users, [lambda u=u: signing_pages(u) for u in range(users)])

    def approve(item: dict[str, Any]) -> None:
        pause()
        client.call("approval POST /api/v1/documents/<id>/decisions", "POST",
                    f"/api/v1/documents/{item['doc']['id']}/decisions", token=item["teacher"],
                    body={"decision": "approve"})

    _pool(users, [lambda it=it: approve(it) for it in items])


def report(client: Client, elapsed: float) -> dict[str, float]:
    print(f"{'what':<52} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8}  statuses")
    for label in sorted(client.samples):
        values = client.samples[label]
        statuses = " ".join(f"{k}×{v}" for k, v in sorted(client.statuses[label].items()))
        print(f"{label:<52} {len(values):>5} {percentile(values, 50):>8.1f} "
              f"{percentile(values, 95):>8.1f} {percentile(values, 99):>8.1f}  {statuses}")
    pages = [v for k, vs in client.samples.items() if k.startswith("signing page") for v in vs]
    approvals = [v for k, vs in client.samples.items() if k.startswith("approval") for v in vs]
    out = {
        "signing_page_p50_ms": percentile(pages, 50),
        "signing_page_p95_ms": percentile(pages, 95),
        "signing_page_p99_ms": percentile(pages, 99),
        "approval_p50_ms": percentile(approvals, 50),
        "approval_p95_ms": percentile(approvals, 95),
        "approval_p99_ms": percentile(approvals, 99),
    }
    print(f"(measured phases took {elapsed:.1f} s; times in ms)")
    print(f"signing_page_p95_ms={out['signing_page_p95_ms']:.0f} "
          f"approval_p95_ms={out['approval_p95_ms']:.0f}")
    bad = {k: c for k, c in client.statuses.items()
           if not k.startswith("setup") and set(c) - {200, 201}}
    if bad:
        print(f"WARNING: unexpected statuses {bad}", file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running service (default: start one)")
    parser.add_argument("--instance", type=Path,
                        help="the instance folder (default: a new temporary one)")
    parser.add_argument("--users", type=int, default=50, help="concurrent users (50)")
    parser.add_argument("--docs", type=int, default=100, help="checklists to approve (100)")
    parser.add_argument("--page-rounds", type=int, default=10,
                        help="signing-page visits per user, each to both endpoints (10)")
    parser.add_argument("--server-threads", type=int, default=8,
                        help="waitress threads when starting the service (8, as make run)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a user pauses before each action (0: none, "
                             "every user fires again at once: a saturation test)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()

    if args.url and not args.instance:
        parser.error("--url needs --instance (for the demo accounts)")
    instance = args.instance or Path(tempfile.mkdtemp(prefix="doc-service-load-"))
    instance.mkdir(parents=True, exist_ok=True)
    if not args.url:
        # This private instance is hammered from one address: the per-address limiter
        # would turn the benchmark into a test of the limiter.
        (instance / "config.py").write_text("RATELIMIT_ENABLED = False\n", encoding="utf-8")
    demo = _demo(instance)
    print(f"instance {instance}; {len(demo['students'])} demo students", file=sys.stderr)

    @contextmanager
    def target() -> Iterator[str]:
        if args.url:
            yield args.url
        else:
            with _served(instance, args.server_threads) as url:
                yield url

    with target() as url:
        setup = Client(url)
        start = time.perf_counter()
        items = prepare(setup, demo, args.docs, args.users)
        print(f"setup: {len(items)} documents issued and signed by their students in "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
        client = Client(url)
        start = time.perf_counter()
        run(client, items, args.users, args.page_rounds, args.think)
        print(f"{args.users} users, think time {args.think:g} s", file=sys.stderr)
        figures = report(client, time.perf_counter() - start)
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
