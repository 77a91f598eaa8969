"""Builders of real roster files (XLSX with openpyxl, CSV in several encodings)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from doc_service.forms.idcard import make_id_number

HEADER = ["学号", "姓名", "性别", "身份证号", "考生号", "民族", "院系", "专业", "班号",
          "出生日期", "入学年月", "学制", "层次", "学习形式", "联系电话"]


def student(i: int) -> dict[str, Any]:
    """A valid student, distinct for every ``i`` (up to 100 per birth date)."""
    gender = "男" if i % 2 else "女"
    birth = dt.date(2007, 1, 1) + dt.timedelta(days=i // 100)
    return {
        "学号": f"2026{i:06d}", "姓名": f"学生{i}", "性别": gender,
        "身份证号": make_id_number("110101", birth, i % 100, gender),
        "考生号": f"26110101{i:06d}", "民族": "汉族", "院系": "信息工程学院",
        "专业": "软件工程", "班号": f"软件{i % 4 + 1:02d}班", "出生日期": birth.isoformat(),
        "入学年月": "2026-09", "学制": "4", "层次": "本科", "学习形式": "普通全日制",
        "联系电话": f"138{i:08d}",
    }


def rows_of(students: Sequence[dict[str, Any]], header: Sequence[str] = HEADER
            ) -> list[list[Any]]:
    return [[s.get(h) for h in header] for s in students]


def corrupt_check_digit(id_number: str) -> str:
    last = id_number[-1]
    return id_number[:-1] + ("0" if last != "0" else "1")


@pytest.fixture
def make_xlsx(tmp_path: Path) -> Callable[..., Path]:
    def build(rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER, *,
              before: Sequence[Sequence[Any]] = (), merges: Sequence[str] = (),
              name: str = "roster.xlsx") -> Path:
        wb = openpyxl.Workbook()
        ws = wb.active
        for r in before:
            ws.append(list(r))
        ws.append(list(header))
        for r in rows:
            ws.append(list(r))
        for m in merges:
            ws.merge_cells(m)
        path = tmp_path / name
        wb.save(path)
        return path

    return build


@pytest.fixture
def make_workbook(tmp_path: Path) -> Callable[..., Path]:
    """An XLSX of several worksheets: ``{title: rows}`` in order, rows as written (header
    included); ``hidden`` titles are hidden sheets, ``merges`` maps a title to its ranges."""

    def build(sheets: dict[str, Sequence[Sequence[Any]]], *, hidden: Sequence[str] = (),
              merges: dict[str, Sequence[str]] | None = None,
              name: str = "workbook.xlsx") -> Path:
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        for title, rows in sheets.items():
            ws = wb.create_sheet(title)
            for r in rows:
                ws.append(list(r))
            for m in (merges or {}).get(title, ()):
                ws.merge_cells(m)
            if title in hidden:
                ws.sheet_state = "hidden"
        path = tmp_path / name
        wb.save(path)
        return path

    return build


@pytest.fixture
def make_csv(tmp_path: Path) -> Callable[..., Path]:
    def build(rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER, *,
              encoding: str = "utf-8", delimiter: str = ",", before: Sequence[str] = (),
              name: str = "roster.csv") -> Path:
        buf = io.StringIO()
        for line in before:
            buf.write(line + "\r\n")
        writer = csv.writer(buf, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
        path = tmp_path / name
        path.write_bytes(buf.getvalue().encode(encoding))
        return path

    return build


class Kit:
    """Helpers for the tests (conftest is not importable under --import-mode=importlib)."""

    HEADER = HEADER
    student = staticmethod(student)
    rows_of = staticmethod(rows_of)
    corrupt_check_digit = staticmethod(corrupt_check_digit)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
