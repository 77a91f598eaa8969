"""Build the editable Word templates ``templates/forms/<form_id>/form.docx``.

The DOCX templates are generated, not hand-edited, so that every form gets the
same page setup, fonts and table rules, and so that each Jinja tag sits whole
in one run (docxtpl only sees a tag that Word has not split across runs).
Run ``python tools/build_docx_templates.py`` after changing a layout here and
commit the .docx files it writes; ``doc_service.rendering.docx`` fills them.

Conventions: A4, 2 cm margins; titles bold 小二 (18 pt), body 小四 (12 pt);
East Asian text in 宋体 with Times New Roman for Latin and digits, and
``zh-CN`` as the East Asian language, in docDefaults, in every style and on
every run, so Word, WPS and LibreOffice all pick a Chinese face.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_PARAGRAPH_ALIGNMENT, WD_TAB_ALIGNMENT, WD_TAB_LEADER
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from doc_service.config import FORMS_ROOT

EAST_ASIA_FONT = "宋体"
"""SimSun: present on every Chinese Windows/WPS install; LibreOffice maps it to a CJK serif."""
LATIN_FONT = "Times New Roman"
TITLE_PT = 18  # 小二
BODY_PT = 12  # 小四
SMALL_PT = 10.5  # 五号
NOTE_PT = 9  # 小五
CONTENT_MM = 170  # A4 width 210 mm less two 20 mm margins
QR_MM = 24
"""Width of the QR cell; the image itself is sized by the renderer (≥ 22 mm)."""

CENTER = WD_PARAGRAPH_ALIGNMENT.CENTER
LEFT = WD_PARAGRAPH_ALIGNMENT.LEFT
RIGHT = WD_PARAGRAPH_ALIGNMENT.RIGHT
JUSTIFY = WD_PARAGRAPH_ALIGNMENT.JUSTIFY

Container = DocumentObject | _Cell


# --------------------------------------------------------------------------- fonts and styles


def _set_fonts(rpr: OxmlElement, east_asia: str = EAST_ASIA_FONT) -> None:
    """Explicit fonts (theme fonts removed: they would win in Word), CJK hint for punctuation."""
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    rfonts.set(qn("w:ascii"), LATIN_FONT)
    rfonts.set(qn("w:hAnsi"), LATIN_FONT)
    rfonts.set(qn("w:cs"), LATIN_FONT)
    rfonts.set(qn("w:eastAsia"), east_asia)
    # Quotes, dashes and box characters are "ambiguous"; the hint prints them in the CJK face.
    rfonts.set(qn("w:hint"), "eastAsia")


def _set_lang(rpr: OxmlElement) -> None:
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    lang.set(qn("w:bidi"), "ar-SA")


def _setup_styles(doc: DocumentObject) -> None:
    styles = doc.styles
    defaults = styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rpr)
    _set_lang(rpr)
    for sz_tag in ("w:sz", "w:szCs"):
        rpr.find(qn(sz_tag)).set(qn("w:val"), str(BODY_PT * 2))
    # No space after paragraphs by default: forms are set line by line.
    spacing = defaults.find(qn("w:pPrDefault")).find(qn("w:pPr")).find(qn("w:spacing"))
    spacing.set(qn("w:after"), "0")
    spacing.set(qn("w:line"), "240")

    normal = styles["Normal"]
    normal.font.name = LATIN_FONT
    normal.font.size = Pt(BODY_PT)
    nrpr = normal.element.get_or_add_rPr()
    _set_fonts(nrpr)
    _set_lang(nrpr)
    normal.paragraph_format.space_after = Pt(0)
    # Chinese line breaking rules (no 。 or ） at a line start).
    ppr = normal.element.get_or_add_pPr()
    for tag in ("w:kinsoku", "w:autoSpaceDE", "w:autoSpaceDN"):
        el = OxmlElement(tag)
        el.set(qn("w:val"), "1")
        ppr.append(el)
    for style in styles:
        if style.type == 1 and style.name != "Normal":  # paragraph styles other than Normal
            _set_fonts(style.element.get_or_add_rPr())


def new_document(title: str) -> DocumentObject:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(20)
    section.top_margin = section.bottom_margin = Mm(20)
    section.header_distance = section.footer_distance = Mm(10)
    _setup_styles(doc)
    props = doc.core_properties
    # Static text only: docxtpl renders core properties through Jinja too.
    props.title = title
    props.author = "doc-service"
    props.language = "zh-CN"
    props.comments = "由 doc-service 生成的可编辑模板"
    # The default body holds one empty paragraph; forms start with their own.
    body = doc.element.body
    for p in body.findall(qn("w:p")):
        body.remove(p)
    return doc


# --------------------------------------------------------------------------- runs and paragraphs


@dataclass(frozen=True)
class Span:
    """A piece of a paragraph: one run, so a Jinja tag in it stays whole."""

    text: str
    bold: bool = False
    underline: bool = False
    size: float | None = None
    boxed: bool = False


def fill(tag: str, pad: str = "　") -> list[Span]:
    """A value written on a blank: underlined, with a full-width space either side."""
    return [Span(pad, underline=True), Span(tag, underline=True), Span(pad, underline=True)]


Part = str | Span | list[Span]


def _spans(parts: Sequence[Part]) -> list[Span]:
    out: list[Span] = []
    for part in parts:
        if isinstance(part, str):
            out.append(Span(part))
        elif isinstance(part, Span):
            out.append(part)
        else:
            out.extend(part)
    return out


def _add_run(p: Paragraph, span: Span, size: float | None, bold: bool) -> None:
    run = p.add_run(span.text)
    run.bold = bold or span.bold or None
    if span.underline:
        run.underline = True
    if span.size or size:
        run.font.size = Pt(span.size or size or BODY_PT)
    rpr = run._r.get_or_add_rPr()
    _set_fonts(rpr)
    if span.boxed:
        bdr = OxmlElement("w:bdr")
        for k, val in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
            bdr.set(qn(k), val)
        rpr.append(bdr)


def para(container: Container, *parts: Part, align: WD_PARAGRAPH_ALIGNMENT = LEFT,
         size: float | None = None, bold: bool = False, before: float = 0, after: float = 0,
         line: float | None = None, indent: bool = False, reuse: bool = False) -> Paragraph:
    """Add a paragraph (or fill the cell's first, empty one when ``reuse``)."""
    if reuse and isinstance(container, _Cell) and not container.paragraphs[0].runs:
        p = container.paragraphs[0]
    else:
        p = container.add_paragraph()
    fmt = p.paragraph_format
    fmt.alignment = align
    fmt.space_before, fmt.space_after = Pt(before), Pt(after)
    if line is not None:
        fmt.line_spacing = line
    if indent:
        # Two characters, in chars for Word/WPS and in points for older readers.
        fmt.first_line_indent = Pt(2 * (size or BODY_PT))
        fmt.element.get_or_add_pPr().find(qn("w:ind")).set(qn("w:firstLineChars"), "200")
    for span in _spans(parts):
        _add_run(p, span, size, bold)
    return p


def title(doc: Container, text: str, *, size: float = TITLE_PT, before: float = 0,
          after: float = 4) -> Paragraph:
    return para(doc, Span(text, bold=True), align=CENTER, size=size, before=before, after=after)


def jinja_para(container: Container, tag: str) -> Paragraph:
    """A paragraph holding only a ``{%p ... %}`` tag (docxtpl removes the paragraph)."""
    return para(container, tag)


# --------------------------------------------------------------------------- tables


def _border_el(tag: str, val: str, sz: int) -> OxmlElement:
    el = OxmlElement(tag)
    el.set(qn("w:val"), val)
    el.set(qn("w:sz"), str(sz))
    el.set(qn("w:space"), "0")
    el.set(qn("w:color"), "000000")
    return el


def _table_props(table: Table, widths: Sequence[float], *, borders: bool) -> None:
    tbl_pr = table._tbl.tblPr
    for tag in ("w:tblBorders", "w:tblLayout", "w:tblCellMar"):
        old = tbl_pr.find(qn(tag))
        if old is not None:
            tbl_pr.remove(old)
    tbl_w = tbl_pr.find(qn("w:tblW"))
    if tbl_w is None:
        tbl_w = OxmlElement("w:tblW")
        tbl_pr.append(tbl_w)
    tbl_w.set(qn("w:w"), str(int(sum(widths) * 56.7)))
    tbl_w.set(qn("w:type"), "dxa")
    edges = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        if borders:
            outer = edge in ("top", "left", "bottom", "right")
            edges.append(_border_el(f"w:{edge}", "single", 8 if outer else 4))
        else:
            edges.append(_border_el(f"w:{edge}", "nil", 0))
    tbl_pr.append(edges)
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    tbl_pr.append(layout)
    margins = OxmlElement("w:tblCellMar")
    for side, twips in (("left", 85), ("right", 85), ("top", 28), ("bottom", 28)):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), str(twips if borders else (0 if side in ("left", "right") else twips)))
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    tbl_pr.append(margins)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for col, width in zip(table.columns, widths, strict=True):
        col.width = Mm(width)
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = Mm(width)


def new_table(container: Container, rows: int, widths: Sequence[float], *,
              borders: bool = True) -> Table:
    table = container.add_table(rows=rows, cols=len(widths))
    _table_props(table, widths, borders=borders)
    for row in table.rows:
        for cell in row.cells:
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    return table


def row_height(table: Table, index: int, mm: float, *, exact: bool = False) -> None:
    row = table.rows[index]
    row.height = Mm(mm)
    row.height_rule = WD_ROW_HEIGHT_RULE.EXACTLY if exact else WD_ROW_HEIGHT_RULE.AT_LEAST


@dataclass(frozen=True)
class Cell:
    """One cell of a form table row: a label (centred) or a value."""

    parts: tuple[Part, ...]
    span: int = 1
    label: bool = False
    align: WD_PARAGRAPH_ALIGNMENT = CENTER
    size: float | None = None
    top: bool = False


def L(text: str, span: int = 1, size: float | None = None) -> Cell:  # noqa: N802 - reads as a form
    # Labels longer than four characters drop to 五号 so they stay on one line.
    return Cell((text,), span=span, label=True,
                size=size or (SMALL_PT if len(text) > 4 else None))


def V(*parts: Part, span: int = 1, align: WD_PARAGRAPH_ALIGNMENT = CENTER,  # noqa: N802
      size: float | None = None, top: bool = False) -> Cell:
    return Cell(tuple(parts), span=span, align=align, size=size, top=top)


def form_table(container: Container, widths: Sequence[float],
               rows: Sequence[tuple[float, Sequence[Cell]]]) -> Table:
    """A bordered table from rows of ``(min height mm, cells)``; spans merge cells."""
    table = new_table(container, len(rows), widths)
    for r, (height, cells) in enumerate(rows):
        row_height(table, r, height)
        col = 0
        for spec in cells:
            cell = table.cell(r, col)
            if spec.span > 1:
                cell = cell.merge(table.cell(r, col + spec.span - 1))
            col += spec.span
            fill_cell(cell, spec)
        if col != len(widths):
            raise ValueError(f"row {r} covers {col} of {len(widths)} columns")
    return table


def fill_cell(cell: _Cell, spec: Cell) -> None:
    if spec.top:
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP
    para(cell, *spec.parts, align=CENTER if spec.label else spec.align, size=spec.size,
         reuse=True)


def sign_block(cell: _Cell, lines: Sequence[str], *, date: str = "年　　月　　日",
               size: float = SMALL_PT, gap: float = 14) -> None:
    """Signature / seal lines at the foot of an opinion cell, right-aligned like paper forms."""
    for i, text in enumerate(lines):
        para(cell, text, align=RIGHT, size=size, before=gap if i == 0 else 4)
    if date:
        para(cell, date, align=RIGHT, size=size, before=4, after=2)


def qr_block(container: Container, *, caption: str = "扫码核验",
             note: str = "") -> Table:
    """The QR image (``{{ qr }}``, an InlineImage) beside the 文号 and the verification URL."""
    table = new_table(container, 1, (QR_MM + 4, CONTENT_MM - QR_MM - 4), borders=False)
    qr_cell, text_cell = table.rows[0].cells
    para(qr_cell, "{{ qr }}", align=LEFT, reuse=True)
    para(text_cell, Span(caption, bold=True), size=SMALL_PT, reuse=True)
    para(text_cell, "文号：", "{{ doc.number }}", size=SMALL_PT)
    para(text_cell, "核验码：", "{{ doc.code }}", size=SMALL_PT)
    para(text_cell, "核验网址：", "{{ doc.verify_url }}", size=SMALL_PT)
    if note:
        para(text_cell, note, size=NOTE_PT)
    return table


def number_line(doc: Container, label: str = "编号：") -> Paragraph:
    return para(doc, label, "{{ doc.number }}", align=RIGHT, size=SMALL_PT, after=3)


def note(doc: Container, *lines: str, before: float = 4) -> None:
    for i, text in enumerate(lines):
        para(doc, text, size=NOTE_PT, before=before if i == 0 else 0, line=1.15)


def spacer(doc: Container, pt: float) -> None:
    para(doc, "", size=2, before=pt)


# --------------------------------------------------------------------------- the five forms

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
    _table_props(qr, (QR_MM + 3, 100 - QR_MM - 3), borders=False)
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


BUILDERS: dict[str, Callable[[], DocumentObject]] = {
    "withdrawal_notice": build_withdrawal_notice,
    "deferment_application": build_deferment_application,
    "verification_checklist": build_verification_checklist,
    "status_change_notice": build_status_change_notice,
    "enrollment_certificate": build_enrollment_certificate,
}

_FIXED_TIME = (2026, 1, 1, 0, 0, 0)


def _stable_bytes(doc: DocumentObject) -> bytes:
    """The .docx with fixed zip timestamps, so rebuilding an unchanged form changes no bytes."""
    import datetime as dt

    doc.core_properties.created = doc.core_properties.modified = dt.datetime(2026, 1, 1)
    doc.core_properties.last_modified_by = "doc-service"
    doc.core_properties.revision = 1
    raw = io.BytesIO()
    doc.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(zipfile.ZipInfo(info.filename, _FIXED_TIME), src.read(info.filename),
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def build(form_id: str, root: Path = FORMS_ROOT) -> Path:
    path = root / form_id / "form.docx"
    path.write_bytes(_stable_bytes(BUILDERS[form_id]()))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("forms", nargs="*", metavar="FORM_ID",
                        help="forms to build (default: all five)")
    parser.add_argument("--root", type=Path, default=FORMS_ROOT, help="templates/forms folder")
    args = parser.parse_args(argv)
    unknown = [f for f in args.forms if f not in BUILDERS]
    if unknown:
        parser.error(f"unknown form id(s): {', '.join(unknown)}")
    for form_id in args.forms or BUILDERS:
        print(build(form_id, args.root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
