"""The student identity check: counted per (code, client address), backing off, unlockable.

Before issue 15 the counter was per code: five wrong answers from anywhere locked the
student out for fifteen minutes, renewable forever. On a small school in an empty SQLite
database, with a fake renderer.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from doc_service.errors import AuthError, LockedError, NotFoundError, PermissionDeniedError
from doc_service.services.accounts import change_password, end_sessions, set_active
from doc_service.services.documents import issue_document
from doc_service.services.identity import (
    ALERT_FAILURES,
    lock_minutes,
    prove_identity,
    unlock,
)
from doc_service.services.runtime import Runtime
from doc_service.storage.models import AuditEntry, Document, IdentityLock, User
from tests.conftest import example
from tests.services.fakes import FakeRenderer, FixedClock, fake_runtime
from tests.services.school import SmallSchool, add_small_school, staff

FORM = "verification_checklist"
EXTRA = {"registration_type": "新生学籍注册", "academic_year": "2026-2027"}
CLOCK = FixedClock(dt.datetime(2026, 3, 6, 1, 30))
ID_LAST6 = example(FORM)["id_number"][-6:]
WRONG = "000000" if ID_LAST6 != "000000" else "111111"


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = fake_runtime(tmp_path)
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def school(rt: Runtime) -> SmallSchool:
    return add_small_school(rt)


@pytest.fixture
def doc(rt: Runtime, school: SmallSchool) -> Document:
    return issue_document(rt, staff(rt, "jy-issuer"), FORM, dict(EXTRA),
                          student_no=school.student_no, renderer=FakeRenderer(), clock=CLOCK)


def _fail(rt: Runtime, doc: Document, student_no: str, ip: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(AuthError):
            prove_identity(rt, doc.code, student_no, WRONG, ip=ip)


def test_wrong_answers_from_elsewhere_do_not_lock_the_student_out(
        rt: Runtime, school: SmallSchool, doc: Document) -> None:
    _fail(rt, doc, school.student_no, "203.0.113.9", 5)
    with pytest.raises(LockedError):  # the guessing address waits ...
        prove_identity(rt, doc.code, school.student_no, ID_LAST6, ip="203.0.113.9")
    # ... the student, answering from their own phone, does not
    token, actor = prove_identity(rt, doc.code, school.student_no, ID_LAST6, ip="198.51.100.7")
    assert token and actor.document_id == doc.id


def test_each_lock_of_one_address_lasts_twice_as_long_as_the_one_before() -> None:
    assert [lock_minutes(n) for n in (1, 4, 5, 6, 10, 15)] == [0, 0, 15, 0, 30, 60]
    assert lock_minutes(5 * 40) == 24 * 60  # at most a day


def test_the_issuer_or_the_registrar_clears_the_counters_and_it_is_audited(
        rt: Runtime, school: SmallSchool, doc: Document) -> None:
    _fail(rt, doc, school.student_no, "203.0.113.9", 5)
    for who in ("jy-teacher", "jy-head", "xx-issuer"):
        with pytest.raises((PermissionDeniedError, NotFoundError)):
            unlock(rt, staff(rt, who), doc.id)
    assert unlock(rt, staff(rt, "jy-issuer"), doc.id) == 1
    prove_identity(rt, doc.code, school.student_no, ID_LAST6, ip="203.0.113.9")
    _fail(rt, doc, school.student_no, "203.0.113.9", 5)
    assert unlock(rt, staff(rt, "registrar"), doc.id) == 1
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(IdentityLock)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "identity_unlocked")) == 2


def test_sustained_failures_on_one_code_from_many_addresses_raise_an_alert(
        rt: Runtime, school: SmallSchool, doc: Document,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="doc_service.services.identity"):
        for i in range(ALERT_FAILURES):
            _fail(rt, doc, school.student_no, f"192.0.2.{i}", 1)
    with rt.sessions() as s:
        alerts = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "identity_failures_alert")).all()
    assert len(alerts) == 1 and alerts[0].object_id == doc.id
    assert alerts[0].detail["failures"] == ALERT_FAILURES
    assert any("failed" in r.getMessage() and doc.id in r.getMessage() for r in caplog.records)
    assert WRONG not in caplog.text and ID_LAST6 not in caplog.text  # never the answer


@pytest.mark.parametrize("end", ["logout", "password", "disable"])
def test_logout_a_new_password_and_disabling_bump_the_session_version(
        rt: Runtime, school: SmallSchool, end: str) -> None:
    user_id = staff(rt, "jy-teacher").user.id
    before = staff(rt, "jy-teacher").user.session_version
    {"logout": lambda: end_sessions(rt, user_id),
     "password": lambda: change_password(rt, user_id, "新的口令-2026"),
     "disable": lambda: set_active(rt, user_id, False)}[end]()
    with rt.sessions() as s:
        user = s.get(User, user_id)
        assert user is not None and user.session_version == before + 1
