"""Tables: bordered form tables from rows of cells, signature lines, the QR block."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_PARAGRAPH_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm
from docx.table import Table, _Cell

from .paragraphs import Part, Span, para
from .units import CENTER, CONTENT_MM, LEFT, NOTE_PT, QR_MM, RIGHT, SMALL_PT, Container


def _border_el(tag: str, val: str, sz: int) -> OxmlElement:
    el = OxmlElement(tag)
    el.set(qn("w:val"), val)
    el.set(qn("w:sz"), str(sz))
    el.set(qn("w:space"), "0")
    el.set(qn("w:color"), "000000")
    return el


def table_props(table: Table, widths: Sequence[float], *, borders: bool) -> None:
    """Fixed layout, column widths in mm, single rules (or none), cell margins."""
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
    table_props(table, widths, borders=borders)
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
