"""The composition root: the one place that builds a :class:`Runtime` and its parts.

The web app (``web.create_app``), every CLI command, each batch pool process and each RQ
worker get their runtime from :func:`build_runtime`; nothing else constructs the engine,
the stores, the key store, the time stamper, the calendar or the batch dispatcher. The
environment is read here, once, into typed fields::

    rt = build_runtime(instance_path(), migrate=True)

A spawned pool process gets a :class:`RuntimeRecipe` (plain, picklable arguments) and
calls :func:`build_runtime` itself.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from pyhanko.sign.timestamps.api import TimeStamper

from archive.store import FileContentStore
from doc_service import db
from doc_service.config import Institution, instance_secret, load_institution
from doc_service.migrations import upgrade
from doc_service.rendering.fonts import ensure_fonts
from doc_service.services.archiving import on_sealed
from doc_service.services.batch import THREADS, RqDispatcher, set_worker_runtime, worker_runtime
from doc_service.services.batch_items import issue_items
from doc_service.services.deadlines import make_calendar
from doc_service.services.runtime import BatchDispatcher, ContentStore, Runtime
from signing.keystore import KeyStore, resolve_passphrase
from signing.tsa import configured_timestamper

TSA_URL_ENV = "DOC_SERVICE_TSA_URL"
"""An external RFC 3161 time-stamping authority instead of the built-in one."""
REDIS_URL_ENV = "REDIS_URL"
"""Batch jobs go to ``doc-service worker`` processes through RQ."""
BATCH_PROCESSES_ENV = "DOC_SERVICE_BATCH_PROCESSES"
"""Without Redis, how many local processes a big batch may use (default: one per core)."""


def build_runtime(instance: Path, *, database_url: str | None = None,
                  secret_key: str | None = None, institution: Institution | None = None,
                  store: ContentStore | None = None, dispatcher: BatchDispatcher | None = None,
                  redis_url: str | None = None, batch_processes: int | None = None,
                  migrate: bool = False) -> Runtime:
    """The runtime of the instance folder ``instance``.

    Each keyword replaces what would otherwise come from the instance folder or the
    environment: ``database_url`` (``DATABASE_URL``, else the instance's SQLite file),
    ``secret_key`` (the instance's own secret), ``institution`` (``institution.json``),
    ``store`` (``instance/files``), ``dispatcher`` (RQ when ``redis_url``/``REDIS_URL`` is
    set, else a thread), ``batch_processes`` (``DOC_SERVICE_BATCH_PROCESSES``).
    ``migrate`` brings the database to the latest revision first.
    """
    engine = db.make_engine(database_url or db.database_url(instance))
    if migrate:
        upgrade(engine)
    redis = redis_url or os.environ.get(REDIS_URL_ENV) or None
    return Runtime(
        instance=instance, engine=engine,
        institution=institution or load_institution(instance),
        store=store if store is not None else FileContentStore(instance / "files"),
        archive=FileContentStore(instance / "archive"),
        keystore_source=partial(_open_keystore, instance),
        timestamper_source=partial(_timestamper, url=os.environ.get(TSA_URL_ENV) or None),
        font_source=_regular_font,
        calendar_source=make_calendar,
        dispatcher=dispatcher or (RqDispatcher(redis) if redis else THREADS),
        pool=SPAWN_POOL,
        on_sealed=on_sealed,
        secret_key=instance_secret(instance) if secret_key is None else secret_key,
        redis_url=redis,
        batch_processes=(batch_processes if batch_processes is not None
                         else _processes(os.environ.get(BATCH_PROCESSES_ENV))),
    )


def _open_keystore(instance: Path) -> KeyStore:
    return KeyStore(instance / "keys", resolve_passphrase(instance))


def _timestamper(keystore: KeyStore, url: str | None) -> TimeStamper:
    return configured_timestamper(keystore, url)


def _regular_font() -> str:
    return str(ensure_fonts()["Regular"])


def _processes(value: str | None) -> int | None:
    """``DOC_SERVICE_BATCH_PROCESSES`` as a count: unset means one per core; a value that
    is not a number means one process (never a crash at start-up)."""
    if not value:
        return None
    try:
        return max(1, int(value))
    except ValueError:
        return 1


# --- other processes -------------------------------------------------------------------

@dataclass(frozen=True)
class RuntimeRecipe:
    """What a spawned process needs to build the same runtime: the same database, working
    store, school and secret (plain values; the engine and its pool are not picklable)."""

    instance: Path
    database_url: str
    secret_key: str
    institution: Institution
    store: FileContentStore

    @classmethod
    def of(cls, rt: Runtime) -> RuntimeRecipe:
        if not isinstance(rt.store, FileContentStore):
            raise ValueError("another process cannot open a store that lives in this one")
        return cls(instance=rt.instance,
                   database_url=rt.engine.url.render_as_string(hide_password=False),
                   secret_key=rt.secret_key, institution=rt.institution, store=rt.store)

    def build(self) -> Runtime:
        return build_runtime(self.instance, database_url=self.database_url,
                             secret_key=self.secret_key, institution=self.institution,
                             store=self.store)


class SpawnPool:
    """Batch groups over freshly spawned local processes, each building its runtime from
    this one's :class:`RuntimeRecipe` as it starts."""

    def issue_groups(self, rt: Runtime, groups: list[list[int]], workers: int
                     ) -> Iterator[list[str | None]]:
        # "spawn", not fork: this may run in a thread of a web worker, where forking could
        # copy a lock some other thread holds.
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                   initializer=_enter_pool_process,
                                   initargs=(RuntimeRecipe.of(rt), os.getpid()))
        try:
            yield from pool.map(_issue_group_here, groups)
        finally:
            # Interrupted (Ctrl-C, an error, the caller stopped reading): hand out no more
            # groups; each process finishes the one it holds (a plain shutdown would first
            # issue every group still queued).
            pool.shutdown(wait=True, cancel_futures=True)


SPAWN_POOL = SpawnPool()

PARENT_CHECK_S = 1.0
"""How often a pool process checks that the process that started it is still there."""


def _enter_pool_process(recipe: RuntimeRecipe, parent_pid: int) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True,
                     name="exit-with-parent").start()
    set_worker_runtime(recipe.build())


def _exit_with_parent(parent_pid: int) -> None:
    """End this pool process once its parent is gone (killed, even with SIGKILL, which
    leaves it no chance to stop its pool): an orphan would go on issuing a job nobody
    follows. A group it held stays claimed with its numbers, and a resume issues it."""
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent_pid:
            os._exit(1)


def _issue_group_here(item_ids: list[int]) -> list[str | None]:
    """Issue a group of items with this pool process's runtime."""
    return issue_items(worker_runtime(), item_ids)
