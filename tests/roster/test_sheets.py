"""XLSX rosters of several worksheets: one per class or college, with notes sheets around."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from doc_service.roster import parse_roster

CLASS_1, CLASS_2 = "2023级1班", "2023级2班"
NOTES = [["填表说明"], ["1. 学号为10位数字"], ["2. 身份证号请设置为文本格式"]]


def sheet(kit: Any, numbers: range | list[int], header: list[str] | None = None
          ) -> list[list[Any]]:
    header = header or list(kit.HEADER)
    return [header, *kit.rows_of([kit.student(i) for i in numbers], header)]


def test_every_roster_sheet_is_read_and_the_others_are_named(
        make_workbook: Callable[..., Path], kit: Any) -> None:
    path = make_workbook({"填表说明": NOTES, CLASS_1: sheet(kit, range(3)),
                          "Sheet3": [], CLASS_2: sheet(kit, range(3, 5))})
    report = parse_roster(path)
    assert report.fatal is None and report.format == "xlsx"
    assert (report.valid_count, report.error_count) == (5, 0)
    assert report.sheets == (CLASS_1, CLASS_2)
    assert [(r.sheet, r.line) for r in report.rows] == [
        (CLASS_1, 2), (CLASS_1, 3), (CLASS_1, 4), (CLASS_2, 2), (CLASS_2, 3)]
    assert [(s.sheet, s.code) for s in report.skipped_sheets] == [
        ("填表说明", "no_header"), ("Sheet3", "empty")]
    assert report.warnings == (
        "已跳过「填表说明」工作表：前10行中没有找到名册表头（如“学号”“姓名”“身份证号”）",
        "已跳过「Sheet3」工作表：空白工作表")
    assert report.header_line == 1 and report.header_map["身份证号"] == "id_number"


def test_row_problems_name_the_sheet_and_the_cell(make_workbook: Callable[..., Path],
                                                   kit: Any) -> None:
    bad = sheet(kit, range(3, 6))
    bad[3][3] = kit.corrupt_check_digit(bad[3][3])  # 2023级2班, row 4, column D
    report = parse_roster(make_workbook({CLASS_1: sheet(kit, range(3)), CLASS_2: bad}))
    assert (report.valid_count, report.error_count) == (5, 1)
    (row,) = [r for r in report.rows if r.errors]
    (error,) = row.errors
    assert (row.sheet, row.line, error.column, error.header) == (CLASS_2, 4, "D", "身份证号")
    assert row.location(error) == "「2023级2班」工作表 D4"
    assert row.location() == "「2023级2班」工作表第4行"
    data = json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    (shown,) = [r for r in data["rows"] if r["errors"]]
    assert shown["sheet"] == CLASS_2 and shown["errors"][0]["location"] == "「2023级2班」工作表 D4"
    assert data["sheets"] == [CLASS_1, CLASS_2] and data["skipped_sheets"] == []


def test_duplicate_student_number_across_sheets_is_reported_on_both_rows(
        make_workbook: Callable[..., Path], kit: Any) -> None:
    again = sheet(kit, [10, 11])
    again[2] = kit.rows_of([{**kit.student(12), "学号": kit.student(1)["学号"]}])[0]
    report = parse_roster(make_workbook({CLASS_1: sheet(kit, range(3)), CLASS_2: again}))
    assert (report.valid_count, report.error_count) == (3, 2)
    assert len(report.valid_rows()) == 3  # neither copy is imported
    first = next(r for r in report.rows if r.sheet == CLASS_1 and r.line == 3)
    second = next(r for r in report.rows if r.sheet == CLASS_2 and r.line == 3)
    assert [(e.code, e.message) for e in first.errors] == [
        ("duplicate", "学号在「2023级2班」工作表第3行再次出现")]
    assert [(e.code, e.message) for e in second.errors] == [
        ("duplicate", "学号与「2023级1班」工作表第3行重复")]
    assert second.location(second.errors[0]) == "「2023级2班」工作表 A3"


def test_same_person_under_two_student_numbers_across_sheets(
        make_workbook: Callable[..., Path], kit: Any) -> None:
    twin = {**kit.student(20), "学号": "2026999999"}
    other = [kit.HEADER, *kit.rows_of([twin])]
    report = parse_roster(make_workbook({CLASS_1: sheet(kit, [20, 21]), CLASS_2: other}))
    assert report.error_count == 2
    (error,) = [e for r in report.rows if r.sheet == CLASS_2 for e in r.errors]
    assert error.code == "duplicate_person"
    assert error.message.startswith("身份证号与「2023级1班」工作表第2行（学号2026000020）相同")


def test_a_sheet_with_another_header_refuses_the_file_naming_it(
        make_workbook: Callable[..., Path], kit: Any) -> None:
    grades = [["学号", "姓名", "课程", "成绩"], ["2026000001", "学生1", "高等数学", 90]]
    report = parse_roster(make_workbook({CLASS_1: sheet(kit, range(3)), "期末成绩": grades}))
    assert report.rows == () and report.fatal is not None
    assert report.fatal.startswith("「期末成绩」工作表：表头与「2023级1班」工作表不同（缺少")
    assert "“身份证号”" in report.fatal and "同一文件中的各工作表须使用相同的表头" in report.fatal
    assert "请删除它" in report.fatal


def test_a_class_sheet_with_an_extra_column_is_refused(make_workbook: Callable[..., Path],
                                                       kit: Any) -> None:
    header = [h for h in kit.HEADER if h != "联系电话"]
    report = parse_roster(make_workbook({CLASS_1: sheet(kit, range(2), header),
                                         CLASS_2: sheet(kit, range(2, 4))}))
    assert report.fatal is not None
    assert report.fatal.startswith("「2023级2班」工作表：表头与「2023级1班」工作表不同"
                                   "（多出“联系电话”列）")


def test_columns_in_another_order_are_refused(make_workbook: Callable[..., Path],
                                              kit: Any) -> None:
    swapped = list(kit.HEADER)
    swapped[0], swapped[1] = swapped[1], swapped[0]  # 姓名 before 学号
    report = parse_roster(make_workbook({CLASS_1: sheet(kit, range(2)),
                                         CLASS_2: sheet(kit, range(2, 4), swapped)}))
    assert report.fatal is not None
    assert "“学号”在B列，而在「2023级1班」工作表中是A列" in report.fatal


def test_header_spelling_and_title_rows_may_differ(make_workbook: Callable[..., Path],
                                                   kit: Any) -> None:
    variant = ["*学 号" if h == "学号" else "证件号码" if h == "身份证号" else h
               for h in kit.HEADER]
    second = [["2023级2班学生名册"], [], variant, *sheet(kit, range(3, 5))[1:]]
    report = parse_roster(make_workbook({CLASS_1: sheet(kit, range(3)), CLASS_2: second}))
    assert report.fatal is None and report.valid_count == 5
    assert [r.line for r in report.rows if r.sheet == CLASS_2] == [4, 5]
    assert report.header_map["证件号码"] == "id_number" == report.header_map["身份证号"]


def test_summary_and_hidden_sheets_are_skipped(make_workbook: Callable[..., Path],
                                               kit: Any) -> None:
    summary = [["院系", "班级", "人数"], ["信息工程学院", "软件01班", 40]]
    lookup = [["性别", "民族"], ["男", "汉族"], ["女", "回族"]]  # a drop-down source
    path = make_workbook({"汇总": summary, CLASS_1: sheet(kit, range(2)), "字典": lookup},
                         hidden=["字典"])
    report = parse_roster(path)
    assert report.fatal is None and report.sheets == (CLASS_1,) and report.valid_count == 2
    reasons = {s.sheet: (s.code, s.reason) for s in report.skipped_sheets}
    assert reasons["汇总"] == ("not_a_roster", "表头中没有“学号”或“身份证号”列，不是学生名册")
    assert reasons["字典"][0] == "hidden" and "隐藏" in reasons["字典"][1]
    assert report.to_dict()["skipped_sheets"][0] == {
        "sheet": "汇总", "reason": reasons["汇总"][1], "code": "not_a_roster"}


def test_a_class_sheet_with_only_a_header_is_skipped(make_workbook: Callable[..., Path],
                                                     kit: Any) -> None:
    report = parse_roster(make_workbook({CLASS_1: [kit.HEADER], CLASS_2: sheet(kit, [1])}))
    assert report.fatal is None and report.sheets == (CLASS_2,)
    assert [(s.sheet, s.code) for s in report.skipped_sheets] == [(CLASS_1, "no_data")]
    assert report.warnings == ("已跳过「2023级1班」工作表：只有表头，没有学生数据",)

    empty = parse_roster(make_workbook({CLASS_1: [kit.HEADER], CLASS_2: [kit.HEADER]},
                                       name="empty.xlsx"))
    assert empty.fatal == "表头下面没有学生数据"


def test_no_roster_in_any_sheet(make_workbook: Callable[..., Path]) -> None:
    report = parse_roster(make_workbook({"填表说明": NOTES, "Sheet2": []}))
    assert report.fatal is not None and report.fatal.startswith("文件中没有找到学生名册（")
    assert "「填表说明」工作表：前10行中没有找到名册表头" in report.fatal
    assert "「Sheet2」工作表：空白工作表" in report.fatal


def test_merged_cells_are_reported_with_their_sheet(make_workbook: Callable[..., Path],
                                                    kit: Any) -> None:
    path = make_workbook({CLASS_1: sheet(kit, range(2)), CLASS_2: sheet(kit, range(2, 5))},
                         merges={CLASS_2: ["G2:G4"]})
    report = parse_roster(path)
    assert report.fatal is None
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("「2023级2班」工作表：数据区存在合并单元格（G2:G4）")

    header = list(kit.HEADER)
    header[4] = None
    path = make_workbook({CLASS_1: sheet(kit, range(2)),
                          CLASS_2: [header, *kit.rows_of([kit.student(3)])]},
                         merges={CLASS_2: ["D1:E1"]}, name="merged-header.xlsx")
    assert parse_roster(path).fatal == ("「2023级2班」工作表：表头存在合并单元格（D1:E1），"
                                        "请取消合并后重新导出")


@pytest.mark.parametrize("second, refused", [(5, False), (6, True)])
def test_row_limit_counts_all_sheets(make_workbook: Callable[..., Path], kit: Any,
                                     second: int, refused: bool) -> None:
    path = make_workbook({CLASS_1: sheet(kit, range(5)),
                          CLASS_2: sheet(kit, range(5, 5 + second))})
    report = parse_roster(path, max_rows=10)
    assert (report.fatal is not None) is refused
    if refused:
        assert "超过10行" in (report.fatal or "")
    else:
        assert report.valid_count == 10


def test_a_workbook_of_one_sheet_reads_as_before(make_xlsx: Callable[..., Path],
                                                 kit: Any) -> None:
    rows = kit.rows_of([kit.student(1), kit.student(2)])
    rows[1][3] = kit.corrupt_check_digit(rows[1][3])
    report = parse_roster(make_xlsx(rows))
    assert report.sheets == ("Sheet",) and report.skipped_sheets == () and report.warnings == ()
    bad = report.rows[1]
    assert bad.sheet == "" and bad.location(bad.errors[0]) == "第3行 D列"
    assert bad.location() == "第3行"


def test_csv_rows_name_no_sheet(make_csv: Callable[..., Path], kit: Any) -> None:
    rows = kit.rows_of([kit.student(1), kit.student(1)])
    report = parse_roster(make_csv(rows))
    assert report.sheets == () and report.error_count == 2
    assert report.rows[1].sheet == ""
    assert report.rows[1].errors[0].message == "学号与第2行重复"
