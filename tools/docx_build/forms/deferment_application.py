"""学生暂缓报到申请（审批）表 (附表3): particulars, then one opinion row per approver."""

from __future__ import annotations

from collections.abc import Sequence

from docx.document import Document as DocumentObject
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT

from ..document import new_document
from ..paragraphs import Span, note, number_line, para, spacer
from ..tables import Cell, L, V, form_table, qr_block, row_height, sign_block
from ..units import CENTER, LEFT, NOTE_PT, RIGHT, SMALL_PT, TITLE_PT


def build_deferment_application() -> DocumentObject:
    doc = new_document("学生暂缓报到申请（审批）表")
    # One title line, as 附表3 prints it: "<school>学生暂缓报到申请（审批）表".
    para(doc, Span("{{ school.name }}", bold=True), Span("学生暂缓报到申请（审批）表", bold=True),
         align=CENTER, size=TITLE_PT, after=6)
    number_line(doc)
    w = (26, 32, 24, 32, 24, 32)
    sig = "　　　　　　"
    rows: list[tuple[float, Sequence[Cell]]] = [
        (10, [L("姓　　名"), V("{{ v.name }}"), L("性　　别"), V("{{ v.gender }}"),
              L("学生类别"), V("{{ v.student_type }}")]),
        (10, [L("学　　号"), V('{{ v.student_no or "—" }}'), L("班　　号"),
              V('{{ v.class_no or "—" }}'), L("联系电话"), V("{{ v.phone }}")]),
        (10, [L("学　　院"), V("{{ v.college }}", span=2), L("专　　业"),
              V("{{ v.major }}", span=2)]),
        (10, [L("身份证号"), V("{{ v.id_number }}", span=2), L("考 生 号"),
              V('{{ v.exam_no or "—" }}', span=2)]),
        (10, [L("规定报到日期"), V("{{ v.report_date }}", span=2), L("拟报到日期"),
              V("{{ v.defer_until }}", span=2)]),
    ]
    table = form_table(doc, w, rows)
    # The opinion rows: label on the left, text with signature and date lines on the right.
    opinion_rows = [
        ("申请理由", 40),
        ("班主任（辅导员）意见", 23),
        ("二级学院意见", 23),
        ("招生办/学生处审核意见", 25),
        ("教务处备案", 19),
    ]
    for label, height in opinion_rows:
        row = table.add_row()
        idx = len(table.rows) - 1
        row_height(table, idx, height)
        lc = row.cells[0]
        lc.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
        para(lc, label, align=CENTER, reuse=True, size=SMALL_PT if len(label) > 5 else None)
        body = row.cells[1].merge(row.cells[5])
        body.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP
        if label == "申请理由":
            # Left, not justified: a justified line ending in a manual break (a newline in
            # the reason) is stretched across the cell by Word and LibreOffice alike.
            para(body, "{{ v.reason }}", align=LEFT, indent=True, line=1.4, reuse=True,
                 before=2)
            para(body, f"申请人签字：{sig}　　申请日期：", "{{ v.applied_on }}", align=RIGHT,
                 size=SMALL_PT, before=10, after=2)
        elif label == "班主任（辅导员）意见":
            para(body, "", reuse=True)
            sign_block(body, [f"签字：{sig}"])
        elif label == "二级学院意见":
            para(body, "", reuse=True)
            sign_block(body, [f"负责人签字：{sig}（学院盖章）"])
        elif label == "招生办/学生处审核意见":
            para(body, "（新生由招生办审核，在校生由学生处审核；暂缓报到时间不得超过2周）",
                 size=NOTE_PT, reuse=True, before=2)
            sign_block(body, [f"审核人签字：{sig}（盖章）"])
        else:
            para(body, "", reuse=True)
            sign_block(body, [f"经办人：{sig}（盖章）"], gap=4)
    note(doc, "注：1. 学生确因特殊原因不能按时到校（返校）报到的，须提前提交本表并附相关证明材料。",
         "　　2. 本表一式两份，二级学院、教务处各留存一份。")
    spacer(doc, 6)
    qr_block(doc)
    return doc

