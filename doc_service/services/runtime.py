"""The parts a use case works with: one typed bundle, built by :mod:`doc_service.bootstrap`.

This module imports no service. What needs one (archiving on seal, the calendar over the
override table, the batch dispatcher and process pool) is handed in by the composition
root as a typed callable or Protocol, so ``runtime`` stays at the bottom of the services.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Protocol

from cryptography import x509
from pyhanko.sign.timestamps.api import TimeStamper
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from archive.store import FileContentStore
from doc_service.config import Institution
from doc_service.storage.models import Document
from signing.keystore import KeyStore


class ContentStore(Protocol):
    """Content-addressed bytes (implemented by ``archive.store.FileContentStore``)."""

    def put(self, data: bytes) -> str: ...

    def get(self, sha256: str) -> bytes: ...


class Calendar(Protocol):
    """Working days for deadlines (implemented by ``services.deadlines.ServiceCalendar``)."""

    def add_working_days(self, start: dt.date, n: int) -> dt.date: ...

    def is_workday(self, day: dt.date) -> bool: ...


class BatchDispatcher(Protocol):
    """Gets a batch job's pending items issued, somewhere (a thread here, or RQ workers)."""

    def submit(self, rt: Runtime, job_id: str, item_ids: list[int]) -> None: ...


class ProcessPool(Protocol):
    """Issues groups of batch items in fresh local processes, each with a runtime of its
    own built from this one's recipe; yields each group's item states, in order."""

    def issue_groups(self, rt: Runtime, groups: list[list[int]], workers: int
                     ) -> Iterator[list[str | None]]: ...


KeyStoreSource = Callable[[], KeyStore]
TimeStamperSource = Callable[[KeyStore], TimeStamper]
FontSource = Callable[[], str]
"""The path of the regular subset font (built on first use)."""
CalendarSource = Callable[[sessionmaker[Session]], Calendar]
"""A calendar read through the given sessions (the override table, one small query)."""
SealedHook = Callable[["Runtime", Document], None]
"""Runs right after a document's last signature (archiving)."""


@dataclass
class Runtime:
    """Everything a use case needs, typed; built only by ``bootstrap.build_runtime``.

    The key store, time stamper and fonts are built on first use from their sources:
    opening the key store may create the development passphrase (with its warning), the
    local time stamper needs the keys to exist, and building the fonts takes seconds.
    """

    instance: Path
    engine: Engine
    institution: Institution
    store: ContentStore
    """Working files (drafts, signed versions), content-addressed."""
    archive: FileContentStore
    """The write-once archive's own content store (separate from the working files)."""
    keystore_source: KeyStoreSource
    timestamper_source: TimeStamperSource
    font_source: FontSource
    calendar_source: CalendarSource
    dispatcher: BatchDispatcher
    pool: ProcessPool
    on_sealed: SealedHook
    secret_key: str = ""
    redis_url: str | None = None
    """``REDIS_URL``: batch jobs go to RQ workers (the dispatcher is then an RQ one)."""
    batch_processes: int | None = None
    """``DOC_SERVICE_BATCH_PROCESSES``: local processes a big batch may use (None: one per
    core)."""

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return sessionmaker(self.engine, expire_on_commit=False)

    @cached_property
    def keystore(self) -> KeyStore:
        return self.keystore_source()

    @cached_property
    def timestamper(self) -> TimeStamper:
        return self.timestamper_source(self.keystore)

    @cached_property
    def trust_roots(self) -> list[x509.Certificate]:
        return [self.keystore.root_cert()]

    @cached_property
    def font_path(self) -> str:
        return self.font_source()

    @property
    def calendar(self) -> Calendar:
        """Re-read per use (one small query) so overrides entered elsewhere apply at once."""
        return self.calendar_source(self.sessions)


_SHARED = ("keystore", "timestamper", "trust_roots", "font_path")
"""Parts built on first use that a joined view shares with its runtime."""


def joined_runtime(rt: Runtime, conn: Connection) -> Runtime:
    """A view of ``rt`` whose sessions run as SAVEPOINTs inside ``conn``'s transaction."""
    view = replace(rt)
    for name in _SHARED:
        if name in rt.__dict__:
            view.__dict__[name] = rt.__dict__[name]
    view.__dict__["sessions"] = sessionmaker(bind=conn, expire_on_commit=False,
                                             join_transaction_mode="create_savepoint")
    return view
