"""A request body without Content-Length (chunked) is held to ``MAX_CONTENT_LENGTH`` too.

Werkzeug reads such a body (the server sets ``wsgi.input_terminated``) only up to the limit
and then stops without a word, so a 25 MiB upload would be checked as its first 20 MiB.
This middleware reads the body first, up to one byte past the limit: within it, the request
goes on with a Content-Length like any other; past it, it goes on with a Content-Length
over the limit and no body, so the first read raises Flask's 413 (shown by ``web.errors``
as a Chinese page or JSON, like any upload that declared its size).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wsgi import get_content_length

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
CHUNK = 1024 * 1024


class BoundedBody:
    """WSGI middleware: buffer a body of unknown length, at most ``limit() + 1`` bytes."""

    def __init__(self, app: WSGIApp, limit: Callable[[], int | None]) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        limit = self.limit()
        if (limit is not None and get_content_length(environ) is None
                and environ.get("wsgi.input_terminated")):
            body = _read_at_most(environ["wsgi.input"], limit + 1)
            # now of known length: Werkzeug would ignore Content-Length next to "chunked"
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input"] = io.BytesIO(b"" if len(body) > limit else body)
        return self.app(environ, start_response)


def _read_at_most(stream: Any, size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        chunk = stream.read(min(CHUNK, size - len(out)))
        if not chunk:
            break
        out += chunk
    return bytes(out)
