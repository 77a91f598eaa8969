"""Response hardening, CSRF protection and a small rate limiter.

CSRF: every session-authenticated state change must carry the session's
token (form field ``csrf_token`` or header ``X-CSRF-Token``). Bearer-token API
calls and JSON API calls (which no cross-site form can send) are exempt. The limiter is per client address, in
memory (one process); it keeps guessing and scraping slow, not a DDoS shield.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, g, request, session

from doc_service.errors import DocServiceError

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class CsrfError(DocServiceError):
    code = "csrf"
    http_status = 400


class RateLimitedError(DocServiceError):
    code = "rate_limited"
    http_status = 429


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


def csrf_exempt(view: Callable[..., Any]) -> Callable[..., Any]:
    """For endpoints without ambient authority (public, nothing changes for the caller)."""
    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view


def _check_csrf() -> None:
    if request.method in SAFE_METHODS or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "csrf_exempt", False):
        return
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return  # API clients: no ambient cookie authority to abuse
    if request.path.startswith("/api/") and not session.get("user_id"):
        return  # no signed-in session: nothing a forged request could borrow
    if request.path.startswith("/api/") and request.mimetype == "application/json":
        # A cross-site page cannot send application/json without a CORS preflight,
        # which this service never grants: JSON calls cannot be forged from a form.
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        raise CsrfError("页面已过期或来源不明（CSRF 校验失败），请刷新页面后重试")


class RateLimiter:
    def __init__(self) -> None:
        self._hits: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, bucket: str, key: str, limit: int, per_seconds: int) -> bool:
        now = time.monotonic()
        with self._lock:
            q = self._hits[(bucket, key)]
            while q and q[0] <= now - per_seconds:
                q.popleft()
            if len(q) >= limit:
                return False
            q.append(now)
            return True


def rate_limited(bucket: str, limit: int, per_seconds: int) -> Callable[..., Any]:
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_app.config.get("RATELIMIT_ENABLED", True):
                limiter: RateLimiter = current_app.extensions["rate_limiter"]
                if not limiter.hit(bucket, client_ip() or "-", limit, per_seconds):
                    raise RateLimitedError("请求过于频繁，请稍后再试")
            return view(*args, **kwargs)
        return wrapped
    return decorator


def client_ip() -> str | None:
    return request.remote_addr


def _headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
    if request.path.startswith(("/api/", "/d/")) or getattr(g, "no_store", False):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.extensions["rate_limiter"] = RateLimiter()
    app.before_request(_check_csrf)
    app.after_request(_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
