"""Roster import: report before writing, valid rows or none, upsert by 学号, college scope."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import openpyxl
from sqlalchemy import func, select

from doc_service.services.roster_import import import_roster
from doc_service.storage.models import SchoolClass, Student
from tests.services.batch.conftest import (
    HEADER,
    csv_bytes,
    roster_student,
    staff,
    subprocess_env,
    xlsx_bytes,
)


def count_students(rt: Any, prefix: str) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count()).select_from(Student)
                        .where(Student.student_no.like(prefix + "%"))) or 0


def test_xlsx_with_bad_rows_reports_per_cell_and_writes_nothing_until_commit(
        runtime: Any, registrar: Any) -> None:
    rows = [roster_student(i, "网络2701") for i in range(100, 106)]
    idn = rows[1]["证件号码"]
    rows[1]["证件号码"] = idn[:-1] + ("0" if idn[-1] != "0" else "1")
    rows[3]["性别"] = "未知"
    data = xlsx_bytes(rows)
    preview = import_roster(runtime, registrar, data, "名册.xlsx", commit=False)
    assert not preview.committed and count_students(runtime, "270000010") == 0
    bad = {r.line: r.errors for r in preview.report.rows if r.errors}
    assert sorted(bad) == [3, 5]
    assert bad[3][0].column == "D" and bad[3][0].header == "证件号码"
    assert "校验" in bad[3][0].message
    assert bad[5][0].key == "gender"
    assert preview.new_classes == ("网络2701",)
    assert preview.classes_without_teacher == ("网络2701",)

    result = import_roster(runtime, registrar, data, "名册.xlsx", commit=True)
    assert result.committed and result.created == 4 and result.report.error_count == 2
    assert count_students(runtime, "270000010") == 4
    assert result.classes_without_teacher == ("网络2701",)
    with runtime.sessions() as s:
        klass = s.scalar(select(SchoolClass).where(SchoolClass.class_no == "网络2701"))
        assert klass is not None and klass.teacher_id is None and klass.grade == 2026


def test_all_or_nothing_with_a_bad_row_imports_none(runtime: Any, registrar: Any) -> None:
    rows = [roster_student(i, "网络2702") for i in range(200, 205)]
    rows[2]["出生日期"] = "2007-02-30"
    result = import_roster(runtime, registrar, xlsx_bytes(rows), "x.xlsx", commit=True,
                           all_or_nothing=True)
    assert not result.committed and result.refused and count_students(runtime, "270000020") == 0


def test_gbk_csv_imports_and_reimport_updates_instead_of_duplicating(
        runtime: Any, registrar: Any) -> None:
    rows = [roster_student(i, "网络2703") for i in range(300, 310)]
    first = import_roster(runtime, registrar, csv_bytes(rows, "gbk"), "名册.csv", commit=True)
    assert first.report.encoding == "gb18030" and first.created == 10
    rows[0]["姓名"] = "欧阳娜娜"
    rows[1]["民族"] = "回族"
    again = import_roster(runtime, registrar, csv_bytes(rows, "gbk"), "名册.csv", commit=True)
    assert (again.created, again.updated, again.unchanged) == (0, 2, 8)
    assert count_students(runtime, "270000030") == 10
    with runtime.sessions() as s:
        st = s.scalar(select(Student).where(Student.student_no == rows[0]["学号"]))
        assert st is not None and st.name == "欧阳娜娜"


def test_an_id_number_held_by_another_student_is_a_row_error(runtime: Any, registrar: Any
                                                             ) -> None:
    rows = [roster_student(i, "网络2704") for i in range(400, 402)]
    import_roster(runtime, registrar, xlsx_bytes(rows), "a.xlsx", commit=True)
    clash = dict(roster_student(402, "网络2704"), 证件号码=rows[0]["证件号码"])
    result = import_roster(runtime, registrar, xlsx_bytes([clash]), "b.xlsx", commit=True)
    assert result.created == 0
    assert result.report.rows[0].errors[0].code == "duplicate_person"


def test_an_issuer_imports_only_their_own_college(runtime: Any) -> None:
    issuer = staff(runtime, "jy-issuer")  # 交通运输学院
    rows = [roster_student(500, "交运2701", "交通运输学院"),
            roster_student(501, "网络2705", "信息工程学院")]
    result = import_roster(runtime, issuer, xlsx_bytes(rows), "c.xlsx", commit=True)
    assert result.created == 1
    err = result.report.rows[1].errors[0]
    assert err.code == "out_of_scope" and "交通运输学院" in err.message
    assert count_students(runtime, rows[1]["学号"]) == 0


def test_a_file_that_is_not_a_roster_gets_a_clear_answer(runtime: Any, registrar: Any) -> None:
    result = import_roster(runtime, registrar, b"%PDF-1.7 not a sheet", "x.xlsx", commit=True)
    assert not result.committed and result.report.fatal and result.refused


def test_cli_reports_then_imports_in_chinese(runtime: Any, db_url: str, tmp_path: Any) -> None:
    rows = [roster_student(i, "网络2706") for i in range(600, 604)]
    rows[2]["学号"] = "12"
    path = tmp_path / "名册.csv"
    path.write_bytes(csv_bytes(rows, "gbk"))
    env = subprocess_env(runtime, db_url)
    cmd = [sys.executable, "-m", "doc_service", "roster", "import", str(path)]
    check = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert check.returncode == 1, check.stderr
    assert "第4行 A列（学号）：学号应为4到20位字母或数字" in check.stdout
    assert "未写入" in check.stdout and count_students(runtime, "270000060") == 0
    done = subprocess.run(cmd + ["--commit", "--json"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["created"] == 3
    assert count_students(runtime, "270000060") == 3


def test_cli_names_the_sheet_of_a_bad_row_in_a_workbook_of_classes(
        runtime: Any, db_url: str, tmp_path: Any) -> None:


    wb = openpyxl.Workbook()
    for sheet, serials in (("网络2707班", range(700, 702)), ("网络2708班", range(710, 712))):
        ws = wb.active if sheet == "网络2707班" else wb.create_sheet()
        ws.title = sheet
        ws.append(HEADER)
        for i in serials:
            row = roster_student(i, sheet[:-1])
            if i == 711:
                row["性别"] = "未知"
            ws.append([row[h] for h in HEADER])
    path = tmp_path / "分班名册.xlsx"
    wb.save(path)
    check = subprocess.run([sys.executable, "-m", "doc_service", "roster", "import", str(path)],
                           capture_output=True, text=True, env=subprocess_env(runtime, db_url),
                           timeout=120)
    assert check.returncode == 1, check.stderr
    assert "「网络2708班」工作表 C3（性别）" in check.stdout, check.stdout
