"""The zlib level of the PDF streams WeasyPrint writes.

WeasyPrint writes PDFs through pydyf, which deflates every stream at level 9. On our
pages (a font subset, a content stream, a QR image) level 9 takes a sixth of the whole
render and saves 0.2 % of the size against zlib's own default, level 6. pydyf has no
setting for it, so :func:`use_level` gives pydyf's module a ``zlib`` whose
``compressobj`` uses the chosen level; the streams stay standard FlateDecode.
"""

from __future__ import annotations

import types
import zlib
from typing import Any

import pydyf

DEFAULT_LEVEL = 6


def _zlib_at(level: int) -> types.SimpleNamespace:
    def compressobj(*_args: Any, **_kwargs: Any) -> Any:
        return zlib.compressobj(level)

    shim = types.SimpleNamespace(**{name: getattr(zlib, name) for name in dir(zlib)
                                    if not name.startswith("__")})
    shim.compressobj = compressobj
    shim.level = level
    return shim


def use_level(level: int = DEFAULT_LEVEL) -> None:
    """Make pydyf deflate at ``level`` (idempotent; a no-op if pydyf changes its design)."""
    current = getattr(pydyf, "zlib", None)
    if current is zlib or getattr(current, "level", None) is not None:
        pydyf.zlib = _zlib_at(level)  # type: ignore[attr-defined]
