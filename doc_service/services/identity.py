"""Students prove who they are on the signing page: student number + last six of the ID.

Attempts are counted per (document code, client address): every fifth failure in a row
from one address makes that address wait, fifteen minutes the first time and twice as long
each time after (at most a day), while the student answering from anywhere else is not
held up. Many failures on one code from all addresses together are written to the audit
log and logged as a warning, and the document's issuer or the registrar can clear the
counters (``unlock``). A success yields a short-lived token good for that one document
only. The answer is compared in constant time and never logged.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from doc_service.errors import AuthError, LockedError, NotFoundError, PermissionDeniedError
from doc_service.services.access import (
    Actor,
    StudentActor,
    can_unlock_identity,
    require_staff,
    require_view,
)
from doc_service.services.audit import audit
from doc_service.services.documents import well_formed_key
from doc_service.services.runtime import Runtime
from doc_service.storage.models import (
    AuditEntry,
    Document,
    IdentityLock,
    Student,
    utcnow,
)

MAX_FAILURES = 5
LOCK_MINUTES = 15
MAX_LOCK_MINUTES = 24 * 60
ALERT_FAILURES = 20
"""Failures on one code, from all addresses, within ``ALERT_WINDOW`` that raise an alert
(and again at every further multiple)."""
ALERT_WINDOW = dt.timedelta(hours=24)
TOKEN_SECONDS = 15 * 60
UNKNOWN_CLIENT = "-"

log = logging.getLogger(__name__)


def _serializer(rt: Runtime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(rt.secret_key or "dev", salt="student-identity")


def _expected(session: Session, doc: Document) -> tuple[str, str, str] | None:
    """(student_no, name, id_number) the answer must match."""
    if doc.student_id is not None:
        student = session.get(Student, doc.student_id)
        if student is not None:
            return student.student_no, student.name, student.id_number
    data = doc.data
    if data.get("student_no") and data.get("id_number"):
        return data["student_no"], data.get("name", ""), data["id_number"]
    return None


def _lock_row(session: Session, code: str, client: str) -> IdentityLock:
    """The (code, client) attempt counter, locked for this transaction (created on first use).

    Two first attempts at once both find no row; the loser of the INSERT reads the
    winner's row instead of failing, so every failure is counted.
    """
    key = (code, client)
    lock = session.get(IdentityLock, key, with_for_update=True)
    if lock is not None:
        return lock
    try:
        with session.begin_nested():
            session.add(IdentityLock(code=code, client=client, failures=0))
    except IntegrityError:
        pass
    lock = session.get(IdentityLock, key, with_for_update=True, populate_existing=True)
    assert lock is not None
    return lock


def lock_minutes(failures: int) -> int:
    """How long an address waits after its ``failures``-th wrong answer in a row (0: no wait).

    Every ``MAX_FAILURES``-th failure locks, for twice as long as the lock before.
    """
    if failures <= 0 or failures % MAX_FAILURES:
        return 0
    return int(min(LOCK_MINUTES * 2 ** (failures // MAX_FAILURES - 1), MAX_LOCK_MINUTES))


def _alert_on_sustained_failures(session: Session, doc: Document, now: dt.datetime,
                                 ip: str | None) -> None:
    """Audit and log a warning when a code keeps failing, from wherever it is tried."""
    recent = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "identity_failed", AuditEntry.object_type == "document",
        AuditEntry.object_id == doc.id, AuditEntry.at >= now - ALERT_WINDOW)) or 0
    if recent and recent % ALERT_FAILURES == 0:
        log.warning("identity check of document %s (code %s) failed %d times in %s; "
                    "last from %s", doc.id, doc.code, recent, ALERT_WINDOW, ip or "?")
        audit(session, None, "identity_failures_alert", "document", doc.id, ip=ip,
              failures=recent, hours=int(ALERT_WINDOW.total_seconds() // 3600))


def prove_identity(rt: Runtime, code: str, student_no: str, id_last6: str, *,
                   ip: str | None = None) -> tuple[str, StudentActor]:
    """Check the answer; return (token, actor) or raise AuthError / LockedError."""
    code = (code or "").strip().upper()[:16]
    student_no = (student_no or "").strip()[:20]
    answer = (id_last6 or "").strip().upper()[:6]
    now = utcnow()
    if not well_formed_key(code):
        raise NotFoundError("二维码无效：没有找到对应的文书")
    with rt.sessions.begin() as session:
        doc = session.scalar(select(Document).where(Document.code == code))
        if doc is None:
            raise NotFoundError("二维码无效：没有找到对应的文书")
        lock = _lock_row(session, code, (ip or UNKNOWN_CLIENT)[:64])
        if lock.locked_until is not None and lock.locked_until > now:
            seconds = max(1, int((lock.locked_until - now).total_seconds()))
            minutes = max(1, seconds // 60 + 1)
            raise LockedError(f"验证失败次数过多，请{minutes}分钟后再试", retry_after=seconds)
        expected = _expected(session, doc)
        ok = expected is not None and len(answer) == 6 and hmac.compare_digest(
            expected[0].encode(), student_no.encode()) and hmac.compare_digest(
            expected[2][-6:].upper().encode(), answer.encode())
        if not ok:
            lock.failures += 1
            wait = lock_minutes(lock.failures)
            left = MAX_FAILURES - lock.failures % MAX_FAILURES
            if wait:
                lock.locked_until = now + dt.timedelta(minutes=wait)
            audit(session, None, "identity_failed", "document", doc.id, ip=ip)
            session.flush()
            _alert_on_sustained_failures(session, doc, now, ip)
    # The failed attempt above is committed before we answer.
    if not ok:
        if wait:
            raise LockedError(f"验证失败次数过多，本设备对该二维码的验证已锁定{_duration(wait)}",
                              retry_after=wait * 60)
        raise AuthError(f"学号或身份证号后六位不正确（还可尝试{left}次）")
    assert expected is not None
    with rt.sessions.begin() as session:
        counter = session.get(IdentityLock, (code, (ip or UNKNOWN_CLIENT)[:64]))
        if counter is not None:
            counter.failures = 0
            counter.locked_until = None
        actor = StudentActor(student_no=expected[0], name=expected[1], document_id=doc.id)
        audit(session, actor, "identity_ok", "document", doc.id, ip=ip)
    token = _serializer(rt).dumps({"d": doc.id, "s": expected[0], "n": expected[1]})
    return token, actor


def _duration(minutes: int) -> str:
    if minutes % 60 == 0:
        return f"{minutes // 60}小时"
    return f"{minutes}分钟"


def unlock(rt: Runtime, actor: Actor, doc_id: str, *, ip: str | None = None) -> int:
    """Clear every address's counter for a document's code; the number of counters cleared.

    For the document's issuer and the registrar (a student who cannot get in calls them).
    """
    user = require_staff(actor)
    with rt.sessions.begin() as session:
        doc = session.get(Document, doc_id)
        if doc is None:
            raise NotFoundError("文书不存在")
        require_view(session, actor, doc)
        if not can_unlock_identity(user, doc):
            raise PermissionDeniedError("只有该文书的学籍秘书或教务处可以解除身份验证锁定")
        counters = session.scalars(select(IdentityLock).where(
            IdentityLock.code == doc.code).with_for_update()).all()
        cleared = len(counters)
        session.execute(delete(IdentityLock).where(IdentityLock.code == doc.code))
        audit(session, actor, "identity_unlocked", "document", doc.id, ip=ip,
              counters=cleared)
    return cleared


def actor_from_token(rt: Runtime, token: str, doc_id: str | None = None) -> StudentActor:
    try:
        data = _serializer(rt).loads(token, max_age=TOKEN_SECONDS)
    except SignatureExpired as e:
        raise AuthError("身份验证已过期，请重新验证") from e
    except BadSignature as e:
        raise AuthError("身份凭证无效") from e
    if doc_id is not None and data.get("d") != doc_id:
        raise AuthError("该身份凭证不适用于此文书")
    return StudentActor(student_no=data["s"], name=data["n"], document_id=data["d"])
