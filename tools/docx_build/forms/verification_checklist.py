"""学籍电子注册信息核对表 (seed 002): the CHSI record, checked and signed in four steps."""

from __future__ import annotations

from collections.abc import Sequence

from docx.document import Document as DocumentObject
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT

from ..document import new_document
from ..paragraphs import Span, note, number_line, para, spacer, title
from ..tables import Cell, L, V, form_table, new_table, qr_block, row_height
from ..units import BODY_PT, CENTER, LEFT, NOTE_PT, RIGHT, SMALL_PT


def build_verification_checklist() -> DocumentObject:
    doc = new_document("学籍电子注册信息核对表")
    title(doc, "{{ school.name }}")
    title(doc, "学籍电子注册信息核对表", after=2)
    para(doc, "（", "{{ v.registration_type }}", "　", "{{ v.academic_year }}", "学年）",
         align=CENTER, size=BODY_PT, after=4)
    number_line(doc)
    w = (26, 59, 26, 59)
    pairs = [
        ("考 生 号", "exam_no", "学　　号", "student_no"),
        ("姓　　名", "name", "性　　别", "gender"),
        ("民　　族", "ethnicity", "出生日期", "birth_date"),
        ("院　　系", "college", "班　　号", "class_no"),
        ("录取院校", "school", "专　　业", "major"),
        ("入学年月", "enrollment_month", "学　　制", "duration_years"),
        ("层　　次", "level", "录取类型", "admission_type"),
        ("学习形式", "study_mode", "注册类别", "registration_type"),
    ]
    rows: list[tuple[float, Sequence[Cell]]] = [
        (8.5, [L("项　目"), L("学信网注册信息"), L("项　目"), L("学信网注册信息")]),
        (8.5, [L("身份证号"), V("{{ v.id_number }}", span=3)]),
    ]
    for la, ka, lb, kb in pairs:
        rows.append((8.5, [L(la), V(f"{{{{ v.{ka} }}}}"), L(lb), V(f"{{{{ v.{kb} }}}}")]))
    rows.append((14, [L("核对结论"),
                      V("☐ 以上信息核对无误　　☐ 信息有误（请在备注栏写明需更正的项目及正确信息）",
                        span=3, align=LEFT, size=SMALL_PT)]))
    rows.append((16, [L("备　　注"), V("", span=3)]))
    form_table(doc, w, rows)
    # Signatures in the order of seed 002: student, class teacher, college head, registrar.
    # A second table right below (Word and LibreOffice draw them as one) with four equal cells.
    sign = new_table(doc, 1, (42.5, 42.5, 42.5, 42.5))
    row_height(sign, 0, 38)
    sig = sign.rows[0]
    steps = [
        ("学生本人确认", "本人已登录学信网核对以上信息。", "签字："),
        ("班主任（辅导员）", "", "签字："),
        ("院部负责人", "", "签字（盖院部印章）："),
        ("教务处学籍科", "", "经办人（盖章）："),
    ]
    for cell, (label, text, line) in zip(sig.cells, steps, strict=True):
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP
        para(cell, Span(label, bold=True), align=CENTER, size=SMALL_PT, reuse=True, before=2)
        if text:
            para(cell, text, size=NOTE_PT, before=2)
        para(cell, line, size=SMALL_PT, before=12 if text else 24)
        para(cell, "年　　月　　日", align=RIGHT, size=SMALL_PT, before=12, after=2)
    note(doc, "注：学生须登录学信网（www.chsi.com.cn）实名注册后核对本人身份信息和学籍注册信息，"
              "核对无误后签字确认；本表由院部汇总后报教务处备案，院办档案室留存。")
    spacer(doc, 4)
    qr_block(doc)
    return doc

