"""Staff accounts: signing in (password or API token) and what ends every session of an
account on the server side.

A signed session cookie keeps the account's ``session_version`` from its login; the web
layer refuses a cookie whose version is not the account's current one. Logout, a password
change and disabling the account bump the version, so a cookie copied before any of them
opens nothing afterwards.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from doc_service.errors import NotFoundError
from doc_service.services.access import Staff
from doc_service.services.audit import audit
from doc_service.services.runtime import Runtime
from doc_service.storage.models import User

MAX_PASSWORD = 200
"""Longer input is cut before hashing (scrypt's cost grows with it)."""


def active_user(rt: Runtime, user_id: int) -> User | None:
    """The account ``user_id`` if it exists and is enabled."""
    with rt.sessions() as s:
        user = s.get(User, user_id)
        return user if user is not None and user.active else None


def user_by_api_token(rt: Runtime, token: str) -> User | None:
    """The enabled account whose API token this is (only its SHA-256 is stored)."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    with rt.sessions() as s:
        user = s.scalar(select(User).where(User.api_token_hash == digest))
        return user if user is not None and user.active else None


def authenticate(rt: Runtime, username: str, password: str, *,
                 ip: str | None = None) -> User | None:
    """The enabled account if ``password`` is its own, else None; either way audited."""
    with rt.sessions.begin() as s:
        user = s.scalar(select(User).where(User.username == username))
        ok = (user is not None and user.active
              and check_password_hash(user.password_hash, password[:MAX_PASSWORD]))
        audit(s, Staff(user) if ok and user else None, "login" if ok else "login_failed",
              "user", username, ip=ip)
    return user if ok else None


def _bump(rt: Runtime, user_id: int, **values: Any) -> None:
    """Set ``values`` and bump the session version, in one UPDATE (two at once both count)."""
    with rt.sessions.begin() as s:
        result = s.execute(update(User).where(User.id == user_id).values(
            session_version=User.session_version + 1, **values))
        if not getattr(result, "rowcount", 0):
            raise NotFoundError("账号不存在")


def end_sessions(rt: Runtime, user_id: int) -> None:
    """Every session of this account (every browser, every copied cookie) ends now."""
    _bump(rt, user_id)


def change_password(rt: Runtime, user_id: int, new_password: str) -> None:
    """Set a new password; sessions opened with the old one end."""
    _bump(rt, user_id, password_hash=generate_password_hash(new_password))


def set_active(rt: Runtime, user_id: int, active: bool) -> None:
    """Enable or disable an account; disabling ends its sessions."""
    if active:
        with rt.sessions.begin() as s:
            s.execute(update(User).where(User.id == user_id).values(active=True))
        return
    _bump(rt, user_id, active=False)
