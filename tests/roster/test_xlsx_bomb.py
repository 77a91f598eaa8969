"""An XLSX that unpacks to far more than a roster is refused before openpyxl parses it:
by the size of all its parts together, and by its cells counted in the raw XML."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl

from doc_service.roster import parse_roster
from doc_service.roster.readers import MAX_CELLS, MAX_XML_ROWS

MIB = 1024 * 1024
SHEET_HEAD = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns='
              b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
SHEET_TAIL = b"</sheetData></worksheet>"


HEADER = ["学号", "姓名", "性别", "身份证号", "院系", "班号"]


def small_workbook(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER)
    wb.save(path)
    return path


def repacked(source: Path, out: Path, *, replace: dict[str, object],
             extra: dict[str, object]) -> Path:
    """``source`` with parts replaced or added; a part given as ``(chunk, count)`` is written
    streaming, ``chunk`` ``count`` times (highly compressible: that is the bomb)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        parts = {i.filename: src.read(i) for i in src.infolist()}
        for name, data in {**parts, **replace, **extra}.items():
            with z.open(name, "w", force_zip64=True) as part:
                if isinstance(data, tuple):
                    head, chunk, count, tail = data
                    part.write(head)
                    for _ in range(count):
                        part.write(chunk)
                    part.write(tail)
                else:
                    assert isinstance(data, bytes)
                    part.write(data)
    return out


def test_many_parts_that_unpack_past_the_total_cap_are_refused(tmp_path: Path) -> None:
    base = small_workbook(tmp_path / "base.xlsx")
    zeros = (b"", b"\0" * MIB, 100, b"")  # 100 MiB each, under the per-part cap
    bomb = repacked(base, tmp_path / "bomb.xlsx", replace={},
                    extra={f"xl/media/pad{i}.bin": zeros for i in range(3)})
    assert bomb.stat().st_size < 2 * MIB
    report = parse_roster(bomb)
    assert report.fatal is not None and "解压后过大" in report.fatal


def test_a_sheet_of_millions_of_cells_is_refused_before_parsing(tmp_path: Path) -> None:
    base = small_workbook(tmp_path / "base.xlsx")
    header = b"<row>" + b"".join(f'<c t="inlineStr"><is><t>{h}</t></is></c>'.encode()
                                 for h in HEADER) + b"</row>"
    row = b"<row>" + b"<c><v>1</v></c>" * 100 + b"</row>"
    rows = MAX_CELLS // 100 + 1000  # fewer rows than the row limit, more cells than allowed
    bomb = repacked(base, tmp_path / "cells.xlsx",
                    replace={"xl/worksheets/sheet1.xml": (SHEET_HEAD + header, row, rows,
                                                          SHEET_TAIL)},
                    extra={})
    report = parse_roster(bomb)
    assert report.fatal is not None and "单元格过多" in report.fatal


def test_a_sheet_of_a_million_empty_rows_is_refused_before_parsing(tmp_path: Path) -> None:
    base = small_workbook(tmp_path / "base.xlsx")
    bomb = repacked(base, tmp_path / "rows.xlsx",
                    replace={"xl/worksheets/sheet1.xml": (SHEET_HEAD, b"<row/>",
                                                          MAX_XML_ROWS + 1, SHEET_TAIL)},
                    extra={})
    report = parse_roster(bomb)
    assert report.fatal is not None and "行数过多" in report.fatal
