"""The embedded Chinese fonts, and the check that every character can be drawn.

Forms print in Noto Serif CJK SC. Embedding the system font costs ~300 KB and
~200 ms per page, because WeasyPrint's HarfBuzz subset keeps glyph slots up
to the highest glyph id used. So we build, once, a pre-subset ``DocSerif``
(regular and bold) over GB 2312, common name characters outside it, ASCII and
the punctuation forms use; ids are compact and a page embeds in ~60 KB.

Characters outside that subset (rare name characters) fall back to the full
system face, which is embedded the same way. A character neither face has
would print as an empty box: :func:`missing_glyphs` finds those first, so the
renderer refuses with a clear error instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from functools import cache
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

from doc_service.config import FONTS_ROOT
from doc_service.errors import ConfigurationError

log = logging.getLogger(__name__)

SYSTEM_DIR = Path("/usr/share/fonts/opentype/noto")
SYSTEM_FACES = {"Regular": "NotoSerifCJK-Regular.ttc", "Bold": "NotoSerifCJK-Bold.ttc"}
SC_INDEX = 2
"""Index of the Simplified Chinese face inside the Noto CJK collections."""
FALLBACK_FAMILY = "Noto Serif CJK SC"

# Note: both faces must cover all of GB 2312. Fontconfig decides from coverage which faces
# "support" zh-cn (the forms' lang); a smaller bold subset loses that and Pango silently
# draws the titles with the regular face.
# Name characters outside GB 2312 that rosters carry often enough to keep at
# hand (the rest still print through the full system face).
EXTRA_CHARS = (
    "喆堃玥昇赟旻珺琇婕妤淼焱垚犇晔曌彧翀煜钰祎炜珏琦瑾璟琰琬瑀颢昀晞暄楠桦梓"
    "晗昕睿锟镕铖钊锴锘骞骐骥鹍鹏鑫淏溱澍濛灏煊熠璠璇瓒甯皓砚祺禛禹筠箐翊翾"
    "芃芮苒茜荟莜萱蒨蕤薇藜谞赜轩逸邈郗隽雯霏靓頔颀颉飏馨骁鲲麒黛龑婧媛嫣"
)
UNICODE_RANGES = (
    "U+0020-007E,U+00A0-00FF,U+02C6-02DD,U+2000-206F,U+2100-215F,U+2190-21FF,U+2200-22FF,"
    "U+2460-24FF,U+2500-25FF,U+2600-26FF,U+2700-27BF,U+3000-303F,U+3200-32FF,U+FF00-FFEF"
)
_lock = threading.Lock()


def gb2312_chars() -> str:
    """All 6,763 hanzi of GB 2312 (levels 1 and 2), from Python's own codec."""
    out = []
    for b1 in range(0xB0, 0xF8):
        for b2 in range(0xA1, 0xFF):
            try:
                out.append(bytes((b1, b2)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return "".join(out)


def subset_path(weight: str) -> Path:
    return FONTS_ROOT / f"DocSerif-{weight}.otf"


def _recipe() -> str:
    """What a built subset was made from; a subset built from another recipe is rebuilt.

    (A character the subset lacks still prints, through the full system face, but then
    that 20 MB face is subset for every page: the tick mark √ once cost a third of the
    withdrawal notice's render.)"""
    source = "|".join((EXTRA_CHARS, UNICODE_RANGES, "kern,palt,halt,vert", "v2"))
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _recipe_path(weight: str) -> Path:
    return subset_path(weight).with_suffix(".recipe")


def _build_subset(weight: str) -> None:
    source = SYSTEM_DIR / SYSTEM_FACES[weight]
    if not source.exists():
        raise ConfigurationError(
            f"缺少系统字体 {source}（请安装 Debian 软件包 fonts-noto-cjk，或运行 make run / make test）")
    target = subset_path(weight)
    target.parent.mkdir(parents=True, exist_ok=True)
    options = subset.Options()
    options.font_number = SC_INDEX
    options.layout_features = ["kern", "palt", "halt", "vert"]
    # Vertical metrics and GSUB alternates multiply the glyph count for no
    # use in horizontal A4 forms; hinting is ignored by PDF viewers.
    options.drop_tables += ["vmtx", "vhea", "VORG", "GSUB"]
    options.hinting = False
    options.desubroutinize = True
    options.name_IDs = ["*"]
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    text = gb2312_chars() + EXTRA_CHARS
    unicodes = subset.parse_unicodes(UNICODE_RANGES)
    subsetter.populate(text=text, unicodes=unicodes)
    subsetter.subset(font)
    name = font["name"]
    for rec in name.names:
        if rec.nameID in (1, 16):
            rec.string = "DocSerif"
        elif rec.nameID in (4,):
            rec.string = f"DocSerif {weight}"
        elif rec.nameID == 6:
            rec.string = f"DocSerif-{weight}"
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".otf.tmp")
    os.close(fd)
    try:
        subset.save_font(font, tmp, options)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        _recipe_path(weight).write_text(_recipe() + "\n", encoding="ascii")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("built font subset %s", target)


def ensure_fonts() -> dict[str, Path]:
    """Build the subset fonts if absent (once, ~8 s each) and return their paths."""
    with _lock:
        paths = {}
        for weight in SYSTEM_FACES:
            path = subset_path(weight)
            recipe = _recipe_path(weight)
            if not path.exists() or not recipe.exists() or \
                    recipe.read_text(encoding="ascii").strip() != _recipe():
                _build_subset(weight)
            paths[weight] = path
        return paths


@cache
def font_codepoints(path: str, index: int = 0) -> frozenset[int]:
    """Code points a font file (or one face of a collection) maps to glyphs; cached."""
    if path.endswith(".ttc"):
        with TTCollection(path, lazy=True) as collection:
            return frozenset(collection.fonts[index].getBestCmap())
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


@cache
def drawable() -> frozenset[int]:
    """Every code point the embedded faces (subset + system fallback) can draw."""
    paths = ensure_fonts()
    cps = set(font_codepoints(str(paths["Regular"])))
    system = SYSTEM_DIR / SYSTEM_FACES["Regular"]
    if system.exists():
        cps |= font_codepoints(str(system), SC_INDEX)
    return frozenset(cps)


_IGNORABLE = {0x0A, 0x09, 0x0D, 0x200D}


def missing_glyphs(text: str) -> list[str]:
    """Characters in ``text`` that no embedded font can draw (in order, unique)."""
    cps = drawable()
    seen: list[str] = []
    for ch in text:
        if ord(ch) not in cps and ord(ch) not in _IGNORABLE and ch not in seen:
            seen.append(ch)
    return seen


if __name__ == "__main__":  # ``make fonts``: build the subsets ahead of the first render.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    for weight, path in ensure_fonts().items():
        print(f"{weight}: {path} ({path.stat().st_size // 1024} KB)")
