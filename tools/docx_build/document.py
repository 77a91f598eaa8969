"""A new form document (A4, styles, fonts) and its reproducible bytes."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from .fonts import LATIN_FONT, set_font_table, set_fonts, set_lang, set_theme_font_lang
from .units import BODY_PT


def setup_styles(doc: DocumentObject) -> None:
    styles = doc.styles
    defaults = styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    set_fonts(rpr)
    set_lang(rpr)
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
    set_fonts(nrpr)
    set_lang(nrpr)
    normal.paragraph_format.space_after = Pt(0)
    # Chinese line breaking rules (no 。 or ） at a line start).
    ppr = normal.element.get_or_add_pPr()
    for tag in ("w:kinsoku", "w:autoSpaceDE", "w:autoSpaceDN"):
        el = OxmlElement(tag)
        el.set(qn("w:val"), "1")
        ppr.append(el)
    for style in styles:
        if style.type == WD_STYLE_TYPE.PARAGRAPH and style.name != "Normal":
            set_fonts(style.element.get_or_add_rPr())
        elif style.type == WD_STYLE_TYPE.CHARACTER and style.element.rPr is not None \
                and style.element.rPr.find(qn("w:rFonts")) is not None:
            # "Heading 1 Char" and the like would still name the theme's Cambria.
            set_fonts(style.element.rPr)


def new_document(title: str) -> DocumentObject:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(20)
    section.top_margin = section.bottom_margin = Mm(20)
    section.header_distance = section.footer_distance = Mm(10)
    setup_styles(doc)
    set_font_table(doc)
    set_theme_font_lang(doc)
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


_FIXED_TIME = (2026, 1, 1, 0, 0, 0)


def stable_bytes(doc: DocumentObject) -> bytes:
    """The .docx with fixed zip timestamps, so rebuilding an unchanged form changes no bytes."""
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
