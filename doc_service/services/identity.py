"""Students prove who they are on the signing page: student number + last six of the ID.

Attempts are counted per document code; after five failures the code is
locked for fifteen minutes. A success yields a short-lived token good for that
one document only. The answer is compared in constant time and never logged.
"""

from __future__ import annotations

import datetime as dt
import hmac

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from doc_service.errors import AuthError, LockedError, NotFoundError
from doc_service.services.access import StudentActor
from doc_service.services.audit import audit
from doc_service.services.documents import well_formed_key
from doc_service.services.runtime import Runtime
from doc_service.storage.models import Document, IdentityLock, Student, utcnow

MAX_FAILURES = 5
LOCK_MINUTES = 15
TOKEN_SECONDS = 15 * 60


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


def _lock_row(session: Session, code: str) -> IdentityLock:
    """The code's attempt counter, locked for this transaction (created on first use).

    Two first attempts at once both find no row; the loser of the INSERT reads the
    winner's row instead of failing, so every failure is counted.
    """
    lock = session.get(IdentityLock, code, with_for_update=True)
    if lock is not None:
        return lock
    try:
        with session.begin_nested():
            session.add(IdentityLock(code=code, failures=0))
    except IntegrityError:
        pass
    lock = session.get(IdentityLock, code, with_for_update=True, populate_existing=True)
    assert lock is not None
    return lock


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
        lock = _lock_row(session, code)
        if lock.locked_until is not None and lock.locked_until > now:
            minutes = max(1, int((lock.locked_until - now).total_seconds() // 60) + 1)
            raise LockedError(f"验证失败次数过多，请{minutes}分钟后再试")
        expected = _expected(session, doc)
        ok = expected is not None and len(answer) == 6 and hmac.compare_digest(
            expected[0].encode(), student_no.encode()) and hmac.compare_digest(
            expected[2][-6:].upper().encode(), answer.encode())
        if not ok:
            lock.failures += 1
            left = MAX_FAILURES - lock.failures
            if left <= 0:
                lock.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
                lock.failures = 0
            audit(session, None, "identity_failed", "document", doc.id, ip=ip)
            session.flush()
    # The failed attempt above is committed before we answer.
    if not ok:
        if left <= 0:
            raise LockedError(f"验证失败次数过多，该二维码已锁定{LOCK_MINUTES}分钟")
        raise AuthError(f"学号或身份证号后六位不正确（还可尝试{left}次）")
    assert expected is not None
    with rt.sessions.begin() as session:
        counter = session.get(IdentityLock, code)
        if counter is not None:
            counter.failures = 0
            counter.locked_until = None
        actor = StudentActor(student_no=expected[0], name=expected[1], document_id=doc.id)
        audit(session, actor, "identity_ok", "document", doc.id, ip=ip)
    token = _serializer(rt).dumps({"d": doc.id, "s": expected[0], "n": expected[1]})
    return token, actor


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
