"""Whether this instance can serve requests: its database answers, its file stores take
writes and its clock agrees with its certificates and records. Behind ``/healthz``, so a
load balancer or a supervisor sees an outage as one; the clock is also checked at start-up."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from archive.store import FileContentStore
from doc_service.services.runtime import Runtime
from doc_service.storage.models import AuditEntry


@dataclass(frozen=True)
class Health:
    """The answer of a health check: ``problems`` is empty when all is well."""

    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


CLOCK_SLACK = dt.timedelta(minutes=5)
"""How far the clock may lag the latest recorded action before it is called wrong."""


def check_health(rt: Runtime, *, now: dt.datetime | None = None) -> Health:
    """Ask the database for ``SELECT 1``, write a scrap file into each file store, and check
    the clock (``now``, naive UTC; the system clock by default)."""
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
    if not problems:
        problems.extend(clock_problems(rt, now=now))
    return Health(tuple(problems))


def clock_problems(rt: Runtime, *, now: dt.datetime | None = None) -> list[str]:
    """What is wrong with the clock, judged by the school's certificates (root, TSA, seals:
    a clock before their start or after their end makes every seal fail validation) and by
    the latest action the database recorded (a clock behind it dates documents wrongly)."""
    at = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    problems: list[str] = []
    if rt.keystore.initialized:
        ks = rt.keystore
        certs: dict[str, x509.Certificate] = {"根证书": ks.root_cert(),
                                              "时间戳证书": ks.tsa_identity()[0],
                                              "学校印章证书": ks.seal_identity().cert}
        for label, cert in certs.items():
            if at < cert.not_valid_before_utc.replace(tzinfo=None):
                problems.append(f"服务器时钟早于{label}的生效时间"
                                f"（{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC）：时钟可能慢了，请校准时间")
            elif at > cert.not_valid_after_utc.replace(tzinfo=None):
                problems.append(f"服务器时钟晚于{label}的到期时间"
                                f"（{cert.not_valid_after_utc:%Y-%m-%d} UTC）：时钟可能快了，或证书需要更新")
    try:
        with rt.sessions() as session:
            latest = session.scalar(select(func.max(AuditEntry.at)))
    except SQLAlchemyError:
        latest = None  # no audit table yet (not migrated): nothing recorded to compare with
    if latest is not None and at + CLOCK_SLACK < latest:
        problems.append(f"服务器时钟早于最近一次操作的记录时间（{latest:%Y-%m-%d %H:%M} UTC）："
                        "时钟可能慢了，请校准时间")
    return problems


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
