"""Fixtures for the archive tests: an index on SQLite and on PostgreSQL, a store, real PDFs.

Every database test runs twice (``engine`` is parametrized). On PostgreSQL each test gets a
schema of its own (``arch_<session>_<n>``, dropped afterwards), so parallel runs and other
suites sharing the ``test`` database never collide.
"""

from __future__ import annotations

import io
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import click
import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from archive.index import install
from archive.model import ArchiveInput, Retention
from archive.service import search
from archive.store import FileContentStore
from doc_service.commands.archive import register
from signing.chain import ApprovalChain, ChainStep
from signing.fonts import NOTO_SERIF_CJK, subset_font
from signing.keystore import KeyStore
from signing.pdf_sign import SignatureBox
from signing.records import ChainRecord, Decision, chain_document_bytes
from signing.steps import record_and_sign
from signing.tsa import configured_timestamper

PG_URL = os.environ.get("ARCHIVE_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_SESSION = uuid.uuid4().hex[:8]
_counter = itertools.count()


def sqlite_engine(path: str) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(conn, _record):  # type: ignore[no-untyped-def]
        cur = conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


@pytest.fixture(scope="session")
def pg_available() -> bool:
    try:
        e = create_engine(PG_URL)
        with e.connect():
            pass
        e.dispose()
        return True
    except OperationalError:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def make_engine(request: pytest.FixtureRequest, tmp_path,
                pg_available) -> Iterator[Callable[[], Engine]]:
    """``make_engine()`` -> a new, empty, installed index of this test's database kind."""
    if request.param == "postgresql" and not pg_available:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    made: list[tuple[Engine, str | None]] = []

    def make() -> Engine:
        n = next(_counter)
        if request.param == "sqlite":
            eng = sqlite_engine(str(tmp_path / f"index-{n}.db"))
            made.append((eng, None))
        else:
            schema = f"arch_{_SESSION}_{n}"
            with admin.connect() as c:
                c.execute(text(f"CREATE SCHEMA {schema}"))
            eng = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
            made.append((eng, schema))
        install(eng)
        return eng

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        yield make
    finally:
        for eng, schema in made:
            eng.dispose()
            if schema:
                with admin.connect() as c:
                    c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def engine(make_engine) -> Engine:
    return make_engine()


@pytest.fixture
def store(tmp_path) -> FileContentStore:
    return FileContentStore(tmp_path / "store")


def make_pdf(text_line: str) -> bytes:
    """A small, valid one-page PDF whose content differs with ``text_line`` (pypdf)."""
    w = PdfWriter()
    page = w.add_blank_page(595, 842)
    stream = DecodedStreamObject()
    safe = text_line.encode("ascii", "backslashreplace").decode("ascii")
    safe = safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream.set_data(f"BT /F1 12 Tf 72 760 Td ({safe}) Tj ET".encode("ascii"))
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                             NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject(
        {NameObject("/F1"): font})})
    page[NameObject("/Contents")] = w._add_object(stream)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def make_chain(document_id: str, version: int, signers=(("student", "张三"),
                                                          ("registrar", "赵六"))) -> bytes:
    records = [ChainRecord(position=i, document_id=document_id, document_version=version,
                           role=role, signer_id=f"S{i}", signer_name=name,
                           decision=Decision.APPROVE if i < len(signers) - 1 else Decision.SEAL,
                           comment="", at=f"2024-09-0{i + 1}T08:00:00Z", doc_sha256="a" * 64,
                           prev_hash="0" * 64, cert_fingerprint="b" * 64)
               for i, (role, name) in enumerate(signers)]
    return chain_document_bytes(document_id, version, records)


@pytest.fixture
def make_input() -> Callable[..., ArchiveInput]:
    def build(document_id: str = "DOC-1", version: int = 1, **over) -> ArchiveInput:
        fields = dict(
            document_id=document_id, version=version, form_id="enrollment_certificate",
            form_title="在校证明", number=f"2024年第{abs(hash(document_id)) % 1000}号",
            student_no="20240001", student_name="张三", college="信息工程学院",
            issued_on=date(2024, 9, 1), sealed_at=datetime(2024, 9, 2, 8, 0, tzinfo=UTC),
            final_pdf=make_pdf(f"{document_id} v{version}"),
            chain_json=make_chain(document_id, version), retention=Retention.YEARS_10,
            school_code="13579")
        fields.update(over)
        return ArchiveInput(**fields)  # type: ignore[arg-type]
    return build


# ---------------------------------------------------------------------- really sealed documents
SCHOOL = "江南理工职业技术学院"
COLLEGE = "信息工程学院"


@pytest.fixture(scope="session")
def keystore(tmp_path_factory):
    ks = KeyStore(tmp_path_factory.mktemp("keys") / "keys", "archive-test-passphrase")
    ks.init_institution(SCHOOL, [COLLEGE])
    return ks


@pytest.fixture(scope="session")
def seal_document(keystore, tmp_path_factory):
    """``seal_document(document_id) -> (pdf, chain_json)``: student approves, registrar seals
    (PAdES B-LTA with the local TSA), as :func:`signing.steps.record_and_sign` does it."""
    font = str(subset_font(NOTO_SERIF_CJK, tmp_path_factory.mktemp("fonts") / "stamp.otf",
                           "张三赵六"))
    tsa = configured_timestamper(keystore)
    people = (("20240001", "张三", "student", Decision.APPROVE),
              ("R-0001", "赵六", "registrar", Decision.SEAL))

    def seal(document_id: str) -> tuple[bytes, bytes]:
        pdf = make_pdf(f"{document_id} certificate")
        chain = ApprovalChain(document_id, 1, [ChainStep(r, i, n, d) for i, n, r, d in people])
        for k, (sid, name, role, decision) in enumerate(people):
            ident = keystore.signer_identity(sid, name, role, COLLEGE)
            seal_png = keystore.seal_identity().png if role == "registrar" else None
            pdf = record_and_sign(pdf, chain, ident, decision,
                                  box=SignatureBox(0, 50 + k * 200, 80, 230 + k * 200, 190),
                                  font_path=font, seal_png=seal_png, timestamper=tsa,
                                  trust_roots=[keystore.root_cert()]).pdf
        return pdf, chain_document_bytes(document_id, 1, chain.records)

    return seal


@pytest.fixture
def cli() -> click.Group:
    """The ``doc-service archive …`` commands, as the CLI registers them."""
    group = click.Group("doc-service")
    register(group)
    return group


def flip_a_byte(store: FileContentStore, sha: str) -> bytes:
    """Damage a stored file in place (a bit flipped mid-file); the damaged bytes."""
    p = store.path_of(sha)
    p.chmod(0o644)
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 1
    p.write_bytes(bytes(data))
    return bytes(data)


def record_ids(engine: Engine) -> set[str]:
    """Every archive record's id, voided ones included."""
    return {r.id for r in search(engine, include_voids=True)}
