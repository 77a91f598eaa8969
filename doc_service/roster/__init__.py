"""Roster files (学生名册) exported from the academic system: parsing and checking only.

    report = parse_roster(path_or_file, filename="2026级名册.xlsx")
    if report.fatal: show(report.fatal)
    else: show each report.rows[i].errors at report.rows[i].location(error);
          store report.valid_rows() on confirmation

An XLSX may hold one roster sheet per class or college: every sheet with the roster's
header is read, the others are listed in ``report.skipped_sheets`` (and ``warnings``).

No database access here: the service layer persists what staff confirm.
"""

from __future__ import annotations

from doc_service.roster.headers import ALIASES, REQUIRED_KEYS, header_key
from doc_service.roster.parse import MAX_ROWS, parse_roster, roster_form
from doc_service.roster.readers import RosterFileError
from doc_service.roster.report import CellError, RosterReport, RosterRow, SkippedSheet

__all__ = [
    "ALIASES",
    "MAX_ROWS",
    "REQUIRED_KEYS",
    "CellError",
    "RosterFileError",
    "RosterReport",
    "RosterRow",
    "SkippedSheet",
    "header_key",
    "parse_roster",
    "roster_form",
]
