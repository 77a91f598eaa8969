"""Comparing a backup's records, files and access log with the archive's, and with itself.

A record, file or log entry the archive already holds must be there exactly as in the
backup; a record new to the archive must not take a 档号 (or a document version) the
archive has given another record; and a record's own digests must be its file rows'.
Each disagreement is a :class:`~archive.backup.findings.RestoreFinding`.
"""

from __future__ import annotations

from typing import Any

from ..index import access_log, files, records
from .findings import (
    CONTENT_COLUMNS,
    Difference,
    FindingCheck,
    FindingKind,
    Present,
    RestoreFinding,
    row_differences,
    what_differs,
)
from .format import Rows


def compare_index(tables: Rows, present: Present) -> tuple[list[RestoreFinding], set[str]]:
    """Findings for rows the archive holds otherwise; and the ids of records that differ."""
    refs = {r["id"]: r["archival_ref"] for r in tables[records.name]}
    refs.update({k[0]: r["archival_ref"] for k, r in present[records.name].items()})
    record_findings = _compare_records(tables, present)
    file_findings = _compare_files(tables, present, refs)
    differing = {f.record_id for f in record_findings + file_findings}
    return (record_findings + file_findings + _compare_log(tables, present, refs)), differing


def _compare_records(tables: Rows, present: Present) -> list[RestoreFinding]:
    """Records the archive holds with other values than the backup."""
    findings: list[RestoreFinding] = []
    for row in tables[records.name]:
        have = present[records.name].get((row["id"],))
        if have is None:
            continue
        diffs = row_differences(records, have, row)
        if diffs:
            what = ("content hashes differ" if diffs[0].column in CONTENT_COLUMNS
                    else "metadata differs")
            findings.append(RestoreFinding(
                FindingKind.RECORD_MISMATCH, f"record {have['archival_ref']} ({row['id']}) is "
                f"already in the archive and {what} from the backup: {what_differs(diffs)}",
                record_id=row["id"], archival_ref=have["archival_ref"],
                sha256=have["sha256"], differences=diffs, record_ids=(row["id"],),
                archival_refs=(have["archival_ref"],)))
    return findings


def _files_by_record(rows: Any) -> dict[str, dict[int, dict[str, Any]]]:
    """File rows: record id -> position -> row."""
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for f in rows:
        out.setdefault(f["record_id"], {})[f["position"]] = f
    return out


def _compare_files(tables: Rows, present: Present, refs: dict[str, str]
                   ) -> list[RestoreFinding]:
    """File rows of records the archive holds that differ, or are on one side only."""
    findings: list[RestoreFinding] = []
    have_files = _files_by_record(present[files.name].values())
    want_files = _files_by_record(tables[files.name])
    for rid in sorted(set(want_files) | {r["id"] for r in tables[records.name]}):
        if (rid,) not in present[records.name] and rid not in have_files:
            continue  # a record new to this archive
        have_by_pos, want_by_pos = have_files.get(rid, {}), want_files.get(rid, {})
        ref = refs.get(rid, "")
        for pos in sorted(set(have_by_pos) | set(want_by_pos)):
            have, want = have_by_pos.get(pos), want_by_pos.get(pos)
            if have is not None and want is not None:
                diffs = row_differences(files, have, want)
                if not diffs:
                    continue
                one, detail = have, (f"file {pos} ({have['role']}) of record {ref} ({rid}) "
                                     f"differs from the backup: {what_differs(diffs)}")
                check = FindingCheck.DIFFERS
            elif have is not None:
                diffs, one = (Difference("sha256", have["sha256"], None),), have
                detail = f"file {pos} of record {ref} ({rid}) is in the archive only"
                check = FindingCheck.ARCHIVE_ONLY
            elif want is not None:
                diffs, one = (Difference("sha256", None, want["sha256"]),), want
                detail = f"file {pos} of record {ref} ({rid}) is in the backup only"
                check = FindingCheck.BACKUP_ONLY
            else:  # pragma: no cover - pos comes from one of the two
                continue
            findings.append(RestoreFinding(
                FindingKind.FILE_MISMATCH, detail, record_id=rid, archival_ref=ref,
                sha256=one["sha256"], position=pos, role=one["role"], differences=diffs,
                record_ids=(rid,), archival_refs=(ref,), check=check))
    return findings


def _compare_log(tables: Rows, present: Present, refs: dict[str, str]) -> list[RestoreFinding]:
    """Access-log entries the archive holds otherwise."""
    findings: list[RestoreFinding] = []
    for row in tables[access_log.name]:
        have = present[access_log.name].get((row["id"],))
        if have is None:
            continue
        diffs = row_differences(access_log, have, row)
        if diffs:
            rid = have.get("record_id") or ""
            findings.append(RestoreFinding(
                FindingKind.LOG_MISMATCH, f"access-log entry {row['id']} differs from the "
                f"backup: {what_differs(diffs)}", record_id=rid, archival_ref=refs.get(rid, ""),
                differences=diffs))
    return findings


_RECORD_KEYS: tuple[tuple[FindingKind, FindingCheck, tuple[str, ...], str], ...] = (
    (FindingKind.ARCHIVAL_REF_CLASH, FindingCheck.ARCHIVAL_REF, ("archival_ref",),
     "archival reference (档号)"),
    (FindingKind.ARCHIVAL_REF_CLASH, FindingCheck.ARCHIVAL_REF_PARTS,
     ("school_code", "ref_year", "retention", "seq"),
     "school code, year, retention and number (the parts of the 档号)"),
    (FindingKind.DEDUPE_KEY_CLASH, FindingCheck.DEDUPE_KEY, ("dedupe_key",),
     "document version (dedupe key)"),
)
"""The UNIQUE keys of ``archive_records`` besides its id: (finding kind, its ``check``,
columns, name)."""


def _key(row: dict[str, Any], cols: tuple[str, ...]) -> tuple[Any, ...]:
    """The row's values of one UNIQUE key (see :data:`_RECORD_KEYS`)."""
    return tuple(row[c] for c in cols)


def record_clashes(tables: Rows, present: Present) -> list[RestoreFinding]:
    """Findings for new records whose 档号 or document version belongs to another record.

    Such a record cannot be inserted (a UNIQUE constraint refuses it), and which of the two
    is right is for a person to find out: so it is reported like any other difference
    (one finding per record and kind) instead of failing the restore half-way.
    """
    have_records = present[records.name]
    new = [r for r in tables[records.name] if (r["id"],) not in have_records]
    findings: list[RestoreFinding] = []
    reported: set[tuple[FindingKind, str, str]] = set()
    for kind, check, cols, what in _RECORD_KEYS:
        owners = {_key(r, cols): r for r in have_records.values()}
        in_backup: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in new:
            key = _key(row, cols)
            other = owners.get(key)
            where = "the archive's"
            if other is None:
                other, where = in_backup.get(key), "the backup's"
            in_backup.setdefault(key, row)
            if other is None or (kind, row["id"], other["id"]) in reported:
                continue
            reported.add((kind, row["id"], other["id"]))
            findings.append(RestoreFinding(
                kind if where == "the archive's" else FindingKind.BACKUP_INCONSISTENT,
                f"record {row['archival_ref']} ({row['id']}) of the backup is not in the "
                f"archive, but {where} record {other['archival_ref']} ({other['id']}) has "
                f"the same {what}: {', '.join(map(str, _key(row, cols)))}",
                record_id=row["id"], archival_ref=row["archival_ref"], sha256=row["sha256"],
                differences=(Difference("id", other["id"], row["id"]),),
                record_ids=(row["id"], other["id"]),
                archival_refs=(row["archival_ref"], other["archival_ref"]), check=check))
    return findings


def record_self_check(tables: Rows) -> list[RestoreFinding]:
    """A record's own digests (its first file's) must agree with its file rows in the backup."""
    by_record: dict[str, list[dict[str, Any]]] = {}
    for f in tables[files.name]:
        by_record.setdefault(f["record_id"], []).append(f)
    findings = []
    for r in tables[records.name]:
        if not r["sha256"]:
            continue  # a void without a signed void chain names no file
        same = [f for f in by_record.get(r["id"], []) if f["sha256"] == r["sha256"]]
        diffs: tuple[Difference, ...] = ()
        if not same:
            diffs = (Difference("sha256", None, r["sha256"]),)
        elif (same[0]["sm3"], same[0]["size"]) != (r["sm3"], r["size"]):
            diffs = tuple(Difference(c, same[0][c], r[c]) for c in ("sm3", "size")
                          if same[0][c] != r[c])
        if diffs:
            findings.append(RestoreFinding(
                FindingKind.BACKUP_INCONSISTENT, f"record {r['archival_ref']} ({r['id']}) in "
                f"the backup does not match its own file rows: {what_differs(diffs)} (file "
                "row vs record row)", record_id=r["id"], archival_ref=r["archival_ref"],
                sha256=r["sha256"], differences=diffs, record_ids=(r["id"],),
                archival_refs=(r["archival_ref"],), check=FindingCheck.RECORD_FILES))
    return findings
