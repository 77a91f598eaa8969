"""Seal images: transparent, red, round, deterministic."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from signing.errors import SealImageError
from signing.seals import SealSpec, seal_png


def test_seal_is_a_transparent_red_round_png():
    img = Image.open(io.BytesIO(seal_png(SealSpec("江南理工职业技术学院", "学籍管理专用章",
                                                  size_px=240))))
    assert img.mode == "RGBA" and img.size == (240, 240)
    assert img.getpixel((0, 0))[3] == 0  # corners transparent
    assert img.getpixel((120, 120))[:3][0] > 180  # the star's centre is red
    r, g, b, a = img.getpixel((120, 3))  # top of the ring
    assert a > 0 and r > 150 and g < 90 and b < 90


def test_seal_drawing_is_deterministic():
    spec = SealSpec("信息工程学院", size_px=200)
    assert seal_png(spec) == seal_png(spec)


def test_missing_font_is_a_seal_image_error():
    with pytest.raises(SealImageError):
        seal_png(SealSpec("某学院", font_path="/nonexistent.ttc"))
