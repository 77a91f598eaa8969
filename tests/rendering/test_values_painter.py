"""Values pages drawn without CSS layout: the same pixels as the full render, or not at all.

The painter learns each slot's style and place from WeasyPrint's own layout of a probe page
and refuses to exist if its drawing of that probe differs; these tests check a whole group
against ``PdfRenderer.render`` pixel by pixel, that each document carries only its own
characters, and each way it declines (painters that draw otherwise or fail are passed in
as fakes).

The first test is the canary of ``rendering.weasy_internals``: on a WeasyPrint that module
was not checked against, the painter declines, and that test fails.
"""

from __future__ import annotations

import base64
import functools
import io
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from PIL import ImageChops

from doc_service.config import Institution
from doc_service.errors import MissingGlyphError
from doc_service.forms.spec import load_form
from doc_service.rendering import values_painter, weasy_internals
from doc_service.rendering.overlay import OverlayRenderer
from doc_service.rendering.pdf import default_renderer
from doc_service.rendering.qr import qr_png
from doc_service.rendering.slots import GROUP_SIZE
from doc_service.rendering.values_painter import ValuesPage, ValuesPainter
from tests.rendering.test_overlay import FORM, data, meta, pixels

ROOT = Path(__file__).resolve().parents[2]

STUDENTS = [  # names of characters no other student here has; 18-digit IDs, one with X
    dict(name="欧阳娜娜", student_no="2024010001", id_number="61011320070516058X", gender="女"),
    dict(name="司马懿", student_no="2024010002"),
    dict(name="诸葛亮", student_no="2024010003", major="车辆工程"),
    dict(name="上官婉儿", student_no="2024010004", gender="女"),
    dict(name="喆", student_no="2024010005"),
]


def requests(students: list[dict[str, str]], first_seq: int = 10) -> list[Any]:
    form, inst = load_form(FORM), Institution()
    return [(form, data(**s), meta(first_seq + i, f"CODE{first_seq + i:04d}QQ"), inst)
            for i, s in enumerate(students)]


@pytest.fixture()
def overlay() -> OverlayRenderer:
    form = load_form(FORM)
    ov = OverlayRenderer(default_renderer(), form, Institution())
    ov.render(form, data(), meta(1, "AAAA2222BB"), Institution())
    return ov


def test_with_this_weasyprint_the_values_are_drawn_directly(overlay: OverlayRenderer) -> None:
    fixed = overlay._fixed  # noqa: SLF001 - the painter is the overlay's own
    assert fixed is not None and fixed.painter is not None
    assert fixed.painter.faces == GROUP_SIZE


def test_a_group_is_the_full_render_of_each_document_pixel_for_pixel(
        overlay: OverlayRenderer, tmp_path: Path) -> None:
    batch = requests(STUDENTS)
    results = overlay.render_many(batch)
    assert overlay.overlaid == 1 + len(STUDENTS) and overlay.full == 0
    for i, (request, result) in enumerate(zip(batch, results, strict=True)):
        assert not isinstance(result, Exception), result
        full = default_renderer().render(*request)
        assert result.signature_areas == full.signature_areas
        diff = ImageChops.difference(pixels(result.pdf, tmp_path, f"got{i}"),
                                     pixels(full.pdf, tmp_path, f"full{i}"))
        assert diff.getbbox() is None, f"document {i} differs in {diff.getbbox()}"
        assert len(result.pdf) < 150 * 1024


def unicode_of_fonts(pdf: bytes) -> set[str]:
    """Every character the PDF's fonts map glyphs to (their ToUnicode maps)."""
    chars: set[str] = set()
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for obj in doc.objects:
            if isinstance(obj, pikepdf.Dictionary) and "/ToUnicode" in obj:
                cmap = obj.ToUnicode.read_bytes().decode("latin-1")
                for hexes in re.findall(r"<[0-9A-Fa-f]+>\s*<([0-9A-Fa-f]+)>", cmap):
                    chars.add(bytes.fromhex(hexes).decode("utf-16-be"))
    return chars


def test_each_document_of_a_group_embeds_only_its_own_characters(
        overlay: OverlayRenderer) -> None:
    results = overlay.render_many(requests(STUDENTS))
    assert overlay._fixed is not None  # noqa: SLF001
    printed = unicode_of_fonts(overlay._fixed.pdf)  # noqa: SLF001 - the form's own text
    names = [s["name"] for s in STUDENTS]
    for i, result in enumerate(results):
        assert not isinstance(result, Exception)
        chars = unicode_of_fonts(result.pdf)
        assert set(names[i]) <= chars
        others = set("".join(n for j, n in enumerate(names) if j != i)) - printed - set(
            names[i])
        assert not chars & others, f"document {i} carries {chars & others}"
        assert ("X" in chars) == (i == 0)  # only the first student's ID ends in X


def test_one_document_that_cannot_be_printed_does_not_fail_its_group(
        overlay: OverlayRenderer) -> None:
    batch = requests([STUDENTS[0], STUDENTS[1]])
    form, d, m, inst = batch[1]
    batch[1] = (form, {**d, "name": "司马\U0002a6a5"}, m, inst)  # outside the embedded faces
    results = overlay.render_many(batch)
    assert isinstance(results[1], MissingGlyphError)
    assert not isinstance(results[0], Exception) and results[0].page_count == 1


class MisdrawingPainter(ValuesPainter):
    """A painter that draws every value back to front: not what WeasyPrint drew."""

    def write(self, pages: Sequence[ValuesPage]) -> bytes | None:
        return super().write([(face, {key: text[::-1] for key, text in texts.items()}, qr)
                              for face, texts, qr in pages])


def test_a_painter_that_would_draw_otherwise_than_weasyprint_is_not_used(
        tmp_path: Path) -> None:
    form, inst = load_form(FORM), Institution()
    ov = OverlayRenderer(default_renderer(), form, inst, painter=MisdrawingPainter.from_probe)
    ov.render(form, data(), meta(1, "AAAA2222BB"), inst)
    assert ov._fixed is not None and ov._fixed.painter is None  # noqa: SLF001
    # The values are then laid out as HTML: still overlaid, still the full render's pixels.
    (request,) = requests([STUDENTS[2]])
    got = ov.render(*request)
    assert ov.overlaid == 2
    diff = ImageChops.difference(pixels(got.pdf, tmp_path, "got"),
                                 pixels(default_renderer().render(*request).pdf, tmp_path,
                                        "full"))
    assert diff.getbbox() is None


def test_on_a_weasyprint_it_was_not_checked_against_the_painter_declines(
        tmp_path: Path) -> None:
    assert weasy_internals.draws_directly(weasy_internals.VERSION)
    assert not weasy_internals.draws_directly("71.0")
    assert not weasy_internals.draws_directly("61.2")
    assert not weasy_internals.draws_directly("unknown")
    form, inst = load_form(FORM), Institution()
    ov = OverlayRenderer(default_renderer(), form, inst, painter=functools.partial(
        ValuesPainter.from_probe, weasyprint_version="71.0"))
    ov.render(form, data(), meta(1, "AAAA2222BB"), inst)
    assert ov._fixed is not None and ov._fixed.painter is None  # noqa: SLF001
    # The values are then laid out as HTML: still overlaid, still the full render's pixels.
    (request,) = requests([STUDENTS[3]])
    got = ov.render(*request)
    assert ov.overlaid == 2 and ov.full == 0
    diff = ImageChops.difference(pixels(got.pdf, tmp_path, "got"),
                                 pixels(default_renderer().render(*request).pdf, tmp_path,
                                        "full"))
    assert diff.getbbox() is None


def test_pyproject_bounds_weasyprint_below_the_first_major_the_painter_was_not_checked_on(
        ) -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["dependencies"]
    (weasyprint,) = [d for d in dependencies if d.startswith("weasyprint")]
    assert f"<{weasy_internals.TESTED_MAJORS.stop}" in weasyprint


@pytest.mark.parametrize("text", [
    "张<b>三</b>",          # markup: the HTML layout decides how it looks
    "张  三",               # white space HTML would collapse
    "智能网联汽车工程技术与交通运输系统规划管理（中外合作办学）",  # wider than its cell
])
def test_a_value_it_cannot_draw_exactly_is_left_to_the_html_layout(
        overlay: OverlayRenderer, text: str) -> None:
    fixed = overlay._fixed  # noqa: SLF001
    assert fixed is not None and fixed.painter is not None
    keys = [s.key for s in fixed.slots if s.key != "qr"]
    texts = dict.fromkeys(keys, "1")
    texts["v.major"] = text
    qr = "data:image/png;base64," + base64.b64encode(qr_png("http://x/d/1")).decode()
    assert fixed.painter.write([(0, texts, qr)]) is None
    texts["v.major"] = "软件工程"
    assert fixed.painter.write([(0, texts, qr)]) is not None


def test_a_character_entity_is_drawn_as_its_character() -> None:
    assert values_painter._plain("A&amp;B") == "A&B"
    assert values_painter._plain("  ") == ""
    assert values_painter._plain("a b") == "a b"
    assert values_painter._plain("a\nb") is None


def test_the_group_keeps_its_documents_apart_when_it_is_larger_than_the_faces(
        overlay: OverlayRenderer) -> None:
    many = [dict(name=f"学生{'甲乙丙丁戊己庚辛壬癸'[i]}", student_no=f"20240200{i:02d}")
            for i in range(GROUP_SIZE + 2)]
    results = overlay.render_many(requests(many, first_seq=100))
    assert all(not isinstance(r, Exception) for r in results)
    assert overlay._fixed is not None  # noqa: SLF001
    marks = set("甲乙丙丁戊己庚辛壬癸") - unicode_of_fonts(overlay._fixed.pdf)  # noqa: SLF001
    assert len(marks) >= 8
    for i, result in enumerate(results):
        chars = unicode_of_fonts(result.pdf)  # type: ignore[union-attr]
        own = "甲乙丙丁戊己庚辛壬癸"[i]
        assert own in chars and not (marks - {own}) & chars


class BrokenPainter:
    """A painter whose WeasyPrint moved an internal after it was learnt."""

    def write(self, pages: Sequence[ValuesPage]) -> bytes | None:
        raise AttributeError("a WeasyPrint release moved an internal")


def test_a_painter_that_fails_leaves_the_values_to_the_html_layout(tmp_path: Path) -> None:
    form, inst = load_form(FORM), Institution()
    overlay = OverlayRenderer(default_renderer(), form, inst,
                              painter=lambda *_args: BrokenPainter())
    overlay.render(form, data(), meta(1, "AAAA2222BB"), inst)
    (request,) = requests([STUDENTS[1]])
    got = overlay.render(*request)
    assert overlay.overlaid == 2 and overlay.full == 0
    diff = ImageChops.difference(pixels(got.pdf, tmp_path, "got"),
                                 pixels(default_renderer().render(*request).pdf, tmp_path,
                                        "full"))
    assert diff.getbbox() is None


def test_the_fixed_page_embeds_none_of_the_hidden_first_documents_characters() -> None:
    """The fixed page is laid out from the first document with its values hidden: their
    glyphs are not drawn, so not embedded, and every later document shares that page."""
    form, inst = load_form(FORM), Institution()
    ov = OverlayRenderer(default_renderer(), form, inst)
    ov.render(form, data(name="欧阳娜娜"), meta(1, "AAAA2222BB"), inst)
    assert ov._fixed is not None  # noqa: SLF001
    assert not set("欧阳娜") & unicode_of_fonts(ov._fixed.pdf)  # noqa: SLF001
