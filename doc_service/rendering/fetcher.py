"""The only URL fetcher WeasyPrint gets: the form's own assets, nothing else.

Templates refer to assets (CSS, fonts, images) relative to a fixed virtual
base ``https://assets.doc-service.invalid/forms/<form_id>/``; this fetcher maps
that host onto ``templates/forms`` (and ``templates/fonts``) and refuses every
other URL: ``file://``, the network, and paths that climb out with ``..``.
``data:`` URIs (our QR codes) carry their bytes inline and are allowed.
Refused URLs are recorded, so tests can prove nothing was fetched.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint import URLFetcher
from weasyprint.urls import URLFetcherResponse

log = logging.getLogger(__name__)

ASSET_HOST = "assets.doc-service.invalid"
ASSET_BASE = f"https://{ASSET_HOST}/"
_TYPES = {".otf": "font/otf", ".ttf": "font/ttf", ".css": "text/css", ".svg": "image/svg+xml",
          ".png": "image/png", ".jpg": "image/jpeg"}


class AssetOnlyFetcher(URLFetcher):
    """Serve ``https://assets.doc-service.invalid/<mount>/<path>`` from local folders."""

    def __init__(self, mounts: dict[str, Path]) -> None:
        super().__init__(allowed_protocols=("https", "data"))
        self._mounts = {name: path.resolve() for name, path in mounts.items()}
        self.refused: list[str] = []

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            return self._data(url)
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname == ASSET_HOST and not parts.query:
            mount, _, rest = unquote(parts.path).lstrip("/").partition("/")
            root = self._mounts.get(mount)
            if root is not None:
                target = (root / rest).resolve()
                if target.is_relative_to(root) and target.is_file():
                    ctype = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
                    return URLFetcherResponse(url, target.read_bytes(),
                                              {"Content-Type": ctype or "application/octet-stream"})
        self.refused.append(url)
        log.warning("refused to fetch %r while rendering a form", url[:200])
        raise ValueError(f"URL not allowed in forms: {url[:200]}")

    @staticmethod
    def _data(url: str) -> URLFetcherResponse:
        header, _, payload = url[5:].partition(",")
        ctype = header.split(";")[0] or "text/plain"
        body = base64.b64decode(payload) if header.endswith(";base64") else unquote(payload).encode()
        return URLFetcherResponse(url, body, {"Content-Type": ctype})
