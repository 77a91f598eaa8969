"""Staff accounts' sessions: what ends every session of an account on the server side.

A signed session cookie keeps the account's ``session_version`` from its login; the web
layer refuses a cookie whose version is not the account's current one. Logout, a password
change and disabling the account bump the version, so a cookie copied before any of them
opens nothing afterwards.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from werkzeug.security import generate_password_hash

from doc_service.errors import NotFoundError
from doc_service.services.runtime import Runtime
from doc_service.storage.models import User


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
