"""Faces, language and the font table: how Word, WPS and LibreOffice pick 宋体.

Every run names its faces explicitly (``w:rFonts``): ``SimSun`` for East Asian
text and Times New Roman for Latin letters and digits, as Chinese official
forms are set. Theme fonts are removed (they would win in Word), and the
East Asian language is ``zh-CN`` everywhere, so ambiguous characters (quotes,
dashes, box characters) print in the Chinese face.

Why ``SimSun`` and not ``宋体``: both are names of the same font (the English
and the Chinese family name in its ``name`` table), and Word and WPS accept
either. Word, however, looks a run's face up in ``word/fontTable.xml`` by the
exact name, and only the entry carries what a reader without the font needs
to choose a substitute: the other name (``w:altName``), the GB2312 charset
(``86``), the serif (``roman``) family and the PANOSE class. fontconfig, which
LibreOffice asks on Linux, knows ``SimSun`` as a serif family (40-nonlatin)
and so, for zh-CN text, resolves it to Noto Serif CJK SC when fonts-noto-cjk
is installed; ``宋体`` is unknown to it and fell back to the default sans face
(Noto Sans CJK SC), which is why the templates used to print in a Hei face
under LibreOffice. So the runs name ``SimSun`` and the table entry gives
``宋体`` as its alternate name. No Noto face is named in the document: the
mapping is fontconfig's business, and a name such as "Noto Serif CJK SC" in
the file would only make Word substitute blindly where SimSun is missing.

Titles are SimSun bold (Word and WPS embolden SimSun; LibreOffice takes the
real Noto Serif CJK SC Bold), as the PDF prints them in DocSerif Bold. Not 黑体
(a sans face the forms do not use) and not 方正小标宋, which most machines that
open these files do not have.
"""

from __future__ import annotations

from dataclasses import dataclass

from docx.document import Document as DocumentObject
from docx.oxml import OxmlElement
from docx.oxml.ns import nsdecls, qn
from docx.oxml.xmlchemy import BaseOxmlElement
from lxml import etree

EAST_ASIA_FONT = "SimSun"
"""宋体 by its English family name, which fontconfig maps to a CJK serif (see above)."""
EAST_ASIA_ALT_NAME = "宋体"
LATIN_FONT = "Times New Roman"
EAST_ASIA_LANG = "zh-CN"

FONT_TABLE_PARTNAME = "/word/fontTable.xml"


@dataclass(frozen=True)
class FontEntry:
    """One ``w:font`` of the font table, with the values Word writes for that face."""

    name: str
    panose: str
    charset: str
    family: str
    sig: tuple[str, str, str, str, str, str]
    """usb0..usb3 (Unicode ranges) and csb0, csb1 (code pages) of the OS/2 table."""
    alt_name: str | None = None
    pitch: str = "variable"


FONT_TABLE: tuple[FontEntry, ...] = (
    # csb0 0x00040001: Latin 1 and code page 936 (GB2312); charset 86 = GB2312_CHARSET.
    FontEntry(EAST_ASIA_FONT, alt_name=EAST_ASIA_ALT_NAME, panose="02010600030101010101",
              charset="86", family="roman",
              sig=("00000003", "288F0000", "00000016", "00000000", "00040001", "00000000")),
    FontEntry(LATIN_FONT, panose="02020603050405020304", charset="00", family="roman",
              sig=("E0002AFF", "C0007841", "00000009", "00000000", "000001FF", "00000000")),
)
"""Only the faces the templates name (Word rewrites the table when it saves)."""


def set_fonts(rpr: BaseOxmlElement, east_asia: str = EAST_ASIA_FONT) -> None:
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


def set_lang(rpr: BaseOxmlElement) -> None:
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), EAST_ASIA_LANG)
    lang.set(qn("w:bidi"), "ar-SA")


def font_table_xml(entries: tuple[FontEntry, ...] = FONT_TABLE) -> bytes:
    """``word/fontTable.xml`` declaring ``entries``."""
    fonts = etree.fromstring(f"<w:fonts {nsdecls('w')}/>")
    for entry in entries:
        font = etree.SubElement(fonts, qn("w:font"))
        font.set(qn("w:name"), entry.name)
        if entry.alt_name:
            etree.SubElement(font, qn("w:altName")).set(qn("w:val"), entry.alt_name)
        etree.SubElement(font, qn("w:panose1")).set(qn("w:val"), entry.panose)
        etree.SubElement(font, qn("w:charset")).set(qn("w:val"), entry.charset)
        etree.SubElement(font, qn("w:family")).set(qn("w:val"), entry.family)
        etree.SubElement(font, qn("w:pitch")).set(qn("w:val"), entry.pitch)
        sig = etree.SubElement(font, qn("w:sig"))
        for key, value in zip(("usb0", "usb1", "usb2", "usb3", "csb0", "csb1"), entry.sig,
                              strict=True):
            sig.set(qn(f"w:{key}"), value)
    return etree.tostring(fonts, xml_declaration=True, encoding="UTF-8", standalone=True)


def set_font_table(doc: DocumentObject) -> None:
    """Replace python-docx's default font table (Calibri, ＭＳ 明朝, ...) with :data:`FONT_TABLE`."""
    for part in doc.part.package.iter_parts():
        if part.partname == FONT_TABLE_PARTNAME:
            part._blob = font_table_xml()  # a plain Part: its blob is what gets saved
            return
    raise LookupError(f"no {FONT_TABLE_PARTNAME} in the base document")


def set_theme_font_lang(doc: DocumentObject) -> None:
    """The default template says ja-JP, so theme fonts would resolve to ＭＳ 明朝."""
    lang = doc.settings.element.find(qn("w:themeFontLang"))
    if lang is None:  # its place in w:settings is fixed; python-docx's template has one
        raise LookupError("no w:themeFontLang in the base document's settings")
    lang.set(qn("w:eastAsia"), EAST_ASIA_LANG)
