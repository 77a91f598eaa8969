"""Sizes and alignments shared by every layout (Chinese type sizes in points)."""

from __future__ import annotations

from docx.document import Document as DocumentObject
from docx.enum.text import WD_PARAGRAPH_ALIGNMENT
from docx.table import _Cell

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
"""Where paragraphs and tables go: the document body or a table cell."""
