"""Files that are not rosters get a clear ``fatal`` answer, never an exception."""

from __future__ import annotations

import io
import os
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from doc_service.roster import MAX_ROWS, parse_roster


def test_pdf_renamed_to_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "名册.xlsx"
    path.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n")
    report = parse_roster(path)
    assert report.fatal is not None and "PDF" in report.fatal and "名册.xlsx" in report.fatal


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n\r\n  "])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    assert (parse_roster(path).fatal or "").startswith("文件为空")


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "roster.xlsx"
    path.write_bytes(os.urandom(4096))
    report = parse_roster(path)
    assert report.fatal is not None and report.rows == ()


def test_old_xls_or_encrypted_workbook() -> None:
    report = parse_roster(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "名册.xls")
    assert report.fatal is not None and ".xlsx" in report.fatal


def test_zip_that_is_not_a_workbook() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    report = parse_roster(buf.getvalue(), "名册.xlsx")
    assert report.fatal is not None and "不是 XLSX" in report.fatal


def test_truncated_xlsx(make_xlsx: Callable[..., Path], kit: Any) -> None:
    data = make_xlsx(kit.rows_of([kit.student(1)])).read_bytes()
    report = parse_roster(data[: len(data) // 2], "名册.xlsx")
    assert report.fatal is not None


def test_text_that_is_not_a_roster(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("这是一份会议纪要\n没有表格\n", encoding="utf-8")
    assert "没有找到表头" in (parse_roster(path).fatal or "")


def test_undecodable_text() -> None:
    # Valid in neither UTF-8 nor GB18030 (0x80 alone, 0xFF).
    report = parse_roster(b"\xe5\xad\xa6\xe5\x8f\xb7,\x80\xff\xff\n")
    assert report.fatal is not None and "编码" in report.fatal


def test_runaway_csv_cell(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("学号,姓名,性别,身份证号,院系,班号\n1,\"" + "x" * 200_000 + "\n",
                    encoding="utf-8")
    report = parse_roster(path)
    assert report.fatal is not None and "过长" in report.fatal


def test_more_than_fifty_thousand_rows_is_refused_quickly(tmp_path: Path, kit: Any) -> None:
    header = ",".join(kit.HEADER) + "\n"
    line = ",".join(str(v) for v in kit.rows_of([kit.student(1)])[0]) + "\n"
    path = tmp_path / "huge.csv"
    path.write_text(header + line * (MAX_ROWS + 1), encoding="utf-8")
    started = time.perf_counter()
    report = parse_roster(path)
    elapsed = time.perf_counter() - started
    assert report.fatal == f"文件超过{MAX_ROWS}行，无法一次导入：请按院系或班级拆分后分批导入"
    assert report.rows == ()
    # Refused by counting, before any row is validated (validating would take ~10 s).
    assert elapsed < 5, elapsed
