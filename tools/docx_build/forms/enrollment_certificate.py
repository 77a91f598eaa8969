"""在校证明 / 在籍证明: a certificate set in 四号, double spaced, with the QR block at the foot."""

from __future__ import annotations

from docx.document import Document as DocumentObject

from ..document import new_document
from ..paragraphs import Span, number_line, para, spacer
from ..tables import new_table, qr_block
from ..units import CENTER


def build_enrollment_certificate() -> DocumentObject:
    doc = new_document("在校证明")
    spacer(doc, 24)
    para(doc, Span("{{ v.certificate_kind }}", bold=True), align=CENTER, size=22, after=10)
    number_line(doc, "")
    spacer(doc, 8)
    line, size = 2.0, 14  # 四号, double spaced, as certificates are set
    # The ID number comes early: as an unbreakable 18-digit word it would leave a gap at a line end.
    para(doc, "兹证明", Span("{{ v.name }}", underline=True), "，", "{{ v.gender }}",
         "，身份证号", "{{ v.id_number }}", "，", "{{ v.birth_date }}", "出生，学号",
         "{{ v.student_no }}", "，系我校", "{{ v.college }}", "{{ v.major }}", "专业",
         "{{ v.level }}", "学生（", "{{ v.study_mode }}", "，学制", "{{ v.duration_years }}",
         '{{ ("，班级" ~ v.class_no) if v.class_no else "" }}', "），于",
         "{{ v.enrollment_month }}", "入学，预计", "{{ v.expected_graduation }}", "毕业。",
         '{{ "该生现在我校在读。" if data.certificate_kind == "在校证明" '
         'else "该生具有我校正式学籍，学籍状态正常。" }}',
         size=size, line=line, indent=True)
    para(doc, "特此证明。", size=size, line=line, indent=True)
    para(doc, "本证明仅用于", "{{ v.purpose }}", "，有效期至", "{{ v.valid_until }}", "。",
         size=size, line=line, indent=True)
    spacer(doc, 30)
    signoff = new_table(doc, 1, (90, 80), borders=False)
    right = signoff.rows[0].cells[1]
    para(right, "{{ school.name }}", align=CENTER, size=size, reuse=True)
    para(right, '{{ school.student_office if data.certificate_kind == "在校证明" '
                'else school.registrar_office }}', "（盖章）", align=CENTER, size=size, before=4)
    para(right, "{{ v.issued_on }}", align=CENTER, size=size, before=4)
    spacer(doc, 60)
    qr_block(doc, note="持证人或接收单位可扫描二维码或访问上述网址，核验本证明的真伪及有效期。"
                       "本证明涂改无效。")
    return doc

