"""Fixity: re-hash every archived file, record each run write-once, and read that trail back.

:mod:`~archive.fixity.check` runs a check (its start committed before it hashes anything,
its end with every failed file and the records it covered), :mod:`~archive.fixity.trail`
reads the runs, their failures and when each record was last checked, and
:mod:`~archive.fixity.model` holds what both hand around. Callers import from here::

    from archive.fixity import SCHEDULED, run_fixity, unfinished_before

    report = run_fixity(engine, store, run_by=SCHEDULED)
    earlier = unfinished_before(engine, report.run)
"""

from __future__ import annotations

from .check import (
    BadBlob,
    Clock,
    FixityFinding,
    FixityReport,
    check_blobs,
    run_fixity,
    utc_now,
)
from .model import SCHEDULED, FixityFailure, FixityProblem, FixityRun, RecordFixity
from .trail import fixity_failures, fixity_run, fixity_runs, record_fixity, unfinished_before

__all__ = [
    "SCHEDULED",
    "BadBlob",
    "Clock",
    "FixityFailure",
    "FixityFinding",
    "FixityProblem",
    "FixityReport",
    "FixityRun",
    "RecordFixity",
    "check_blobs",
    "fixity_failures",
    "fixity_run",
    "fixity_runs",
    "record_fixity",
    "run_fixity",
    "unfinished_before",
    "utc_now",
]
