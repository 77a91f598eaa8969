"""Who is asking: staff by session (password) or Bearer token, students by document token.

Staff sign in with a password hashed by Werkzeug's scrypt KDF; the session is
a signed, HttpOnly, SameSite cookie, renewed at login. It carries the account's
``session_version``, compared on every request: logout, a password change and
disabling the account bump it (``services.accounts``), so an old cookie opens nothing.
Failed logins are limited per address and per account. API clients send
``Authorization: Bearer <token>``: a staff API token (stored only as SHA-256)
or a student's short-lived token from ``POST /api/v1/codes/{code}/identity``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from doc_service.errors import AuthError
from doc_service.services import accounts
from doc_service.services.access import Actor, Staff
from doc_service.services.accounts import end_sessions
from doc_service.services.identity import actor_from_token
from doc_service.storage.models import User
from doc_service.web.security import client_ip, rate_limited, rate_limits

bp = Blueprint("auth", __name__)
STAFF_TOKEN_PREFIX = "ds_"


def runtime() -> Any:
    return current_app.extensions["runtime"]


LOGIN_ACCOUNT_FAILURES = 10
LOGIN_ACCOUNT_SECONDS = 15 * 60


def _user_by_id(user_id: int) -> User | None:
    return accounts.active_user(runtime(), user_id)


def _session_user() -> User | None:
    """The signed-in account, if this cookie's session version is still the account's."""
    user = _user_by_id(int(session["user_id"]))
    # A session from before versions existed counts as version 0: the first logout ends it.
    if user is None or session.get("session_version", 0) != user.session_version:
        return None
    return user


def _user_by_token(token: str) -> User | None:
    return accounts.user_by_api_token(runtime(), token)


def current_actor(doc_id: str | None = None) -> Actor | None:
    """The caller, or None. A student token only counts for its own document."""
    if "actor" in g:
        return g.actor  # type: ignore[no-any-return]
    actor: Actor | None = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[7:].strip()
        if token.startswith(STAFF_TOKEN_PREFIX):
            user = _user_by_token(token)
            if user is None:
                raise AuthError("API 令牌无效")
            actor = Staff(user)
        else:
            actor = actor_from_token(runtime(), token)
    elif session.get("user_id"):
        user = _session_user()
        if user is None:
            session.clear()
        else:
            actor = Staff(user)
    g.actor = actor
    return actor


def current_staff() -> Staff | None:
    actor = current_actor()
    return actor if isinstance(actor, Staff) else None


def staff_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """For pages: redirect to the login page when not signed in as staff."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_staff() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return wrapped


def api_actor() -> Actor:
    """For the API: the authenticated caller or a 401."""
    actor = current_actor()
    if actor is None:
        raise AuthError("需要身份认证：请提供 Authorization: Bearer 令牌")
    return actor


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("pages.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
@rate_limited("login", limit=30, per_seconds=300)
def login() -> Any:
    error = None
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()[:40]
        password = request.form.get("password") or ""
        limits = rate_limits()
        if limits is not None:  # per account too: many addresses guessing one password
            limits.check("login-account", LOGIN_ACCOUNT_FAILURES, LOGIN_ACCOUNT_SECONDS,
                         username.lower())
        user = accounts.authenticate(runtime(), username, password, ip=client_ip())
        if user is not None:
            session.clear()  # new session id at privilege change
            session["user_id"] = user.id
            session["session_version"] = user.session_version
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
        if limits is not None:
            limits.hit("login-account", LOGIN_ACCOUNT_FAILURES, LOGIN_ACCOUNT_SECONDS,
                       username.lower())
        error = "用户名或密码不正确"
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout() -> Any:
    staff = current_staff() if "Authorization" not in request.headers else None
    if staff is not None:
        end_sessions(runtime(), staff.user.id)  # every copy of this cookie ends too
    session.clear()
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def _inject() -> dict[str, Any]:
        try:
            staff = current_staff()
        except AuthError:
            staff = None
        return {"me": staff.user if staff else None, "school": runtime().institution}
