"""The adapters a use case needs, built once per process from the instance folder."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from doc_service.config import Institution, load_institution
from doc_service.db import database_url, make_engine


class BlobStore(Protocol):
    """Content-addressed bytes (implemented by ``archive.store.FileContentStore``)."""

    def put(self, data: bytes) -> str: ...

    def get(self, sha256: str) -> bytes: ...


@dataclass
class Runtime:
    instance: Path
    engine: Engine
    institution: Institution
    store: BlobStore
    secret_key: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return sessionmaker(self.engine, expire_on_commit=False)

    @cached_property
    def keystore(self) -> Any:
        from signing.keystore import KeyStore, resolve_passphrase

        return KeyStore(self.instance / "keys", resolve_passphrase(self.instance))

    @cached_property
    def timestamper(self) -> Any:
        from signing.tsa import configured_timestamper

        return configured_timestamper(self.keystore, os.environ.get("DOC_SERVICE_TSA_URL"))

    @cached_property
    def trust_roots(self) -> list[Any]:
        return [self.keystore.root_cert()]

    @cached_property
    def font_path(self) -> str:
        from doc_service.rendering.fonts import ensure_fonts

        return str(ensure_fonts()["Regular"])

    @property
    def calendar(self) -> Any:
        """Re-read per use (one small query) so overrides entered elsewhere apply at once."""
        from doc_service.services.deadlines import make_calendar

        return make_calendar(self)


def open_runtime(instance: Path, *, secret_key: str = "", url: str | None = None) -> Runtime:
    from archive.store import FileContentStore
    from doc_service.services.archiving import on_sealed

    engine = make_engine(url or database_url(instance))
    return Runtime(instance=instance, engine=engine, institution=load_institution(instance),
                   store=FileContentStore(instance / "files"), secret_key=secret_key,
                   settings={"on_sealed": on_sealed})


def joined_runtime(rt: Runtime, conn: Connection) -> Runtime:
    """A view of ``rt`` whose sessions run as SAVEPOINTs inside ``conn``'s transaction."""
    view = replace(rt)
    for name in ("keystore", "timestamper", "trust_roots", "font_path"):
        if name in rt.__dict__:
            view.__dict__[name] = rt.__dict__[name]
    view.__dict__["sessions"] = sessionmaker(bind=conn, expire_on_commit=False,
                                             join_transaction_mode="create_savepoint")
    return view
