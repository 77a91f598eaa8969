"""Small fakes for the ports a use case takes, passed in instead of patching module attributes.

Each section names the use cases and tests it serves; add a section of your own below the
others rather than growing someone else's fake.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from doc_service.bootstrap import build_runtime
from doc_service.config import Institution
from doc_service.errors import RenderError
from doc_service.forms.spec import FormSpec
from doc_service.rendering.context import DocumentMeta
from doc_service.rendering.pdf import RenderedPdf
from doc_service.services.runtime import Runtime
from doc_service.storage import batch_models  # noqa: F401 - adds the batch tables to Base
from doc_service.storage.models import Base
from signing.box import SignatureBox

# ---- file store: racers held after reading (decisions.record_decision; tests/web/test_races.py)


class ContentStore(Protocol):
    """What the services need of a content store (``Runtime.store``)."""

    def put(self, data: bytes) -> str: ...

    def get(self, sha256: str) -> bytes: ...


class HeldStore:
    """A content store that holds its first ``parties`` reads at one barrier, then passes
    every call through to ``inner``.

    ``record_decision`` reads the PDF revision once it has checked and planned the decision,
    and before it signs. Holding the racers there means each has passed every check before
    any of them commits, so only the database's ``lock_version`` check can decide.
    """

    def __init__(self, inner: ContentStore, parties: int = 2, *, timeout: float = 60) -> None:
        self._inner = inner
        self._barrier = threading.Barrier(parties)
        self._timeout = timeout
        self._left = parties
        self._lock = threading.Lock()
        self.held = 0
        """How many reads were held (the test checks that every racer got that far)."""

    def get(self, sha256: str) -> bytes:
        with self._lock:
            hold = self._left > 0
            self._left -= hold
            self.held += hold
        if hold:
            self._barrier.wait(timeout=self._timeout)
        return self._inner.get(sha256)

    def put(self, data: bytes) -> str:
        return self._inner.put(data)


# --- issuing: renderer, file store, clock, runtime (services/documents.py, issuing.py) --------


@dataclass(frozen=True)
class RenderCall:
    """One request a :class:`FakeRenderer` answered."""

    form: FormSpec
    data: dict[str, Any]
    meta: DocumentMeta


@dataclass
class FakeRenderer:
    """Stands for WeasyPrint: answers a few bytes that name the document (form, 文号, code,
    version) with a signature area for each visible step, and remembers every request.
    A document whose 学号 is in ``refuse`` fails with a RenderError, as a broken template
    would."""

    refuse: set[str] = field(default_factory=set)
    calls: list[RenderCall] = field(default_factory=list)

    def render(self, form: FormSpec, data: dict[str, Any], meta: DocumentMeta,
               institution: Institution) -> RenderedPdf:
        if data.get("student_no") in self.refuse:
            raise RenderError(f"无法生成 {data.get('student_no')} 的文书")
        self.calls.append(RenderCall(form, dict(data), meta))
        pdf = (f"%PDF-fake {form.id} {meta.number} {meta.code} v{meta.version} "
               f"{meta.document_id}").encode()
        areas = {step.role: SignatureBox(0, 50.0, 100.0 + 60 * i, 250.0, 150.0 + 60 * i)
                 for i, step in enumerate(form.chain) if step.visible}
        return RenderedPdf(pdf=pdf, signature_areas=areas, page_count=1)


@dataclass
class FakeStore:
    """The content-addressed file store, in a dict."""

    blobs: dict[str, bytes] = field(default_factory=dict)

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.blobs[sha] = data
        return sha

    def get(self, sha256: str) -> bytes:
        return self.blobs[sha256]


@dataclass
class FixedClock:
    """A clock that reads ``at`` (naive UTC) until a test moves it."""

    at: dt.datetime

    def now(self) -> dt.datetime:
        return self.at

    def today(self) -> dt.date:
        return self.at.date()


def fake_runtime(instance: Path, store: FakeStore | None = None) -> Runtime:
    """A runtime on an empty SQLite database in ``instance`` (the service tables, no
    migrations, no keys) whose file store is ``store``. The caller disposes its engine."""
    rt = build_runtime(instance, database_url=f"sqlite:///{instance / 'services.db'}",
                       institution=Institution(),
                       store=store if store is not None else FakeStore())
    Base.metadata.create_all(rt.engine)
    return rt
