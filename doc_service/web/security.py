"""Response hardening, CSRF protection and rate limits.

CSRF: every session-authenticated state change must carry the session's
token (form field ``csrf_token`` or header ``X-CSRF-Token``). Bearer-token API
calls and JSON API calls (which no cross-site form can send) are exempt.

Rate limits go through Flask-Limiter's storage: Redis when ``REDIS_URL`` is set (shared by
every worker process), memory otherwise (one process). They keep guessing and scraping
slow, not a DDoS shield: per client address, per (address, QR code) on the signing pages,
per account for login failures.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, g, request, session
from flask_limiter import Limiter
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from redis.exceptions import RedisError

from doc_service.errors import DocServiceError

log = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
RATE_LIMITS = "doc_service_rate_limits"


class CsrfError(DocServiceError):
    code = "csrf"
    http_status = 400


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


class RateLimitedError(DocServiceError):
    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RateLimits:
    """The app's Flask-Limiter and the checks the views make through its storage.

    Counts live in the limiter's storage (Redis when ``REDIS_URL`` is set, so every worker
    and every process shares them; memory otherwise). Keys are
    ``(prefix, bucket, key…)``; the views choose the key (an address, an address and a
    code, an account).
    """

    limiter: Limiter
    prefix: str

    def _ids(self, bucket: str, keys: tuple[str, ...]) -> tuple[str, ...]:
        return (self.prefix, bucket, *keys)

    def hit(self, bucket: str, limit: int, per_seconds: int, *keys: str) -> None:
        """Count one request; RateLimitedError when the window is full."""
        item = RateLimitItemPerSecond(limit, per_seconds)
        if not self._call(self.limiter.limiter.hit, item, self._ids(bucket, keys)):
            raise RateLimitedError("请求过于频繁，请稍后再试",
                                   retry_after=self._retry_after(item, bucket, keys))

    def check(self, bucket: str, limit: int, per_seconds: int, *keys: str) -> None:
        """RateLimitedError when the window is full, without counting this request."""
        item = RateLimitItemPerSecond(limit, per_seconds)
        if not self._call(self.limiter.limiter.test, item, self._ids(bucket, keys)):
            raise RateLimitedError("请求过于频繁，请稍后再试",
                                   retry_after=self._retry_after(item, bucket, keys))

    def _retry_after(self, item: RateLimitItem, bucket: str, keys: tuple[str, ...]) -> int:
        try:
            stats = self.limiter.limiter.get_window_stats(item, *self._ids(bucket, keys))
        except (RedisError, StorageError) as e:
            log.warning("rate limit storage unavailable: %s", e)
            return int(item.get_expiry())
        return max(1, int(stats.reset_time - time.time()) + 1)

    @staticmethod
    def _call(method: Callable[..., bool], item: RateLimitItem, ids: tuple[str, ...]) -> bool:
        try:
            return method(item, *ids)
        except (RedisError, StorageError) as e:
            # An unreachable Redis must not take the service down with it: let the request
            # through and say so loudly.
            log.warning("rate limit storage unavailable, request not limited: %s", e)
            return True


def rate_limits() -> RateLimits | None:
    """This app's limits, or None when rate limiting is switched off (RATELIMIT_ENABLED)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    limits: RateLimits | None = current_app.extensions.get(RATE_LIMITS)
    return limits


def rate_limited(bucket: str, limit: int, per_seconds: int, *,
                 per_code: bool = False) -> Callable[..., Any]:
    """At most ``limit`` requests per ``per_seconds`` per client address for this view.

    ``per_code``: count per (address, the view's ``code`` argument) instead, so that many
    people behind one address (a campus NAT), each with their own document, do not share
    one count.
    """
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            limits = rate_limits()
            if limits is not None:
                keys = [client_ip() or "-"]
                if per_code:
                    keys.append(str(kwargs.get("code", ""))[:16].upper())
                limits.hit(bucket, limit, per_seconds, *keys)
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


def storage_uri(app: Flask) -> str:
    """Where the counts live: ``RATELIMIT_STORAGE_URI``, else ``REDIS_URL``, else memory."""
    return str(app.config.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL")
               or "memory://")


def init_app(app: Flask) -> None:
    # One Limiter per app: its storage is the limiter's own, so two apps in one process
    # (tests) share counts only when they share a Redis.
    app.config["RATELIMIT_STORAGE_URI"] = storage_uri(app)
    prefix = str(app.config.setdefault("RATELIMIT_KEY_PREFIX", "doc-service"))
    limiter = Limiter(key_func=lambda: client_ip() or "-", app=app, strategy="moving-window")
    if limiter.enabled:
        app.extensions[RATE_LIMITS] = RateLimits(limiter, prefix)
    app.before_request(_check_csrf)
    app.after_request(_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
