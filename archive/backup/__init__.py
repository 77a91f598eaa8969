"""Backup and restore of the whole archive: the index as JSON Lines plus every blob.

:mod:`~archive.backup.writer` writes a backup folder as a closed snapshot,
:mod:`~archive.backup.format` says what each format holds and reads a folder back (checked),
:mod:`~archive.backup.restorer` compares a backup with the archive and only adds, and what
it finds is a :class:`RestoreFinding` (:mod:`~archive.backup.findings`), found by comparing
the index (:mod:`~archive.backup.index_check`) and the fixity trail
(:mod:`~archive.backup.trail_check`). Callers import from here::

    from archive.backup import backup, restore

    backup(engine, store, Path("/backups/archive-2024-09-01"))
    summary = restore(engine, store, Path("/backups/archive-2024-09-01"))
    for finding in summary.findings: ...   # worded by archive.wording.restore_finding
"""

from __future__ import annotations

from .findings import CONTENT_COLUMNS, Difference, FindingCheck, FindingKind, RestoreFinding
from .format import (
    BACKUP_FORMAT,
    FORMATS,
    RECORD_TABLES,
    RUN_TABLES,
    TABLES,
    TRAIL_TABLES,
    BackupSummary,
    Rows,
    read_backup,
)
from .restorer import RestoreSummary, restore
from .writer import backup

__all__ = [
    "BACKUP_FORMAT",
    "CONTENT_COLUMNS",
    "FORMATS",
    "RECORD_TABLES",
    "RUN_TABLES",
    "TABLES",
    "TRAIL_TABLES",
    "BackupSummary",
    "Difference",
    "FindingCheck",
    "FindingKind",
    "RestoreFinding",
    "RestoreSummary",
    "Rows",
    "backup",
    "read_backup",
    "restore",
]
