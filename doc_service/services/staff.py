"""Staff accounts as the command line meets them: who a command acts as, and their keys.

The command line has no login: a command names the account it acts as (``--as``), or acts
as the first active registrar. Key rotation reads the account here so that the commands
run no queries of their own.
"""

from __future__ import annotations

from sqlalchemy import select

from doc_service.errors import NotFoundError
from doc_service.services.access import Staff
from doc_service.services.runtime import Runtime
from doc_service.storage.models import Role, User
from signing.keystore import SignerIdentity


def acting_staff(rt: Runtime, username: str | None) -> Staff:
    """The active account ``username``, or without one the first active registrar."""
    with rt.sessions() as session:
        q = select(User).where(User.active.is_(True))
        q = (q.where(User.username == username) if username
             else q.where(User.role == Role.REGISTRAR).order_by(User.id))
        user = session.scalars(q.limit(1)).first()
    if user is None:
        raise NotFoundError(f"没有启用的账号 {username}" if username else
                            "系统中没有教务处学籍科账号：请用 --as 指定操作账号")
    return Staff(user)


def rotate_signing_key(rt: Runtime, username: str) -> tuple[User, SignerIdentity]:
    """Issue ``username`` a new signing key and certificate; the old ones stay valid for
    what they already signed."""
    with rt.sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"没有用户 {username}")
        college = user.college.name if user.college else None
    ident = rt.keystore.rotate_signer(f"user-{user.id}", user.name, user.role, college)
    return user, ident
