"""A session ends on the server: a cookie saved before logout (or before a password change,
or before the account was disabled) opens neither the pages nor the API afterwards.

Before issue 15 the session was only a signed cookie: logout cleared the browser's copy,
and a copy saved earlier stayed good for its 8 hours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from doc_service.services.accounts import change_password, end_sessions, set_active
from doc_service.storage.models import User
from tests.web.test_pages import csrf_of, login

COOKIE = "docsvc_session"
WHO = "office"


def _user_id(runtime: Any, username: str) -> int:
    with runtime.sessions() as s:
        return int(s.scalar(select(User.id).where(User.username == username)))


def _replay(app: Any, cookie: str) -> Any:
    """A fresh browser that only has the saved cookie."""
    other = app.test_client()
    other.set_cookie(COOKIE, cookie)
    return other


def _signed_in(client: Any) -> bool:
    page = client.get("/inbox")
    api = client.get("/api/v1/inbox")
    if page.status_code == 200 and api.status_code == 200:
        return True
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert api.status_code == 401 and api.get_json()["error"] == "unauthorized"
    return False


def test_a_cookie_saved_before_logout_opens_nothing_after_it(
        app: Any, client: Any, accounts: dict[str, dict[str, Any]]) -> None:
    csrf = login(client, accounts, WHO)
    saved = client.get_cookie(COOKIE).value
    assert _signed_in(_replay(app, saved))  # the copy works while the session lasts
    resp = client.post("/logout", data={"csrf_token": csrf})
    assert resp.status_code == 302
    assert not _signed_in(_replay(app, saved))
    assert not _signed_in(client)
    # Signing in again opens a new session, which works.
    login(client, accounts, WHO)
    assert _signed_in(client)


@pytest.mark.parametrize("end", ["password", "disable", "logout elsewhere"])
def test_a_new_password_or_a_disabled_account_ends_existing_sessions(
        app: Any, client: Any, runtime: Any, accounts: dict[str, dict[str, Any]],
        end: str) -> None:
    login(client, accounts, WHO)
    user_id = _user_id(runtime, WHO)
    actions: dict[str, Callable[[], None]] = {
        "password": lambda: change_password(runtime, user_id, accounts[WHO]["password"]),
        "disable": lambda: set_active(runtime, user_id, False),
        "logout elsewhere": lambda: end_sessions(runtime, user_id),
    }
    try:
        actions[end]()
        assert not _signed_in(client)
    finally:
        set_active(runtime, user_id, True)
    login(client, accounts, WHO)
    assert _signed_in(client)


def test_the_login_form_still_works_after_a_logout_on_another_browser(
        app: Any, accounts: dict[str, dict[str, Any]]) -> None:
    first, second = app.test_client(), app.test_client()
    login(first, accounts, WHO)
    csrf = login(second, accounts, WHO)
    second.post("/logout", data={"csrf_token": csrf})
    # Logout ends every session of the account (one version per account) ...
    assert not _signed_in(first)
    # ... and the login page is still there for both.
    assert "csrf_token" in first.get("/login").get_data(as_text=True)
    assert csrf_of(first.get("/login").get_data(as_text=True))
