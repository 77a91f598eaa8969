"""Staff accounts' sessions: what ends every session of an account on the server side.

A signed session cookie keeps the account's ``session_version`` from its login; the web
layer refuses a cookie whose version is not the account's current one. Logout, a password
change and disabling the account bump the version, so a cookie copied before any of them
opens nothing afterwards.
"""

from __future__ import annotations

from werkzeug.security import generate_password_hash

from doc_service.errors import NotFoundError
from doc_service.services.runtime import Runtime
from doc_service.storage.models import User


def _bump(user: User) -> None:
    user.session_version = (user.session_version or 0) + 1


def end_sessions(rt: Runtime, user_id: int) -> None:
    """Every session of this account (every browser, every copied cookie) ends now."""
    with rt.sessions.begin() as s:
        user = s.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFoundError("账号不存在")
        _bump(user)


def change_password(rt: Runtime, user_id: int, new_password: str) -> None:
    """Set a new password; sessions opened with the old one end."""
    with rt.sessions.begin() as s:
        user = s.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFoundError("账号不存在")
        user.password_hash = generate_password_hash(new_password)
        _bump(user)


def set_active(rt: Runtime, user_id: int, active: bool) -> None:
    """Enable or disable an account; disabling ends its sessions."""
    with rt.sessions.begin() as s:
        user = s.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFoundError("账号不存在")
        user.active = active
        if not active:
            _bump(user)
