"""Page images of a document's PDF, for reading it on a phone.

Each PDF revision is rasterised once with poppler's ``pdftoppm`` (110 dpi PNG,
sharp enough to read an A4 form on a 390 px screen when zoomed) and cached as
``<instance>/cache/previews/<pdf sha256>-<page>.png``. The cache key is the
content hash, never anything personal: an ID number must not appear in a path.
Callers authorize first (``documents.get_document``); this module only turns
bytes into pictures.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from doc_service.errors import NotFoundError, RenderError
from doc_service.services.runtime import Runtime

DPI = 110
MAX_PAGES = 50
"""Our forms are one or two pages; a cap keeps a hostile PDF from filling the disk."""
TIMEOUT_SECONDS = 60
_SHA = re.compile(r"[0-9a-f]{64}")


def cache_dir(rt: Runtime) -> Path:
    path = rt.instance / "cache" / "previews"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _count_file(rt: Runtime, sha256: str) -> Path:
    return cache_dir(rt) / f"{sha256}.pages"


def _page_file(rt: Runtime, sha256: str, page: int) -> Path:
    return cache_dir(rt) / f"{sha256}-{page}.png"


def _render(rt: Runtime, sha256: str) -> int:
    """Rasterise every page into the cache; the page count is written last (the commit)."""
    pdf = rt.store.get(sha256)
    with tempfile.TemporaryDirectory(prefix="preview-", dir=cache_dir(rt)) as tmp:
        src = Path(tmp) / "doc.pdf"
        src.write_bytes(pdf)
        try:
            subprocess.run(["pdftoppm", "-r", str(DPI), "-png", "-l", str(MAX_PAGES),
                            str(src), str(Path(tmp) / "p")],
                           capture_output=True, timeout=TIMEOUT_SECONDS, check=True)
        except (OSError, subprocess.SubprocessError) as e:
            raise RenderError("无法生成文书页面预览，请下载 PDF 查看") from e
        # pdftoppm pads page numbers to the width of the page count (p-1.png or p-01.png).
        pages = sorted(Path(tmp).glob("p-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        if not pages:
            raise RenderError("无法生成文书页面预览，请下载 PDF 查看")
        for n, png in enumerate(pages, start=1):
            os.replace(png, _page_file(rt, sha256, n))  # atomic: readers never see half a file
        count_tmp = Path(tmp) / "count"
        count_tmp.write_text(str(len(pages)))
        os.replace(count_tmp, _count_file(rt, sha256))
    return len(pages)


def page_count(rt: Runtime, sha256: str) -> int:
    """How many pages the PDF revision has, rendering its previews if not cached yet."""
    if not _SHA.fullmatch(sha256):
        raise NotFoundError("没有找到该页面")
    try:
        return int(_count_file(rt, sha256).read_text())
    except (FileNotFoundError, ValueError):
        return _render(rt, sha256)


def page_png(rt: Runtime, sha256: str, page: int) -> bytes:
    """The PNG of one page (1-based) of the PDF revision ``sha256``."""
    if page < 1 or page > page_count(rt, sha256):
        raise NotFoundError("没有找到该页面")
    path = _page_file(rt, sha256, page)
    if not path.exists():  # cache pruned under us: render again
        _render(rt, sha256)
    return path.read_bytes()
