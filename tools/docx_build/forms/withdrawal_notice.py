"""学生退学通知书及存根 (seed 004, 附表4): stub and notice on one A4 sheet, cut apart."""

from __future__ import annotations

from docx.document import Document as DocumentObject
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT
from docx.enum.text import WD_TAB_ALIGNMENT, WD_TAB_LEADER
from docx.oxml import OxmlElement
from docx.shared import Mm
from docx.table import _Cell

from ..document import new_document
from ..paragraphs import Part, Span, fill, para
from ..tables import new_table, row_height, table_props
from ..units import BODY_PT, CENTER, CONTENT_MM, JUSTIFY, NOTE_PT, QR_MM, SMALL_PT, TITLE_PT

REASONS = ("未到校注册", "未经批准未到校参加规定的教学活动", "在规定的学习年限内未完成学业")


def _tick(choice: str) -> str:
    return f'{{{{ ("{choice}" in data.reasons)|box }}}}'


def _withdrawal_body(cell: _Cell) -> None:
    """Seed 004, 附表4: the same sentence on the stub and on the notice."""
    size, line = BODY_PT, 1.5
    para(cell, *fill("{{ v.name }}"), "同学的家长：", size=size, line=line, before=4)
    parts: list[Part] = ["您的孩子自", *fill("{{ v.absent_from }}", pad=" "), "至",
                         *fill("{{ v.absent_to }}", pad=" "), "因"]
    for choice in REASONS:
        parts += [_tick(choice), f"{choice}；"]
    parts += [_tick("其他"), "其他", Span('{{ v.other_reason or "　　　　　　" }}', underline=True),
              "，依据", "{{ school.regulation }}",
              "的规定，已符合退学条件，学校将其作自动退学处理，并注销学籍。"]
    para(cell, *parts, size=size, line=line, indent=True, align=JUSTIFY)


def _withdrawal_head(cell: _Cell, heading: str) -> None:
    para(cell, Span("{{ school.name }}", bold=True), align=CENTER, size=TITLE_PT, reuse=True)
    para(cell, Span(heading, bold=True), align=CENTER, size=TITLE_PT)
    para(cell, "{{ doc.number }}", align=CENTER, size=BODY_PT, before=2)


def _cut_line(doc: DocumentObject) -> None:
    """The cut between stub and notice, with the seam number (骑缝编号) boxed across it."""
    p = para(doc, "✂", "\t", Span("沿此线裁开", size=NOTE_PT), "\t",
             Span("骑缝编号 ", size=NOTE_PT, boxed=True),
             Span("{{ doc.number }}", size=NOTE_PT, boxed=True), "\t",
             size=SMALL_PT, before=6, after=6)
    stops = p.paragraph_format.tab_stops
    stops.add_tab_stop(Mm(62), WD_TAB_ALIGNMENT.CENTER, WD_TAB_LEADER.DASHES)
    stops.add_tab_stop(Mm(122), WD_TAB_ALIGNMENT.CENTER, WD_TAB_LEADER.DASHES)
    stops.add_tab_stop(Mm(CONTENT_MM), WD_TAB_ALIGNMENT.RIGHT, WD_TAB_LEADER.DASHES)


def build_withdrawal_notice() -> DocumentObject:
    doc = new_document("学生退学通知书")
    section = doc.sections[0]
    # Two halves on one A4 sheet: a little less top/bottom margin than the other forms.
    section.top_margin, section.bottom_margin = Mm(14), Mm(12)
    widths = (100, 70)

    stub = new_table(doc, 2, widths, borders=False)
    row_height(stub, 0, 86)
    row_height(stub, 1, 32)
    head = stub.cell(0, 0).merge(stub.cell(0, 1))
    head.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP
    _withdrawal_head(head, "学生退学通知书（存根）")
    _withdrawal_body(head)
    info = [("学生信息：", ["{{ v.college }}", "　", "{{ v.major }}", "　", "{{ v.class_no }}",
                          "班　学号：", "{{ v.student_no }}"]),
            ("退学文号：", ["{{ v.decision_no }}"]),
            ("通讯地址：", ["{{ v.address }}"]),
            ("联系电话：", ["{{ v.phone }}"])]
    for i, (label, values) in enumerate(info):
        para(head, label, *values, size=BODY_PT, line=1.3, before=4 if i == 0 else 0)
    left, right = stub.rows[1].cells
    left.vertical_alignment = right.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.BOTTOM
    para(left, "学院负责人（签字）：", reuse=True, size=SMALL_PT)
    para(left, "学生（家长）签收：", size=SMALL_PT, before=14)
    para(left, "签收日期：　　　　年　　月　　日", size=SMALL_PT, before=4)
    para(right, "{{ school.name }}", align=CENTER, reuse=True)
    para(right, "{{ v.notice_date }}", align=CENTER, before=2)

    _cut_line(doc)

    notice = new_table(doc, 2, widths, borders=False)
    row_height(notice, 0, 78)
    row_height(notice, 1, 36)
    head = notice.cell(0, 0).merge(notice.cell(0, 1))
    head.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP
    _withdrawal_head(head, "学生退学通知书")
    _withdrawal_body(head)
    para(head, "特此通知。", size=BODY_PT, line=1.5, indent=True)
    left, right = notice.rows[1].cells
    left.vertical_alignment = right.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.BOTTOM
    qr = left.add_table(rows=1, cols=2)
    table_props(qr, (QR_MM + 3, 100 - QR_MM - 3), borders=False)
    left._tc.remove(left.paragraphs[0]._p)
    left._tc.append(OxmlElement("w:p"))  # a cell must end with a paragraph
    qcell, tcell = qr.rows[0].cells
    qcell.vertical_alignment = tcell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    para(qcell, "{{ qr }}", reuse=True)
    para(tcell, Span("扫码核验", bold=True), size=NOTE_PT, reuse=True)
    para(tcell, "文号：", "{{ doc.number }}", size=NOTE_PT)
    para(tcell, "核验码：", "{{ doc.code }}", size=NOTE_PT)
    para(tcell, "{{ doc.verify_url }}", size=NOTE_PT)
    para(right, "（盖章）", align=CENTER, size=SMALL_PT, reuse=True)
    para(right, "{{ school.name }}", align=CENTER, before=10)
    para(right, "{{ v.notice_date }}", align=CENTER, before=2)
    return doc

