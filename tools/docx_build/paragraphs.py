"""Runs and paragraphs: each :class:`Span` is one run, so a Jinja tag in it stays whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from docx.enum.text import WD_PARAGRAPH_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt
from docx.table import _Cell
from docx.text.paragraph import Paragraph

from .fonts import set_fonts
from .units import BODY_PT, CENTER, LEFT, NOTE_PT, RIGHT, SMALL_PT, TITLE_PT, Container


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
    set_fonts(rpr)
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
    """A centred title line in SimSun bold (see :mod:`.fonts` for why not 黑体)."""
    return para(doc, Span(text, bold=True), align=CENTER, size=size, before=before, after=after)


def jinja_para(container: Container, tag: str) -> Paragraph:
    """A paragraph holding only a ``{%p ... %}`` tag (docxtpl removes the paragraph)."""
    return para(container, tag)


def number_line(doc: Container, label: str = "编号：") -> Paragraph:
    return para(doc, label, "{{ doc.number }}", align=RIGHT, size=SMALL_PT, after=3)


def note(doc: Container, *lines: str, before: float = 4) -> None:
    for i, text in enumerate(lines):
        para(doc, text, size=NOTE_PT, before=before if i == 0 else 0, line=1.15)


def spacer(doc: Container, pt: float) -> None:
    para(doc, "", size=2, before=pt)
