"""Parse and check a roster file; the use case behind ``doc-service roster import``.

Reads the file as a stream (:mod:`.readers`), finds the header row among the first ten,
maps headers to field keys (:mod:`.headers`), normalizes cells (:mod:`.cells`) and
validates each row with the forms' own rules, then looks for duplicates inside the file.
Nothing is written anywhere: the service layer stores the valid rows if staff confirm.

A workbook with several worksheets (one per class or college) is read sheet by sheet, in
workbook order. Hidden and empty sheets, sheets without a roster header (说明, 填表说明)
and sheets whose header has neither 学号 nor 身份证号 (汇总) are skipped, and the report
says so. Every other sheet must have the first roster sheet's columns in the same places:
a sheet with another header is most likely another list (or a class whose header was
edited), so the file is refused naming that sheet rather than half imported. Duplicates
are looked for across all sheets.
"""

from __future__ import annotations

import dataclasses
import io
import os
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import IO, Any

from openpyxl.utils.cell import range_boundaries

from doc_service.errors import FieldError, ValidationError
from doc_service.forms.spec import (
    FieldSpec,
    FieldType,
    FormSpec,
    field_from_dict,  # same defaults as the forms
    load_form,
    shared_fields,
)
from doc_service.forms.validation import validate
from doc_service.roster import headers as hdr
from doc_service.roster.cells import CellProblem, normalize
from doc_service.roster.readers import RosterFile, RosterFileError, RowStream, open_sheets
from doc_service.roster.report import (
    CellError,
    RosterReport,
    RosterRow,
    SkippedSheet,
    row_label,
    sheet_label,
)

MAX_ROWS = 50_000
HEADER_SEARCH_ROWS = 10
_SHOWN_VALUE = 100
_NO_HEADER = (f"前{HEADER_SEARCH_ROWS}行中没有找到表头（如“学号”“姓名”“身份证号”）："
              "请确认上传的是学生名册，表头位于前10行")
_IDENTITY_KEYS = frozenset({"student_no", "id_number"})


@cache
def roster_form() -> FormSpec:
    """A synthetic form of every roster column, so rows are checked by the forms' rules."""
    fields: list[FieldSpec] = []
    for key, spec in shared_fields().items():
        fields.append(field_from_dict({**spec, "required": key in hdr.REQUIRED_KEYS}))
    withdrawal = load_form("withdrawal_notice")  # phone and address are defined there
    for key in ("phone", "address"):
        fields.append(dataclasses.replace(withdrawal.field(key), required=False))
    fields.append(FieldSpec(key="grade", label="年级", type=FieldType.TEXT, max_length=4,
                            pattern=r"(19|20)\d{2}", pattern_message="年级应为四位年份，如 2026"))
    return FormSpec(id="roster", title="学生名册", version="1", numbering="",
                    fields=tuple(fields))


def parse_roster(source: str | os.PathLike[str] | bytes | IO[bytes], filename: str = "",
                 *, max_rows: int = MAX_ROWS) -> RosterReport:
    """Read and check a roster; never raises for a bad file (see ``RosterReport.fatal``)."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        with path.open("rb") as f:
            return parse_roster(f, filename or path.name, max_rows=max_rows)
    if isinstance(source, bytes | bytearray):
        return parse_roster(io.BytesIO(source), filename, max_rows=max_rows)
    if not source.seekable():
        # Encoding detection and the row count read the stream twice.
        with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
            while chunk := source.read(1 << 20):
                spool.write(chunk)
            spool.seek(0)
            return parse_roster(spool, filename, max_rows=max_rows)
    try:
        return _parse(source, filename, max_rows)
    except RosterFileError as e:
        return RosterReport(fatal=e.message)


def _nonblank(rows: Iterator[tuple[int, tuple[Any, ...]]]
              ) -> Iterator[tuple[int, tuple[Any, ...]]]:
    for line, values in rows:
        if any(v is not None and (not isinstance(v, str) or v.strip()) for v in values):
            yield line, values


def _find_header(stream: RowStream) -> tuple[int, tuple[Any, ...]] | None:
    best: tuple[int, int, tuple[Any, ...]] | None = None
    for line, values in stream.rows():
        n = hdr.recognized(values)
        if n >= 2 and (best is None or n > best[0]):
            best = (n, line, values)
        if line >= HEADER_SEARCH_ROWS:
            break
    return None if best is None else (best[1], best[2])


def _check_merges(stream: RowStream, header_line: int, header: tuple[Any, ...]) -> list[str]:
    if stream.merged is None:
        # Merged ranges unknown: read-only openpyxl shows a merge's continuation cells as
        # None, so a blank between two headers is the best hint we have.
        filled = [i for i, v in enumerate(header) if v is not None and str(v).strip()]
        gaps = [i for i in range(filled[0], filled[-1]) if i not in filled] if filled else []
        if gaps:
            raise RosterFileError(f"表头第{hdr.column_letter(gaps[0])}列为空，可能存在合并单元格："
                                  "请取消合并、为每列填写列名后重新导出")
        return []
    warnings = []
    for ref in stream.merged:
        min_col, min_row, max_col, max_row = range_boundaries(ref)
        if min_row <= header_line <= max_row:
            raise RosterFileError(f"表头存在合并单元格（{ref}），请取消合并后重新导出")
        if min_row > header_line:
            warnings.append(f"数据区存在合并单元格（{ref}）：合并区域中除第一格外的单元格"
                            "将按空白处理，建议取消合并并填满后重新导出")
    return warnings


def _columns(header: tuple[Any, ...]) -> tuple[list[hdr.Column], list[str]]:
    columns: dict[str, hdr.Column] = {}
    unknown = []
    for index, cell in enumerate(header):
        text = "" if cell is None else str(cell).strip()
        key = hdr.header_key(text)
        if key is None:
            if text:
                unknown.append(text)
            continue
        if key in columns:
            first = columns[key]
            raise RosterFileError(
                f"“{first.header}”（{first.letter}列）和“{text}”（{hdr.column_letter(index)}列）"
                f"都是{hdr.label(key)}：请删除其中一列后重新上传")
        columns[key] = hdr.Column(index, key, text)
    missing = [k for k in hdr.REQUIRED_KEYS if k not in columns]
    if missing:
        names = "、".join(hdr.label(k) for k in missing)
        hints = "；".join(f"{hdr.label(k)}可写作{'/'.join(hdr.ALIASES[k])}" for k in missing)
        raise RosterFileError(f"缺少必需的列：{names}（{hints}）")
    return list(columns.values()), unknown


def _count_rows(stream: RowStream, header_line: int, limit: int) -> int:
    """Data rows after the header, stopping as soon as ``limit`` is exceeded."""
    n = 0
    for line, _ in _nonblank(stream.rows()):
        if line > header_line:
            n += 1
            if n > limit:
                break
    return n


def _shown(raw: Any) -> str:
    text = "" if raw is None else str(raw)
    return text if len(text) <= _SHOWN_VALUE else text[:_SHOWN_VALUE] + "…"


def _check_row(form: FormSpec, columns: list[hdr.Column], line: int, values: tuple[Any, ...],
               from_excel: bool, sheet: str = "") -> RosterRow:
    data: dict[str, Any] = {}
    raw_by_key: dict[str, Any] = {}
    problems: list[tuple[str, CellProblem]] = []
    for col in columns:
        raw = values[col.index] if col.index < len(values) else None
        raw_by_key[col.key] = raw
        value = normalize(col.key, col.header, raw, from_excel=from_excel)
        if isinstance(value, CellProblem):
            problems.append((col.key, value))
        elif value is not None:
            data[col.key] = value
    field_errors: list[FieldError] = [FieldError(k, p.message, p.code) for k, p in problems]
    try:
        cleaned = validate(form, data)
    except ValidationError as e:
        broken = {k for k, _ in problems}
        field_errors += [fe for fe in e.errors if fe.key not in broken]
        cleaned = data
    if not field_errors:
        return RosterRow(line, cleaned, sheet=sheet)
    by_key = {c.key: c for c in columns}
    errors = []
    for fe in field_errors:
        found = by_key.get(fe.key)
        errors.append(CellError(fe.key, fe.message, fe.code,
                                column=found.letter if found else "",
                                header=found.header if found else "",
                                value=_shown(raw_by_key.get(fe.key))))
    return RosterRow(line, cleaned, tuple(errors), sheet=sheet)


def _row_of(row: RosterRow) -> str:
    return row_label(row.sheet, row.line)


def _mark_duplicates(rows: list[RosterRow], columns: list[hdr.Column]) -> list[RosterRow]:
    by_key = {c.key: c for c in columns}
    extra: dict[int, list[CellError]] = {}

    def add(i: int, key: str, message: str, code: str) -> None:
        col = by_key[key]
        extra.setdefault(i, []).append(CellError(key, message, code, col.letter, col.header,
                                                 _shown(rows[i].data.get(key))))

    first_by_no: dict[str, int] = {}
    first_by_id: dict[str, int] = {}
    for i, row in enumerate(rows):
        no, idn = row.data.get("student_no"), row.data.get("id_number")
        if isinstance(no, str):
            no = no.upper()
            if no in first_by_no:
                j = first_by_no[no]
                add(i, "student_no", f"学号与{_row_of(rows[j])}重复", "duplicate")
                add(j, "student_no", f"学号在{_row_of(row)}再次出现", "duplicate")
                continue
            first_by_no[no] = i
        if isinstance(idn, str):
            if idn in first_by_id:
                j = first_by_id[idn]
                other = rows[j].data.get("student_no", "")
                add(i, "id_number", f"身份证号与{_row_of(rows[j])}（学号{other}）相同："
                    "一人只能有一个学籍", "duplicate_person")
                add(j, "id_number", f"身份证号与{_row_of(row)}（学号{no}）相同："
                    "一人只能有一个学籍", "duplicate_person")
            else:
                first_by_id[idn] = i
    for i, errs in extra.items():
        rows[i] = dataclasses.replace(rows[i], errors=rows[i].errors + tuple(errs))
    return rows


def _parse(source: IO[bytes], filename: str, max_rows: int) -> RosterReport:
    roster_file = open_sheets(source, filename)
    try:
        return check_sheets(roster_file, max_rows)
    finally:
        roster_file.close()


@dataclasses.dataclass
class _RosterSheet:
    """A worksheet (or the CSV) that holds roster rows, with its header read."""

    stream: RowStream
    name: str
    """As rows and messages name it: the title, or empty when the file has one sheet."""
    header_line: int
    columns: list[hdr.Column]
    unknown: list[str]
    warnings: list[str]


def _in_sheet(name: str, message: str) -> str:
    return f"{sheet_label(name)}：{message}" if name else message


def _layout(header: tuple[Any, ...]) -> dict[str, int]:
    """Field key → column index of the recognized headers (the last one of a repeated key)."""
    return {key: i for i, v in enumerate(header) if (key := hdr.header_key(v)) is not None}


def _require_same_header(first: _RosterSheet, header: tuple[Any, ...]) -> None:
    expected = {c.key: c.index for c in first.columns}
    got = _layout(header)
    if got == expected:
        return
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    parts = []
    if missing:
        parts.append("缺少" + "、".join(f"“{hdr.label(k)}”" for k in missing) + "列")
    if extra:
        parts.append("多出" + "、".join(f"“{hdr.label(k)}”" for k in extra) + "列")
    if not parts:
        key = next(k for k in expected if got[k] != expected[k])
        parts.append(f"“{hdr.label(key)}”在{hdr.column_letter(got[key])}列，"
                     f"而在{sheet_label(first.name)}中是{hdr.column_letter(expected[key])}列")
    raise RosterFileError(
        f"表头与{sheet_label(first.name)}不同（{'；'.join(parts)}）：同一文件中的各工作表"
        "须使用相同的表头。如果该工作表不是学生名册，请删除它后重新上传；"
        "否则请改正表头，或把它另存为单独的文件导入")


def _read_header(stream: RowStream, name: str, found: tuple[int, tuple[Any, ...]],
                 first: _RosterSheet | None = None) -> _RosterSheet:
    header_line, header = found
    try:
        warnings = _check_merges(stream, header_line, header)
        if first is not None:
            _require_same_header(first, header)
        columns, unknown = _columns(header)
    except RosterFileError as e:
        if not name:
            raise
        raise RosterFileError(_in_sheet(name, e.message)) from e
    return _RosterSheet(stream, name, header_line, columns, unknown,
                        [_in_sheet(name, w) for w in warnings])


def _roster_sheets(roster_file: RosterFile) -> tuple[list[_RosterSheet], list[SkippedSheet]]:
    """The sheets holding the roster, and the ones skipped; raises when none qualifies."""
    streams = roster_file.sheets
    if len(streams) == 1:  # a CSV, or a workbook of one sheet: named nowhere
        found = _find_header(streams[0])
        if found is None:
            raise RosterFileError(_NO_HEADER)
        return [_read_header(streams[0], "", found)], []
    sheets: list[_RosterSheet] = []
    skipped: list[SkippedSheet] = []
    for stream in streams:
        name = stream.sheet or ""
        if stream.hidden:
            skipped.append(SkippedSheet(name, "隐藏的工作表，未读取（如需导入，请在 Excel 中"
                                              "取消隐藏后重新上传）", "hidden"))
            continue
        if next(_nonblank(stream.rows()), None) is None:
            skipped.append(SkippedSheet(name, "空白工作表", "empty"))
            continue
        found = _find_header(stream)
        if found is None:
            skipped.append(SkippedSheet(name, f"前{HEADER_SEARCH_ROWS}行中没有找到名册表头"
                                              "（如“学号”“姓名”“身份证号”）", "no_header"))
            continue
        if not _layout(found[1]).keys() & _IDENTITY_KEYS:
            skipped.append(SkippedSheet(name, "表头中没有“学号”或“身份证号”列，不是学生名册",
                                        "not_a_roster"))
            continue
        sheets.append(_read_header(stream, name, found, sheets[0] if sheets else None))
    if not sheets:
        details = "；".join(_in_sheet(s.sheet, s.reason) for s in skipped)
        raise RosterFileError(f"文件中没有找到学生名册（{details}）：请确认上传的是学生名册，"
                              f"表头位于前{HEADER_SEARCH_ROWS}行")
    return sheets, skipped


def _too_many_rows(sheets: list[_RosterSheet], max_rows: int) -> bool:
    """More data rows than ``max_rows`` in all sheets together; validates nothing.

    A cheap upper bound from the raw bytes first, and a streaming count only when that
    bound is too high.
    """
    bounds = [s.stream.row_upper_bound for s in sheets]
    if all(b is not None for b in bounds) and sum(
            max(0, b - s.header_line) for b, s in zip(bounds, sheets, strict=True)
            if b is not None) <= max_rows:
        return False
    total = 0
    for s in sheets:
        total += _count_rows(s.stream, s.header_line, max_rows - total)
        if total > max_rows:
            return True
    return False


def check_sheets(roster_file: RosterFile, max_rows: int = MAX_ROWS) -> RosterReport:
    """Check an open roster file: what :func:`parse_roster` does once the file is open
    (never raises for a bad file either)."""
    try:
        return _check_file(roster_file, max_rows)
    except RosterFileError as e:
        return RosterReport(fatal=e.message)


def _check_file(roster_file: RosterFile, max_rows: int) -> RosterReport:
    sheets, skipped = _roster_sheets(roster_file)
    first = sheets[0]
    fmt, encoding = roster_file.kind, first.stream.encoding
    too_many = f"文件超过{max_rows}行，无法一次导入：请按院系或班级拆分后分批导入"
    # Refuse an oversized file before validating anything.
    if _too_many_rows(sheets, max_rows):
        return RosterReport(fatal=too_many, format=fmt, encoding=encoding)
    form = roster_form()
    rows: list[RosterRow] = []
    used: list[_RosterSheet] = []
    for sheet in sheets:
        before = len(rows)
        for line, values in _nonblank(sheet.stream.rows()):
            if line <= sheet.header_line:
                continue
            if len(rows) >= max_rows:  # defensive: the count above already refused
                return RosterReport(fatal=too_many, format=fmt, encoding=encoding)
            rows.append(_check_row(form, sheet.columns, line, values, fmt == "xlsx",
                                   sheet.name))
        if len(rows) > before:
            used.append(sheet)
        elif sheet.name:
            skipped.append(SkippedSheet(sheet.name, "只有表头，没有学生数据", "no_data"))
    order = {s.sheet: i for i, s in enumerate(roster_file.sheets)}
    skipped.sort(key=lambda s: order.get(s.sheet, 0))
    if not rows:
        return RosterReport(fatal="表头下面没有学生数据", header_line=first.header_line,
                            format=fmt, encoding=encoding, skipped_sheets=tuple(skipped))
    # Same columns in every sheet (checked above): the first sheet's letters hold for all.
    rows = _mark_duplicates(rows, first.columns)
    errors = sum(1 for r in rows if r.errors)
    header_map: dict[str, str] = {}
    unknown: dict[str, None] = {}
    for sheet in used:
        header_map.update({c.header: c.key for c in sheet.columns if c.header not in header_map})
        unknown.update(dict.fromkeys(sheet.unknown))
    warnings = [s.message() for s in skipped] + [w for s in used for w in s.warnings]
    return RosterReport(
        rows=tuple(rows), valid_count=len(rows) - errors, error_count=errors,
        header_map=header_map, unknown_headers=tuple(unknown),
        warnings=tuple(warnings), header_line=used[0].header_line, format=fmt,
        encoding=encoding, sheets=tuple(s.stream.sheet for s in used if s.stream.sheet),
        skipped_sheets=tuple(skipped))
