"""Red round seal images in the style of Chinese official seals (公章), drawn with Pillow.

A transparent square PNG: a red ring, a five-pointed star in the centre, the institution's name
along the upper arc (each character turned to face the centre, narrow and tall as cut seals are),
and an optional horizontal line below the star such as 学籍管理专用章. Deterministic for the same
inputs, so seal images can be regenerated and compared.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from .errors import SealImageError

DEFAULT_SEAL_FONT = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc"
DEFAULT_SEAL_FONT_INDEX = 2
"""Face index of Simplified Chinese (SC) in the Noto CJK collections."""

SEAL_RED = (218, 24, 24, 255)


@dataclass(frozen=True)
class SealSpec:
    """What a seal says and how large it is drawn."""

    name: str
    """Text along the upper arc, usually the institution's full name."""
    bottom_text: str = ""
    """Horizontal text under the star, e.g. 学籍管理专用章; empty for none."""
    size_px: int = 480
    font_path: str = DEFAULT_SEAL_FONT
    font_index: int = DEFAULT_SEAL_FONT_INDEX


def _font(spec: SealSpec, px: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(spec.font_path, px, index=spec.font_index)
    except OSError as e:
        raise SealImageError(f"cannot load seal font {spec.font_path}") from e


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    inner = r * math.sin(math.radians(18)) / math.sin(math.radians(126))
    pts = []
    for i in range(10):
        rad = r if i % 2 == 0 else inner
        a = math.radians(90 + i * 36)
        pts.append((cx + rad * math.cos(a), cy - rad * math.sin(a)))
    draw.polygon(pts, fill=SEAL_RED)


def _glyph(ch: str, font: ImageFont.FreeTypeFont, px: int, squeeze: float) -> Image.Image:
    """One character on its own transparent tile, squeezed horizontally like a carved seal."""
    tile = Image.new("RGBA", (px * 2, px * 2), (0, 0, 0, 0))
    d = ImageDraw.Draw(tile)
    d.text((px, px), ch, font=font, fill=SEAL_RED, anchor="mm")
    bbox = tile.getbbox() or (0, 0, 1, 1)
    glyph = tile.crop((bbox[0] - 1, px - px // 2, bbox[2] + 1, px + px // 2))
    w = max(1, int(glyph.width * squeeze))
    return glyph.resize((w, glyph.height), Image.Resampling.LANCZOS)


def draw_seal(spec: SealSpec) -> Image.Image:
    """Draw the seal; returns an RGBA image with a transparent background."""
    if not spec.name:
        raise SealImageError("a seal needs a name")
    scale = 3  # draw large, scale down: smooth edges without anti-aliasing primitives
    size = spec.size_px * scale
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    c = size / 2
    ring = size * 0.035
    outer = size / 2 - ring / 2 - 2 * scale
    draw.ellipse((c - outer, c - outer, c + outer, c + outer), outline=SEAL_RED,
                 width=int(ring))
    _star(draw, c, c, size * 0.16)

    n = len(spec.name)
    char_px = int(size * (0.15 if n <= 8 else 0.13 if n <= 12 else 0.11))
    font = _font(spec, char_px)
    text_r = outer - ring / 2 - size * 0.022 - char_px * 0.5
    span = min(235.0, 22.0 * n if n > 4 else 30.0 * n)
    step = span / max(n - 1, 1)
    start = 90 + span / 2
    for i, ch in enumerate(spec.name):
        theta = start - i * step if n > 1 else 90
        glyph = _glyph(ch, font, char_px, squeeze=0.78)
        rotated = glyph.rotate(theta - 90, resample=Image.Resampling.BICUBIC, expand=True)
        x = c + text_r * math.cos(math.radians(theta)) - rotated.width / 2
        y = c - text_r * math.sin(math.radians(theta)) - rotated.height / 2
        img.alpha_composite(rotated, (int(round(x)), int(round(y))))

    if spec.bottom_text:
        m = len(spec.bottom_text)
        bpx = int(min(size * 0.07, size * 0.46 / max(m, 1)))
        bfont = _font(spec, bpx)
        draw.text((c, c + size * 0.29), spec.bottom_text, font=bfont, fill=SEAL_RED, anchor="mm")

    return img.resize((spec.size_px, spec.size_px), Image.Resampling.LANCZOS)


def seal_png(spec: SealSpec) -> bytes:
    """The seal as PNG bytes."""
    buf = io.BytesIO()
    draw_seal(spec).save(buf, format="PNG", optimize=True)
    return buf.getvalue()
