"""学籍异动通知单 (seed 003): the notice to the college, the particulars, attachments."""

from __future__ import annotations

from collections.abc import Sequence

from docx.document import Document as DocumentObject
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT

from ..document import new_document
from ..paragraphs import Span, jinja_para, note, number_line, para, spacer, title
from ..tables import Cell, L, V, form_table, qr_block, row_height
from ..units import CENTER, JUSTIFY, LEFT, RIGHT, SMALL_PT


def build_status_change_notice() -> DocumentObject:
    doc = new_document("学籍异动通知单")
    title(doc, "{{ school.name }}")
    title(doc, "学籍异动通知单", after=6)
    number_line(doc, "")
    para(doc, "{{ v.college }}", "：", before=2)
    para(doc, "根据", "{{ v.decision_no }}", "，经学校研究同意，你院学生", "{{ v.name }}",
         "（学号", "{{ v.student_no }}", "）办理", Span("{{ v.change_type }}", bold=True),
         "手续，自", "{{ v.effective_date }}", "起生效。请及时通知学生本人，并按要求将以下材料报送",
         "{{ school.registrar_office }}", "存档。",
         indent=True, line=1.5, align=JUSTIFY, after=6)
    w = (25, 36, 22, 29, 22, 36)  # a date such as 2026年12月15日 needs 36 mm at 小四
    rows: list[tuple[float, Sequence[Cell]]] = [
        (9, [L("姓　　名"), V("{{ v.name }}"), L("学　　号"), V("{{ v.student_no }}"),
             L("性　　别"), V("{{ v.gender }}")]),
        (9, [L("学　　院"), V("{{ v.college }}", span=3), L("层　　次"), V("{{ v.level }}")]),
        (9, [L("专　　业"), V("{{ v.major }}", span=3), L("班　　号"), V("{{ v.class_no }}")]),
        (9, [L("异动类别"), V(Span("{{ v.change_type }}", bold=True)), L("异动原因"),
             V("{{ v.change_reason }}", span=3)]),
        (9, [L("异动文件号"), V("{{ v.decision_no }}", span=3), L("发文日期"),
             V("{{ v.decision_date }}")]),
        (9, [L("生效日期"), V("{{ v.effective_date }}"), L("异动期限"),
             V('{{ ("自" ~ v.period_from ~ "至" ~ v.period_to) if data.period_from else "—" }}',
               span=3)]),
        (9, [L("转入专业"), V('{{ v.to_major or "—" }}', span=3), L("转入班号"),
             V('{{ v.to_class_no or "—" }}')]),
        (14, [L("情况说明"), V('{{ v.reason_detail or "—" }}', span=5, align=LEFT)]),
    ]
    table = form_table(doc, w, rows)
    # Attachments: one paragraph per item, repeated by docxtpl's paragraph loop.
    row = table.add_row()
    row_height(table, len(table.rows) - 1, 16)
    para(row.cells[0], "所附材料", align=CENTER, reuse=True)
    row.cells[0].vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    body = row.cells[1].merge(row.cells[5])
    body.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    jinja_para(body, "{%p for a in attachments %}")
    body._tc.remove(body.paragraphs[0]._p)  # drop the empty first paragraph
    para(body, "{{ loop.index }}", ". ", "{{ a }}")
    jinja_para(body, "{%p endfor %}")
    jinja_para(body, "{%p if not attachments %}")
    para(body, "—")
    jinja_para(body, "{%p endif %}")
    # Signatures: the college, the registrar's seal, the student's receipt.
    sig = table.add_row()
    row_height(table, len(table.rows) - 1, 32)
    c1 = sig.cells[0].merge(sig.cells[1])
    c2 = sig.cells[2].merge(sig.cells[3])
    c3 = sig.cells[4].merge(sig.cells[5])
    blocks = [(c1, "学院学籍分管领导审批", "签字（学院盖章）："),
              (c2, "{{ school.registrar_office }}（盖章）", "经办人："),
              (c3, "学生签收", "签字：")]
    for cell, label, line in blocks:
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP
        para(cell, Span(label, bold=True), align=CENTER, size=SMALL_PT, reuse=True, before=2)
        para(cell, line, size=SMALL_PT, before=20)
        para(cell, "年　　月　　日", align=RIGHT, size=SMALL_PT, before=12, after=2)
    note(doc, "注：1. 学籍异动手续须由学生所在学院的学籍管理工作人员到教务处办理，"
              "异动材料由学院学籍分管领导审批签字。",
         "　　2. 教务处自异动文件下发之日起15个工作日内在学信网完成学籍异动标注。",
         "　　3. 为方便材料存档，所有材料一律用A4纸。")
    spacer(doc, 4)
    qr_block(doc)
    return doc

