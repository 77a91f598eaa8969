"""Use cases of the archive: archive once, void, correct, find, read, and log every access.

Each function takes what it needs (an ``Engine``, a :class:`~archive.store.ContentStore`) and
returns frozen dataclasses from :mod:`archive.model`. The order of a write is the crash-safety
argument of issue 5: every file is put into the store first (each put is itself atomic and
durable), and only then are the record and its file rows inserted, in ONE transaction. A crash
before the commit leaves blobs that no row names (the start-up check reports them as orphans;
archiving again re-uses them), never a row without its files.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, func, insert, or_, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from signing.errors import RecordError
from signing.records import parse_chain_document

from .errors import (
    ArchiveConflictError,
    ArchiveIndexError,
    ArchiveInputError,
    RecordNotFoundError,
    RecordStateError,
)
from .hashing import sha256_hex, sm3_hex
from .index import access_log as access_table
from .index import files as files_table
from .index import records as rec
from .model import (
    BEIJING,
    AccessAction,
    AccessEntry,
    ArchivedFile,
    ArchiveInput,
    ArchiveRecord,
    FileRole,
    RecordKind,
    RecordState,
    Retention,
    Signer,
    archival_reference,
    as_utc,
)
from .store import ContentStore

_RETRIES = 8
"""Attempts when a concurrent writer took the same 档号 sequence number."""


def _new_id() -> str:
    return uuid.uuid4().hex


# ====================================================================== reading
_void = rec.alias("v")
_corr = rec.alias("c")
_later = rec.alias("l")
_voided_by = (select(_void.c.id).where(_void.c.points_to == rec.c.id,
                                       _void.c.kind == RecordKind.VOID.value)
              .limit(1).scalar_subquery().label("voided_by"))
_corrected_by = (select(_corr.c.id).where(_corr.c.points_to == rec.c.id,
                                          _corr.c.kind == RecordKind.CORRECTION.value)
                 .limit(1).scalar_subquery().label("corrected_by"))
_later_version = (select(_later.c.id).where(_later.c.document_id == rec.c.document_id,
                                            _later.c.version > rec.c.version,
                                            _later.c.kind != RecordKind.VOID.value)
                  .order_by(_later.c.version).limit(1).scalar_subquery().label("later_version"))


def _is_voided() -> Any:
    return exists().where(_void.c.points_to == rec.c.id, _void.c.kind == RecordKind.VOID.value)


def _is_superseded() -> Any:
    return or_(
        exists().where(_corr.c.points_to == rec.c.id,
                       _corr.c.kind == RecordKind.CORRECTION.value),
        exists().where(_later.c.document_id == rec.c.document_id,
                       _later.c.version > rec.c.version,
                       _later.c.kind != RecordKind.VOID.value),
    )


def _state_filter(state: RecordState | str) -> Any:
    state = RecordState(state)
    if state == RecordState.VOIDED:
        return _is_voided()
    if state == RecordState.SUPERSEDED:
        return and_(~_is_voided(), _is_superseded())
    return and_(~_is_voided(), ~_is_superseded())


def _select_records() -> Any:
    return select(rec, _voided_by, _corrected_by, _later_version)


def _to_record(row: Any, files: Sequence[ArchivedFile] = ()) -> ArchiveRecord:
    m = row._mapping
    kind = RecordKind(m["kind"])
    voided_by = m["voided_by"]
    superseded_by = m["corrected_by"] or m["later_version"]
    if kind == RecordKind.VOID:
        voided_by = superseded_by = None  # a void is a decision, not a document
    state = (RecordState.VOIDED if voided_by else
             RecordState.SUPERSEDED if superseded_by else RecordState.VALID)
    return ArchiveRecord(
        id=m["id"], kind=kind, points_to=m["points_to"], archival_ref=m["archival_ref"],
        document_id=m["document_id"], series_id=m["series_id"], version=m["version"],
        form_id=m["form_id"], form_title=m["form_title"], number=m["number"],
        student_no=m["student_no"], student_name=m["student_name"], college=m["college"],
        issued_on=m["issued_on"], sealed_at=as_utc(m["sealed_at"]),
        signers=tuple(Signer.from_dict(s) for s in m["signers"]),
        retention=Retention(m["retention"]), sha256=m["sha256"], sm3=m["sm3"], size=m["size"],
        chain_sha256=m["chain_sha256"], reason=m["reason"], recorded_by=m["recorded_by"],
        created_at=as_utc(m["created_at"]), state=state, voided_by=voided_by,
        superseded_by=superseded_by, files=tuple(files))


def _files_of(conn: Connection, ids: Sequence[str]) -> dict[str, list[ArchivedFile]]:
    out: dict[str, list[ArchivedFile]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = conn.execute(select(files_table).where(files_table.c.record_id.in_(list(ids)))
                        .order_by(files_table.c.record_id, files_table.c.position))
    for r in rows:
        out[r.record_id].append(ArchivedFile(FileRole(r.role), r.sha256, r.sm3, r.size,
                                             r.version))
    return out


def _load(conn: Connection, where: Any, *, with_files: bool = True,
          order: Sequence[Any] = (), limit: int | None = None,
          offset: int = 0) -> list[ArchiveRecord]:
    q = _select_records().where(where)
    if order:
        q = q.order_by(*order)
    if limit is not None:
        q = q.limit(limit).offset(offset)
    rows = conn.execute(q).all()
    fl = _files_of(conn, [r.id for r in rows]) if with_files else {}
    return [_to_record(r, fl.get(r.id, ())) for r in rows]


def _wrap_db(what: str, e: SQLAlchemyError) -> ArchiveIndexError:
    return ArchiveIndexError(f"{what}: {e.__class__.__name__}: {str(e).splitlines()[0]}")


def get_record(engine: Engine, record_id: str) -> ArchiveRecord:
    """The record with its files and derived state; :class:`RecordNotFoundError` if none."""
    try:
        with engine.connect() as conn:
            found = _load(conn, rec.c.id == record_id)
    except SQLAlchemyError as e:
        raise _wrap_db("cannot read the archive index", e) from e
    if not found:
        raise RecordNotFoundError(f"no archive record {record_id!r}")
    return found[0]


def get_by_reference(engine: Engine, archival_ref: str) -> ArchiveRecord:
    """The record with this 档号."""
    try:
        with engine.connect() as conn:
            found = _load(conn, rec.c.archival_ref == archival_ref)
    except SQLAlchemyError as e:
        raise _wrap_db("cannot read the archive index", e) from e
    if not found:
        raise RecordNotFoundError(f"no archive record with 档号 {archival_ref!r}")
    return found[0]


def records_for_document(engine: Engine, document_id: str) -> list[ArchiveRecord]:
    """Every record of a document (its versions, voids, corrections), oldest first.

    For the public verification page: the last non-void record's state says valid / voided /
    superseded, and ``superseded_by`` names what replaced it.
    """
    try:
        with engine.connect() as conn:
            return _load(conn, rec.c.document_id == document_id,
                         order=(rec.c.version, rec.c.created_at, rec.c.id))
    except SQLAlchemyError as e:
        raise _wrap_db("cannot read the archive index", e) from e


def find_by_sha256(engine: Engine, sha256: str) -> list[ArchiveRecord]:
    """Records whose final PDF is exactly these bytes (an uploaded file's hash)."""
    try:
        with engine.connect() as conn:
            return _load(conn, rec.c.sha256 == sha256.lower(), order=(rec.c.created_at,))
    except SQLAlchemyError as e:
        raise _wrap_db("cannot read the archive index", e) from e


def voids_of(engine: Engine, record_ids: Sequence[str]) -> list[ArchiveRecord]:
    """The void records pointing at any of ``record_ids``, with their files."""
    ids = list(record_ids)
    try:
        with engine.connect() as conn:
            return [void for i in range(0, len(ids), 500)
                    for void in _load(conn, rec.c.points_to.in_(ids[i:i + 500])
                                      & (rec.c.kind == RecordKind.VOID.value))]
    except SQLAlchemyError as e:
        raise _wrap_db("cannot read the archive index", e) from e


def search(
    engine: Engine,
    *,
    student_no: str | None = None,
    name: str | None = None,
    number: str | None = None,
    form_id: str | None = None,
    college: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    state: RecordState | str | None = None,
    include_voids: bool = False,
    limit: int = 50,
    offset: int = 0,
    with_files: bool = False,
) -> list[ArchiveRecord]:
    """Archive office search: every given key must match (exact), dates inclusive on
    ``issued_on``; newest first. Void records are left out unless ``include_voids`` (their
    effect shows as the voided record's state). A college's staff pass their ``college``."""
    conds: list[Any] = []
    for col, value in ((rec.c.student_no, student_no), (rec.c.student_name, name),
                       (rec.c.number, number), (rec.c.form_id, form_id),
                       (rec.c.college, college)):
        if value is not None:
            conds.append(col == value)
    if date_from is not None:
        conds.append(rec.c.issued_on >= date_from)
    if date_to is not None:
        conds.append(rec.c.issued_on <= date_to)
    if not include_voids:
        conds.append(rec.c.kind != RecordKind.VOID.value)
    if state is not None:
        conds.append(_state_filter(state))
    limit = max(1, min(int(limit), 1000))
    try:
        with engine.connect() as conn:
            return _load(conn, and_(True, *conds), with_files=with_files,
                         order=(rec.c.issued_on.desc(), rec.c.id), limit=limit,
                         offset=max(0, int(offset)))
    except SQLAlchemyError as e:
        raise _wrap_db("cannot search the archive index", e) from e


# ====================================================================== writing
@dataclass(frozen=True)
class _Blob:
    role: FileRole
    data: bytes
    version: int | None = None


def _signers_from_chain(inp: ArchiveInput) -> tuple[Signer, ...]:
    try:
        doc_id, version, records = parse_chain_document(inp.chain_json)
    except RecordError as e:
        raise ArchiveInputError(f"chain.json cannot be read: {e}") from e
    if doc_id != inp.document_id or version != inp.version:
        raise ArchiveInputError(
            f"chain.json is for {doc_id} v{version}, not {inp.document_id} v{inp.version}")
    return inp.signers or tuple(Signer(r.role, r.signer_name, r.at, str(r.decision))
                                for r in records)


def _put_all(store: ContentStore, blobs: Sequence[_Blob]) -> list[dict[str, Any]]:
    rows = []
    for pos, b in enumerate(blobs):
        sha = store.put(b.data)
        rows.append({"position": pos, "role": b.role.value, "version": b.version,
                     "sha256": sha, "sm3": sm3_hex(b.data), "size": len(b.data)})
    return rows


def _existing(conn: Connection, dedupe_key: str) -> ArchiveRecord | None:
    found = _load(conn, rec.c.dedupe_key == dedupe_key)
    return found[0] if found else None


def _serialize_sequence(conn: Connection, school_code: str, year: int,
                        retention: Retention) -> None:
    """On PostgreSQL, make writers of one 档号 sequence take turns (until commit).

    Without it, each writer reads max(seq) and the losers retry on the unique 档号; with six
    writers on two busy cores that ran out of retries. SQLite already serializes writers.
    """
    if conn.dialect.name == "postgresql":
        key = f"archive-seq:{school_code}:{year}:{retention.value}"
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def _insert(engine: Engine, row: dict[str, Any], file_rows: list[dict[str, Any]],
            school_code: str, retention: Retention, year: int) -> ArchiveRecord:
    """Insert the record and its files in one transaction, taking the next 档号 number.

    Returns the existing record if another writer archived the same key first.
    """
    last: Exception | None = None
    for _ in range(_RETRIES):
        try:
            with engine.begin() as conn:
                _serialize_sequence(conn, school_code, year, retention)
                found = _existing(conn, row["dedupe_key"])
                if found is not None:
                    return found
                seq = (conn.execute(select(func.max(rec.c.seq)).where(
                    rec.c.school_code == school_code, rec.c.ref_year == year,
                    rec.c.retention == retention.value)).scalar() or 0) + 1
                values = row | {"seq": seq, "school_code": school_code, "ref_year": year,
                                "retention": retention.value,
                                "archival_ref": archival_reference(school_code, year,
                                                                   retention, seq)}
                conn.execute(insert(rec).values(**values))
                if file_rows:
                    conn.execute(insert(files_table),
                                 [f | {"record_id": row["id"]} for f in file_rows])
                return _load(conn, rec.c.id == row["id"])[0]
        except IntegrityError as e:
            last = e  # same 档号 or same key taken concurrently: look again
        except SQLAlchemyError as e:
            raise _wrap_db("cannot write the archive index", e) from e
    raise ArchiveIndexError(f"could not allocate an archival reference: {last}") from last


def _archive(engine: Engine, store: ContentStore, inp: ArchiveInput, kind: RecordKind,
             points_to: str | None, reason: str, by: str, now: datetime | None) -> ArchiveRecord:
    if not inp.final_pdf.startswith(b"%PDF-"):
        raise ArchiveInputError("final_pdf is not a PDF")
    if inp.version < 1:
        raise ArchiveInputError("version starts at 1")
    retention = Retention.parse(inp.retention)
    archival_reference(inp.school_code, 2000, retention, 1)  # validates the school code
    signers = _signers_from_chain(inp)
    dedupe_key = f"doc:{inp.document_id}:{inp.version}"
    pdf_sha = sha256_hex(inp.final_pdf)
    try:
        with engine.connect() as conn:
            found = _existing(conn, dedupe_key)
    except SQLAlchemyError as e:
        raise _wrap_db("cannot read the archive index", e) from e
    if found is None:
        blobs = [_Blob(FileRole.FINAL_PDF, inp.final_pdf), _Blob(FileRole.CHAIN_JSON,
                                                                  inp.chain_json)]
        blobs += [_Blob(FileRole.SUPERSEDED_VERSION_PDF, s.pdf, s.version)
                  for s in sorted(inp.superseded, key=lambda s: s.version)]
        file_rows = _put_all(store, blobs)  # 1. every file durable in the store
        sealed = as_utc(inp.sealed_at)
        row = {
            "id": _new_id(), "kind": kind.value, "points_to": points_to,
            "dedupe_key": dedupe_key, "document_id": inp.document_id,
            "series_id": inp.series_id or inp.document_id, "version": inp.version,
            "form_id": inp.form_id, "form_title": inp.form_title, "number": inp.number,
            "student_no": inp.student_no, "student_name": inp.student_name,
            "college": inp.college, "issued_on": inp.issued_on, "sealed_at": sealed,
            "signers": [s.to_dict() for s in signers], "sha256": pdf_sha,
            "sm3": file_rows[0]["sm3"], "size": len(inp.final_pdf),
            "chain_sha256": file_rows[1]["sha256"], "reason": reason,
            "recorded_by": by or inp.archived_by, "created_at": as_utc(now or datetime.now(UTC)),
        }
        # 2. then the index, in one transaction
        found = _insert(engine, row, file_rows, inp.school_code, retention,
                        sealed.astimezone(BEIJING).year)
    if found.sha256 != pdf_sha:
        raise ArchiveConflictError(
            f"{inp.document_id} v{inp.version} is already archived as {found.archival_ref} "
            f"with a different final PDF")
    return found


def archive_document(engine: Engine, store: ContentStore, inp: ArchiveInput, *,
                     now: datetime | None = None) -> ArchiveRecord:
    """Archive a sealed document version exactly once.

    Idempotent: archiving the same (document, version) again returns the existing record;
    with a different final PDF it raises :class:`ArchiveConflictError`.
    """
    return _archive(engine, store, inp, RecordKind.ORIGINAL, None, "", inp.archived_by, now)


def correct_record(engine: Engine, store: ContentStore, record_id: str, inp: ArchiveInput, *,
                   reason: str, by: str, now: datetime | None = None) -> ArchiveRecord:
    """Archive the corrected document ``inp`` as a new record superseding ``record_id``."""
    old = get_record(engine, record_id)
    if old.kind == RecordKind.VOID:
        raise RecordStateError("a void record cannot be corrected")
    if not reason.strip():
        raise ArchiveInputError("a correction needs a reason")
    if (inp.document_id, inp.version) == (old.document_id, old.version):
        raise ArchiveInputError("a correction is a new document version")
    if not inp.series_id:
        inp = replace(inp, series_id=old.series_id)
    new = _archive(engine, store, inp, RecordKind.CORRECTION, old.id, reason, by, now)
    if new.points_to != old.id:
        raise ArchiveConflictError(f"{inp.document_id} v{inp.version} is already archived as "
                                   f"{new.archival_ref}, not as a correction of {old.archival_ref}")
    return new


def void_record(engine: Engine, store: ContentStore, record_id: str, *, reason: str, by: str,
                school_code: str, void_chain_json: bytes | None = None,
                now: datetime | None = None) -> ArchiveRecord:
    """Void ``record_id`` with a new record pointing at it (idempotent: one void per record).

    ``void_chain_json`` is the signed void decision (its chain.json); it is archived with the
    void record.
    """
    old = get_record(engine, record_id)
    if old.kind == RecordKind.VOID:
        raise RecordStateError("a void record cannot itself be voided")
    if not reason.strip():
        raise ArchiveInputError("voiding needs a reason")
    if not by.strip():
        raise ArchiveInputError("voiding needs the name of who decided it")
    archival_reference(school_code, 2000, old.retention, 1)
    blobs = [_Blob(FileRole.VOID_CHAIN_JSON, void_chain_json)] if void_chain_json else []
    file_rows = _put_all(store, blobs)
    at = as_utc(now or datetime.now(UTC))
    first = file_rows[0] if file_rows else {"sha256": "", "sm3": "", "size": 0}
    row = {
        "id": _new_id(), "kind": RecordKind.VOID.value, "points_to": old.id,
        "dedupe_key": f"void:{old.id}", "document_id": old.document_id,
        "series_id": old.series_id, "version": old.version, "form_id": old.form_id,
        "form_title": old.form_title, "number": old.number, "student_no": old.student_no,
        "student_name": old.student_name, "college": old.college, "issued_on": old.issued_on,
        "sealed_at": at, "signers": [], "sha256": first["sha256"], "sm3": first["sm3"],
        "size": first["size"], "chain_sha256": first["sha256"], "reason": reason,
        "recorded_by": by, "created_at": at,
    }
    return _insert(engine, row, file_rows, school_code, old.retention,
                   at.astimezone(BEIJING).year)


# ====================================================================== access log
def log_access(engine: Engine, who: str, action: AccessAction | str, why: str,
               record_id: str | None = None, *, at: datetime | None = None) -> AccessEntry:
    """Append one line to the access log (retrieval, download, export, verification)."""
    try:
        act = AccessAction(action)
    except ValueError as e:
        raise ArchiveInputError(f"unknown access action {action!r}") from e
    if not who.strip():
        raise ArchiveInputError("an access needs the name of who made it")
    if not why.strip():
        raise ArchiveInputError("an access needs a reason (查档事由)")
    entry = AccessEntry(_new_id(), as_utc(at or datetime.now(UTC)), who, act, why, record_id)
    try:
        with engine.begin() as conn:
            conn.execute(insert(access_table).values(
                id=entry.id, at=entry.at, who=who, action=act.value, why=why,
                record_id=record_id))
    except IntegrityError as e:
        raise RecordNotFoundError(f"no archive record {record_id!r}") from e
    except SQLAlchemyError as e:
        raise _wrap_db("cannot write the access log", e) from e
    return entry


def access_log(engine: Engine, *, record_id: str | None = None, who: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               limit: int = 100, offset: int = 0) -> list[AccessEntry]:
    """The access log for administrators, newest first."""
    t = access_table
    conds: list[Any] = []
    if record_id is not None:
        conds.append(t.c.record_id == record_id)
    if who is not None:
        conds.append(t.c.who == who)
    if since is not None:
        conds.append(t.c.at >= as_utc(since))
    if until is not None:
        conds.append(t.c.at <= as_utc(until))
    q = (select(t).where(and_(True, *conds)).order_by(t.c.at.desc(), t.c.id)
         .limit(max(1, min(int(limit), 10_000))).offset(max(0, int(offset))))
    try:
        with engine.connect() as conn:
            return [AccessEntry(r.id, as_utc(r.at), r.who, AccessAction(r.action), r.why,
                                r.record_id) for r in conn.execute(q)]
    except SQLAlchemyError as e:
        raise _wrap_db("cannot read the access log", e) from e
