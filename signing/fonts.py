"""Stamp fonts: pyHanko's font engine reads single OpenType fonts, not TTC collections.

:func:`subset_font` cuts one face out of a collection (e.g. Noto Serif CJK SC, face 2) down
to the characters needed, for tests and the demo; the app ships its own GB2312 subset.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTLibError

from .errors import PdfSignError

NOTO_SERIF_CJK = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"
NOTO_SC_INDEX = 2
STAMP_BASE_CHARS = (
    "".join(chr(c) for c in range(0x20, 0x7F))
    + "：，。（）、—·年月日时分秒签名角色时间学生班主任院长负责人教务处学籍科审批办公室"
    "同意驳回确认盖章作废已阅知悉批准理由意见北京时间电子印章学校学院部负责人招生办学生处门〓"
)


def subset_font(src: str | os.PathLike[str], dest: str | os.PathLike[str], text: str,
                font_number: int = NOTO_SC_INDEX) -> Path:
    """Write an OTF holding only ``text`` (plus ASCII and stamp words) from face
    ``font_number`` of ``src``."""
    options = subset.Options()
    options.font_number = font_number
    # Stamps are short horizontal lines: kerning and proportional CJK punctuation are all
    # they use; keeping every feature made each signature re-embed far more glyphs.
    options.layout_features = ["kern", "palt", "halt"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    try:
        with open(src, "rb") as fh:  # fontTools leaves files it opens itself unclosed
            data = io.BytesIO(fh.read())
        font = subset.load_font(data, options)
        sub = subset.Subsetter(options)
        sub.populate(text=STAMP_BASE_CHARS + text)
        sub.subset(font)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        subset.save_font(font, str(dest), options)
        font.close()
    except (OSError, TTLibError) as e:
        raise PdfSignError(f"cannot subset font {src}") from e
    return dest
