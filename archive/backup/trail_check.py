"""Comparing a backup's fixity audit trail with the archive's, and with itself.

The trail is write-once like the records: a run the archive holds must be there exactly as
in the backup, with the same start, the same failures and the same first-check numbers
(``archive_fixity_coverage``, in which every run's ``covers_through`` counts); and the
backup's trail must hold everything it names. Each disagreement is a
:class:`~archive.backup.findings.RestoreFinding`.
"""

from __future__ import annotations

from typing import Any

from ..index import (
    files,
    fixity_coverage,
    fixity_failures,
    fixity_run_starts,
    fixity_runs,
    records,
)
from .findings import (
    Difference,
    FindingCheck,
    FindingKind,
    Present,
    RestoreFinding,
    row_differences,
    what_differs,
)
from .format import Rows, encode_value


def _failure_finding(kind: FindingKind, detail: str, row: dict[str, Any],
                     diffs: tuple[Difference, ...] = (),
                     check: FindingCheck | None = None) -> RestoreFinding:
    """A finding about one failure row: its run, record (with 档号) and file."""
    return RestoreFinding(
        kind, detail, record_id=row["record_id"], archival_ref=row["archival_ref"],
        sha256=row["expected_sha256"], position=row["position"], role=row["role"],
        differences=diffs, record_ids=(row["record_id"],),
        archival_refs=(row["archival_ref"],), run_id=row["run_id"], check=check)


def _by_run(rows: Any, runs: set[str]) -> dict[str, dict[tuple[str, int], dict[str, Any]]]:
    """Failure rows of ``runs``: run id -> (record id, position) -> row."""
    out: dict[str, dict[tuple[str, int], dict[str, Any]]] = {}
    for f in rows:
        if f["run_id"] in runs:
            out.setdefault(f["run_id"], {})[(f["record_id"], f["position"])] = f
    return out


def _compare_runs(tables: Rows, present: Present) -> tuple[list[RestoreFinding], set[str]]:
    """Findings for fixity runs the archive holds otherwise; and the ids of runs it holds."""
    findings: list[RestoreFinding] = []
    shared: set[str] = set()
    for row in tables[fixity_runs.name]:
        have = present[fixity_runs.name].get((row["id"],))
        if have is None:
            continue
        shared.add(row["id"])
        diffs = row_differences(fixity_runs, have, row)
        if diffs:
            findings.append(RestoreFinding(
                FindingKind.FIXITY_RUN_MISMATCH, f"fixity run {row['id']} is already in the "
                f"archive and differs from the backup: {what_differs(diffs, None)}",
                differences=diffs, run_id=row["id"]))
    return findings, shared


def _compare_failures(tables: Rows, present: Present, shared: set[str]
                      ) -> list[RestoreFinding]:
    """Findings for the failures of runs on both sides that differ or are on one side only.

    A run is recorded with all its failures at once, so the same run must have the same
    failures on both sides: one missing from the backup would hide a damaged file.
    """
    have_by_run = _by_run(present[fixity_failures.name].values(), shared)
    want_by_run = _by_run(tables[fixity_failures.name], shared)
    findings: list[RestoreFinding] = []
    for run_id in sorted(shared):
        have_all, want_all = have_by_run.get(run_id, {}), want_by_run.get(run_id, {})
        for key in sorted(set(have_all) | set(want_all)):
            have, want = have_all.get(key), want_all.get(key)
            one = have if have is not None else want
            assert one is not None  # the key comes from one of the two
            what = (f"the failure of file {key[1]} of record {one['archival_ref']} "
                    f"({key[0]}) in fixity run {run_id}")
            if have is not None and want is not None:
                diffs = row_differences(fixity_failures, have, want)
                if not diffs:
                    continue
                detail = f"{what} differs from the backup: {what_differs(diffs, None)}"
                check = FindingCheck.DIFFERS
            elif have is not None:
                diffs = (Difference("problem", have["problem"], None),)
                detail, check = f"{what} is in the archive only", FindingCheck.ARCHIVE_ONLY
            else:
                diffs = (Difference("problem", None, one["problem"]),)
                detail, check = f"{what} is in the backup only", FindingCheck.BACKUP_ONLY
            findings.append(_failure_finding(FindingKind.FIXITY_FAILURE_MISMATCH, detail, one,
                                             diffs, check))
    return findings


def _compare_coverage(tables: Rows, present: Present, shared: set[str],
                      refs: dict[str, str]) -> list[RestoreFinding]:
    """Findings where the archive numbers the records' first checks otherwise.

    A run's ``covers_through`` counts in these numbers, so the backup's runs can join the
    archive's only if both number every record they share alike (see :mod:`archive.fixity`).
    """
    have_by_seq = {k[0]: r for k, r in present[fixity_coverage.name].items()}
    have_by_record = {r["record_id"]: r for r in have_by_seq.values()}
    findings: list[RestoreFinding] = []

    def finding(detail: str, row: dict[str, Any], diffs: tuple[Difference, ...],
                check: FindingCheck) -> None:
        rid = row["record_id"]
        findings.append(RestoreFinding(
            FindingKind.FIXITY_COVERAGE_MISMATCH, detail, record_id=rid,
            archival_ref=refs.get(rid, ""), differences=diffs, record_ids=(rid,), archival_refs=(refs.get(rid, ""),),
            run_id=row["run_id"], check=check))

    for row in tables[fixity_coverage.name]:
        have = have_by_seq.get(row["seq"]) or have_by_record.get(row["record_id"])
        if have is None:
            continue
        diffs = row_differences(fixity_coverage, have, row)
        if diffs:
            finding(f"first check number {row['seq']} of record {refs.get(row['record_id'])} "
                    f"({row['record_id']}) by fixity run {row['run_id']} in the backup "
                    f"differs from the archive's: {what_differs(diffs, None)}", row, diffs,
                    FindingCheck.DIFFERS)
    want_seqs = {r["seq"] for r in tables[fixity_coverage.name]}
    for seq, have in sorted(have_by_seq.items()):
        if have["run_id"] in shared and seq not in want_seqs:
            finding(f"first check number {seq} of record {refs.get(have['record_id'])} "
                    f"({have['record_id']}) by fixity run {have['run_id']} is in the archive "
                    "only", have, (Difference("seq", seq, None),), FindingCheck.ARCHIVE_ONLY)
    return findings


START_COLUMNS = ("started_at", "run_by")
"""What a run's start and its end both say: when it started and who ran it."""


def _start_differences(have: dict[str, Any], want: dict[str, Any]) -> tuple[Difference, ...]:
    """Where two rows (a start or a finished run, either side) tell a run's start otherwise."""
    return tuple(Difference(c, encode_value(have[c]), encode_value(want[c])) for c in START_COLUMNS
                 if encode_value(have[c]) != encode_value(want[c]))


def _start_finding(run_id: str, detail: str, diffs: tuple[Difference, ...],
                   check: FindingCheck) -> RestoreFinding:
    """A finding that a run's start (when, who) is told otherwise by the two sides."""
    return RestoreFinding(FindingKind.FIXITY_START_MISMATCH,
                          f"{detail}: {what_differs(diffs, None)}", differences=diffs,
                          run_id=run_id, check=check)


def _compare_starts(tables: Rows, present: Present) -> list[RestoreFinding]:
    """Findings for runs whose start the archive records otherwise than the backup.

    A start is write-once like the rest of the trail: the backup's start of a run must be
    the archive's (or agree with the archive's finished run, if the archive has no start
    of it), and a finished run of the backup without its start must agree with the
    archive's start. One finding per run; a run whose end differs is
    :attr:`~FindingKind.FIXITY_RUN_MISMATCH`.
    """
    have_starts = present[fixity_run_starts.name]
    have_runs = present[fixity_runs.name]
    findings: list[RestoreFinding] = []
    started = set()
    for row in tables[fixity_run_starts.name]:
        started.add(row["id"])
        have = have_starts.get((row["id"],))
        what = "start" if have is not None else "finished run"
        have = have if have is not None else have_runs.get((row["id"],))
        diffs = _start_differences(have, row) if have is not None else ()
        if diffs:
            findings.append(_start_finding(
                row["id"], f"the start of fixity run {row['id']} in the backup differs from "
                f"the archive's {what}", diffs,
                FindingCheck.START if what == "start" else FindingCheck.START_VS_RUN))
    for row in tables[fixity_runs.name]:
        have = have_starts.get((row["id"],))
        if row["id"] in started or have is None:
            continue
        diffs = _start_differences(have, row)
        if diffs:
            findings.append(_start_finding(
                row["id"], f"fixity run {row['id']} in the backup differs from the archive's "
                "start of it", diffs, FindingCheck.RUN_VS_START))
    return findings


def compare_trail(tables: Rows, present: Present, refs: dict[str, str]
                  ) -> list[RestoreFinding]:
    """Findings for the fixity trail: starts, runs, their failures, the first-check numbers."""
    findings, shared = _compare_runs(tables, present)
    return (_compare_starts(tables, present) + findings
            + _compare_failures(tables, present, shared)
            + _compare_coverage(tables, present, shared, refs))


def trail_self_check(tables: Rows) -> list[RestoreFinding]:
    """The backup's trail must hold what it names, and each run all its failures.

    A backup is a closed snapshot (see the module docstring): a failure or coverage row
    naming a run, record or file the backup lacks, a run whose failure count is not its
    failure rows, or a run whose start says another time or person than its end, means
    the trail was edited (a failure taken out hides a damaged file).
    """
    runs = {r["id"]: r for r in tables[fixity_runs.name]}
    refs = {r["id"]: r["archival_ref"] for r in tables[records.name]}
    held = {(f["record_id"], f["position"]) for f in tables[files.name]}
    findings: list[RestoreFinding] = []
    counted: dict[str, int] = {}
    for f in tables[fixity_failures.name]:
        counted[f["run_id"]] = counted.get(f["run_id"], 0) + 1
        lacks, check = (("run", FindingCheck.FAILURE_WITHOUT_RUN) if f["run_id"] not in runs
                        else ("file", FindingCheck.FAILURE_WITHOUT_FILE)
                        if (f["record_id"], f["position"]) not in held else ("", None))
        if check is not None:
            findings.append(_failure_finding(
                FindingKind.BACKUP_INCONSISTENT, f"the failure of file {f['position']} of "
                f"record {f['archival_ref']} ({f['record_id']}) in fixity run {f['run_id']} "
                f"names a {lacks} the backup does not hold", f, check=check))
    for c in tables[fixity_coverage.name]:
        lacks, check = (("run", FindingCheck.COVERAGE_WITHOUT_RUN) if c["run_id"] not in runs
                        else ("record", FindingCheck.COVERAGE_WITHOUT_RECORD)
                        if c["record_id"] not in refs else ("", None))
        if check is not None:
            findings.append(RestoreFinding(
                FindingKind.BACKUP_INCONSISTENT, f"first check number {c['seq']} of record "
                f"{c['record_id']} by fixity run {c['run_id']} names a {lacks} the backup "
                "does not hold", record_id=c["record_id"],
                archival_ref=refs.get(c["record_id"], ""), run_id=c["run_id"], check=check))
    for start in tables[fixity_run_starts.name]:
        run = runs.get(start["id"])
        diffs = _start_differences(start, run) if run is not None else ()
        if diffs:
            findings.append(RestoreFinding(
                FindingKind.BACKUP_INCONSISTENT, f"fixity run {start['id']} in the backup "
                f"does not match its own start: {what_differs(diffs, None)} (start vs run)",
                differences=diffs, run_id=start["id"], check=FindingCheck.START_VS_RUN))
    for run_id, run in runs.items():
        n = counted.get(run_id, 0)
        if n != run["failures"]:
            findings.append(RestoreFinding(
                FindingKind.BACKUP_INCONSISTENT, f"fixity run {run_id} in the backup records "
                f"{run['failures']} failures, but the backup holds {n} failure rows of it",
                differences=(Difference("failures", n, run["failures"]),), run_id=run_id,
                check=FindingCheck.FAILURE_COUNT))
    return findings
