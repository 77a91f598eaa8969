"""Races on both databases: two approvals of one step, and many issues at once.

Each database gets its own runtime here (SQLite in a temporary instance,
PostgreSQL in a schema of its own), whatever ``DATABASE_URL`` says, so both
locking strategies are exercised on every run: SQLite's single writer and
PostgreSQL's row locks under READ COMMITTED.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from tests.services.fakes import HeldStore

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHECKLIST = {"registration_type": "新生学籍注册", "academic_year": "2026-2027"}


def _pg_base() -> str:
    from pathlib import Path

    from doc_service.db import database_url

    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql")):
        return database_url(Path("."))
    return PG_URL


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def race_rt(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Any]:
    from doc_service.bootstrap import build_runtime
    from doc_service.migrations import upgrade
    from doc_service.services.demo import ensure_keys, load_demo

    admin, schema = None, None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('race-db') / 'race.db'}"
    else:
        base = _pg_base()
        admin = create_engine(base)
        schema = f"race_{secrets.token_hex(4)}"
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    rt = build_runtime(tmp_path_factory.mktemp("race-svc"), secret_key="race-secret",
                       database_url=url)
    try:
        upgrade(rt.engine)
        load_demo(rt)
        ensure_keys(rt)
        yield rt
    finally:
        rt.engine.dispose()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


def _staff(rt: Any, username: str) -> Any:
    from doc_service.services.access import Staff
    from doc_service.storage.models import User

    with rt.sessions() as s:
        return Staff(s.scalar(select(User).where(User.username == username)))


def _students(rt: Any, class_no: str) -> list[Any]:
    from doc_service.storage.models import SchoolClass, Student

    with rt.sessions() as s:
        return list(s.scalars(select(Student).join(SchoolClass, Student.class_id == SchoolClass.id)
                              .where(SchoolClass.class_no == class_no).order_by(Student.id)))


def _at_registrar_step(rt: Any, student: Any) -> Any:
    """A checklist signed by the student, the class teacher and the college head."""
    from doc_service.services import decisions, documents, identity

    doc = documents.issue_document(rt, _staff(rt, "jy-issuer"), "verification_checklist",
                                   dict(CHECKLIST), student_no=student.student_no)
    _, me = identity.prove_identity(rt, doc.code, student.student_no, student.id_number[-6:])
    decisions.record_decision(rt, me, doc.id, "approve")
    decisions.record_decision(rt, _staff(rt, "jy-teacher1"), doc.id, "approve")
    decisions.record_decision(rt, _staff(rt, "jy-head"), doc.id, "approve")
    return documents.load_document(rt, doc.id)


def _signatures(rt: Any, doc_id: str) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    from doc_service.services.documents import load_document

    pdf = rt.store.get(load_document(rt, doc_id).current_sha256)
    # Signatures only: sealing also adds a document timestamp (/DocTimeStamp).
    return sum(1 for sig in PdfFileReader(io.BytesIO(pdf)).embedded_signatures
               if sig.sig_object_type == "/Sig")


def _run_together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Start the calls in threads released by one barrier; each result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait(timeout=60)
        try:
            results[i] = calls[i]()
        except Exception as e:  # noqa: BLE001 - the test inspects what each racer got
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    return results


def both_read_first(rt: Any) -> tuple[Any, HeldStore]:
    """``rt`` with a file store that holds each racer after it read the document and before
    it signs, until both have read.

    Without this the second racer may simply start after the first finished and be
    refused for the plain reason that the step is done; with it, both pass every check
    and the database alone must decide.
    """
    store = HeldStore(rt.store, parties=2)
    return replace(rt, store=store), store


def test_two_registrars_approving_one_step_at_once_exactly_one_wins(race_rt: Any) -> None:
    from doc_service.errors import ConflictError
    from doc_service.services import decisions
    from doc_service.storage.models import ChainRecordRow, DocStatus

    doc = _at_registrar_step(race_rt, _students(race_rt, "交运2601")[0])
    before = _signatures(race_rt, doc.id)
    racers = [_staff(race_rt, "registrar"), _staff(race_rt, "registrar2")]
    held_rt, store = both_read_first(race_rt)

    results = _run_together([lambda a=a: decisions.record_decision(held_rt, a, doc.id, "approve")
                             for a in racers])

    won = [r for r in results if isinstance(r, decisions.DecisionResult)]
    lost = [r for r in results if isinstance(r, ConflictError)]
    assert store.held == 2
    assert (len(won), len(lost)) == (1, 1), results
    with race_rt.sessions() as s:
        rows = s.scalar(select(func.count()).select_from(ChainRecordRow).where(
            ChainRecordRow.document_id == doc.id, ChainRecordRow.position == 3))
    assert rows == 1
    final = won[0].document
    assert final.status == DocStatus.SEALED
    assert final.steps[3].signer_name in {a.name for a in racers}
    assert _signatures(race_rt, doc.id) == before + 1


def test_two_approvals_through_the_api_get_201_and_409(race_rt: Any) -> None:
    from doc_service.services.demo import demo_accounts
    from doc_service.web import create_app

    tokens = {a["username"]: a["token"] for a in demo_accounts(race_rt)}
    doc = _at_registrar_step(race_rt, _students(race_rt, "交运2601")[1])
    before = _signatures(race_rt, doc.id)
    held_rt, store = both_read_first(race_rt)
    app = create_app({"TESTING": True, "SECRET_KEY": "race-secret", "RATELIMIT_ENABLED": False},
                     runtime=held_rt)

    def approve(who: str) -> Any:
        resp = app.test_client().post(f"/api/v1/documents/{doc.id}/decisions",
                                      json={"decision": "approve"},
                                      headers={"Authorization": f"Bearer {tokens[who]}"})
        return resp.status_code, resp.get_json()

    results = _run_together([lambda: approve("registrar"), lambda: approve("registrar2")])

    assert store.held == 2
    assert sorted(status for status, _ in results) == [201, 409], results
    conflict = next(body for status, body in results if status == 409)
    assert conflict["error"] == "conflict" and conflict["message"]
    assert _signatures(race_rt, doc.id) == before + 1


def test_concurrent_issues_get_distinct_consecutive_numbers(race_rt: Any) -> None:
    import datetime as dt

    from doc_service.numbering import peek
    from doc_service.services import documents

    issuer = _staff(race_rt, "jy-issuer")
    students = _students(race_rt, "物流2601")[:8]
    with race_rt.engine.connect() as conn:
        last = peek(conn, "verification_checklist", dt.date.today().year)

    results = _run_together([
        lambda s=s: documents.issue_document(race_rt, issuer, "verification_checklist",
                                             dict(CHECKLIST), student_no=s.student_no)
        for s in students])

    assert not [r for r in results if isinstance(r, Exception)], results
    seqs = sorted(int(re.findall(r"\d+", r.number)[-1]) for r in results)
    assert seqs == list(range(last + 1, last + 1 + len(students)))
    assert len({r.code for r in results}) == len(students)
