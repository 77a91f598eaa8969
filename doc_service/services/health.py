"""Whether this instance can serve requests: its database answers and its file stores take
writes. Behind ``/healthz``, so a load balancer or a supervisor sees an outage as one."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from archive.store import FileContentStore
from doc_service.services.runtime import Runtime


@dataclass(frozen=True)
class Health:
    """The answer of a health check: ``problems`` is empty when all is well."""

    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_health(rt: Runtime) -> Health:
    """Ask the database for ``SELECT 1`` and write a scrap file into each file store."""
    problems: list[str] = []
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as e:
        # the driver's error class names the cause (OperationalError: refused, ...) without
        # the connection string, which may hold a password
        cause = getattr(e, "orig", None) or e
        problems.append(f"数据库无法访问：{type(cause).__name__}")
    stores = {"文书文件库": rt.store, "档案库": rt.archive}
    for label, store in stores.items():
        if isinstance(store, FileContentStore):
            problem = _unwritable(store.root)
            if problem:
                problems.append(f"{label}无法写入：{problem}")
    return Health(tuple(problems))


def _unwritable(root: Path) -> str | None:
    """Why a file cannot be written under ``root``, or ``None`` when one can (the scrap file
    is anonymous and gone when closed, so no scan of the store ever sees it)."""
    try:
        with tempfile.TemporaryFile(dir=root, prefix=".healthz-") as scrap:
            scrap.write(b"ok")
            scrap.flush()
    except OSError as e:
        return e.strerror or type(e).__name__
    return None
