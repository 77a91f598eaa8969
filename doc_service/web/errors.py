"""One place maps errors to HTTP: JSON for the API, a Chinese page for people.

Our own errors carry their status and message; anything else becomes a 500
with a reference number in the log and no traceback for the client. A 429 (a rate limit,
ours or Flask-Limiter's) says in Chinese how long to wait, as ``retry_after`` (seconds) in
the JSON and a ``Retry-After`` header.
"""

from __future__ import annotations

import logging
import secrets

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from doc_service.errors import (
    DocServiceError,
    LockedError,
    StorageFullError,
    caused_by_full_disk,
)
from doc_service.web.security import RateLimitedError

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    400: "请求格式不正确", 401: "请先登录", 403: "无权访问", 404: "页面不存在",
    405: "不支持该请求方法", 413: "上传内容过大", 429: "请求过于频繁，请稍后再试",
}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _render(status: int, payload: dict[str, object]):  # type: ignore[no-untyped-def]
    if _wants_json():
        return jsonify(payload), status
    return render_template("error.html", status=status, payload=payload), status


def _wait_text(seconds: int) -> str:
    return f"{seconds}秒" if seconds < 120 else f"{(seconds + 59) // 60}分钟"


def _too_many(retry_after: int | None, message: str | None = None) -> Response:
    """The 429 answer: a page for people, ``{"error": "rate_limited", …}`` for programs."""
    wait = max(1, int(retry_after or 60))
    text = message or "请求过于频繁"
    payload: dict[str, object] = {"error": "rate_limited",
                                  "message": f"{text.rstrip('，。')}，请{_wait_text(wait)}后再试",
                                  "retry_after": wait}
    response = make_response(_render(429, payload))
    response.headers["Retry-After"] = str(wait)
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(RateLimitedError)
    def _limited(e: RateLimitedError) -> Response:
        return _too_many(e.retry_after)

    @app.errorhandler(RateLimitExceeded)
    def _limiter(e: RateLimitExceeded) -> Response:
        return _too_many(int(e.limit.limit.get_expiry()))

    @app.errorhandler(LockedError)
    def _locked(e: LockedError) -> Response:
        # The identity check's own lock: its code and wording, with how long it lasts.
        response = make_response(_render(e.http_status, e.to_dict()))
        if e.retry_after is not None:
            response.headers["Retry-After"] = str(e.retry_after)
        return response

    @app.errorhandler(DocServiceError)
    def _ours(e: DocServiceError):  # type: ignore[no-untyped-def]
        return _render(e.http_status, e.to_dict())

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):  # type: ignore[no-untyped-def]
        status = e.code or 500
        return _render(status, {"error": e.name.lower().replace(" ", "_"),
                                "message": HTTP_MESSAGES.get(status, e.name)})

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):  # type: ignore[no-untyped-def]
        if caused_by_full_disk(e):
            log.error("disk full on %s %s: %s", request.method, request.path, e)
            full = StorageFullError()
            return _render(full.http_status, full.to_dict())
        ref = secrets.token_hex(4)
        log.exception("unexpected error %s on %s %s", ref, request.method, request.path)
        return _render(500, {"error": "internal", "message": f"服务器内部错误（编号 {ref}），请联系管理员"})
