"""What a roster import found: one entry per data row, each problem tied to its cell.

A workbook may hold one roster sheet per class or college: then every row names its sheet
(``RosterRow.sheet``) and :meth:`RosterRow.location` reads 「2023级1班」工作表 D5. A file
with one sheet (every CSV) leaves the sheet out, as before.

The report is shown to the staff member who uploaded the file, so it carries cell values
(ID numbers included). It must never be logged: ``repr`` leaves values and row data out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def sheet_label(sheet: str) -> str:
    """How a worksheet is named to staff: 「2023级1班」工作表."""
    return f"「{sheet}」工作表"


def row_label(sheet: str, line: int) -> str:
    """A row as staff find it: 第5行, or 「2023级1班」工作表第5行 in a several-sheet file."""
    return f"{sheet_label(sheet)}第{line}行" if sheet else f"第{line}行"


@dataclass(frozen=True)
class CellError:
    """One problem in one row, located as staff see it in Excel."""

    key: str
    """Field key (``id_number``), or ``"*"`` for the row as a whole."""
    message: str
    """Chinese, actionable: 身份证号校验位错误，请核对后重新输入."""
    code: str
    column: str = ""
    """Column letter (``D``) in the file; empty when the problem is not one cell's."""
    header: str = ""
    """The column's header as written in the file (``证件号码``)."""
    value: str = field(default="", repr=False)
    """The cell as read (shortened); personal data, for the uploader's eyes only."""

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "column": self.column, "header": self.header,
                "value": self.value, "message": self.message, "code": self.code}


@dataclass(frozen=True)
class RosterRow:
    """One data row of the file."""

    line: int
    """Row number as shown by Excel (CSV: record number, header included)."""
    data: dict[str, Any] = field(repr=False)
    """Validated values under the shared field keys; partial when ``errors`` is not empty."""
    errors: tuple[CellError, ...] = ()
    sheet: str = ""
    """The worksheet's title when the file has several worksheets; empty otherwise."""

    @property
    def valid(self) -> bool:
        return not self.errors

    def location(self, error: CellError | None = None) -> str:
        """Where staff find the row, or ``error``'s cell in it.

        ``「2023级1班」工作表 D5`` (``「2023级1班」工作表第5行`` without a column) in a
        several-sheet file; ``第5行 D列`` (``第5行``) when the file has one sheet.
        """
        column = error.column if error is not None else ""
        if not self.sheet:
            return f"第{self.line}行 {column}列" if column else f"第{self.line}行"
        if column:
            return f"{sheet_label(self.sheet)} {column}{self.line}"
        return row_label(self.sheet, self.line)

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "sheet": self.sheet, "valid": self.valid, "data": self.data,
                "errors": [{**e.to_dict(), "location": self.location(e)} for e in self.errors]}


@dataclass(frozen=True)
class SkippedSheet:
    """A worksheet that was not read as part of the roster, and why (for staff)."""

    sheet: str
    reason: str
    """Chinese: 空白工作表, 前10行中没有找到名册表头 ..."""
    code: str
    """``hidden``, ``empty``, ``no_header``, ``not_a_roster`` or ``no_data``."""

    def message(self) -> str:
        return f"已跳过{sheet_label(self.sheet)}：{self.reason}"

    def to_dict(self) -> dict[str, str]:
        return {"sheet": self.sheet, "reason": self.reason, "code": self.code}


@dataclass(frozen=True)
class RosterReport:
    """The outcome of :func:`doc_service.roster.parse_roster`; nothing has been stored."""

    rows: tuple[RosterRow, ...] = ()
    valid_count: int = 0
    error_count: int = 0
    header_map: dict[str, str] = field(default_factory=dict)
    """Header as written → field key, for the recognized columns."""
    unknown_headers: tuple[str, ...] = ()
    """Headers not recognized; those columns are ignored."""
    fatal: str | None = None
    """Why the file as a whole cannot be imported; then ``rows`` is empty."""
    warnings: tuple[str, ...] = ()
    """Things staff should know that do not stop the import (merged data cells …)."""
    header_line: int | None = None
    format: str | None = None
    """``xlsx`` or ``csv``."""
    encoding: str | None = None
    """CSV only: ``utf-8-sig``, ``gb18030`` or ``utf-16``."""
    sheets: tuple[str, ...] = ()
    """XLSX: the worksheets read as roster, in workbook order (``header_line`` is the
    first one's). Each skipped worksheet is in ``skipped_sheets`` and in ``warnings``."""
    skipped_sheets: tuple[SkippedSheet, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the file was read; rows may still have errors."""
        return self.fatal is None

    def valid_rows(self) -> list[RosterRow]:
        return [r for r in self.rows if r.valid]

    def to_dict(self) -> dict[str, Any]:
        return {
            "fatal": self.fatal, "warnings": list(self.warnings), "format": self.format,
            "encoding": self.encoding, "header_line": self.header_line,
            "header_map": self.header_map, "unknown_headers": list(self.unknown_headers),
            "sheets": list(self.sheets),
            "skipped_sheets": [s.to_dict() for s in self.skipped_sheets],
            "valid_count": self.valid_count, "error_count": self.error_count,
            "rows": [r.to_dict() for r in self.rows],
        }

    def __repr__(self) -> str:
        return (f"RosterReport(rows={len(self.rows)}, valid_count={self.valid_count}, "
                f"error_count={self.error_count}, fatal={self.fatal!r})")
