"""Batch overlay rendering: the same page as the full render, or the full render itself.

Checked with the outside tools (poppler, qpdf, zbar) and pixel by pixel against
``PdfRenderer.render`` of the same document.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from doc_service.config import Institution
from doc_service.forms.spec import load_form
from doc_service.forms.validation import validate
from doc_service.rendering.context import DocumentMeta
from doc_service.rendering.overlay import OverlayRenderer
from doc_service.rendering.pdf import default_renderer
from doc_service.rendering.weasy_internals import slot_lines
from tests.conftest import example, run_tool

FORM = "verification_checklist"


def meta(seq: int, code: str) -> DocumentMeta:
    return DocumentMeta(number=f"核〔2026〕{seq}号", code=code,
                        verify_url=f"http://127.0.0.1:8000/d/{code}",
                        issued_on=dt.date(2026, 11, 20))


def data(**changes: Any) -> dict[str, Any]:
    form = load_form(FORM)
    return validate(form, {**example(FORM), **changes})


@pytest.fixture()
def overlay() -> OverlayRenderer:
    ov = OverlayRenderer(default_renderer(), load_form(FORM), Institution())
    first = ov.render(load_form(FORM), data(), meta(1, "AAAA2222BB"), Institution())
    assert first.page_count == 1 and ov.overlaid == 1
    return ov


def pixels(pdf: bytes, tmp_path: Path, name: str) -> Image.Image:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    out = run_tool("pdftoppm", "-r", "100", "-png", "-singlefile", str(path), str(tmp_path / name))
    assert out.returncode == 0, out.stderr
    return Image.open(tmp_path / f"{name}.png").convert("L")


def tool(*args: str) -> str:
    out = subprocess.run(args, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.decode()


def test_an_overlaid_page_is_the_full_render_pixel_for_pixel(
        overlay: OverlayRenderer, tmp_path: Path) -> None:
    other = data(name="欧阳娜娜", major="车辆工程", student_no="2024019999")
    form, inst = load_form(FORM), Institution()
    overlaid = overlay.render(form, other, meta(2, "CCCC3333DD"), inst)
    full = default_renderer().render(form, other, meta(2, "CCCC3333DD"), inst)
    assert overlay.overlaid == 2 and overlay.full == 0
    assert overlaid.signature_areas == full.signature_areas
    diff = ImageChops.difference(pixels(overlaid.pdf, tmp_path, "overlay"),
                                 pixels(full.pdf, tmp_path, "full"))
    assert diff.getbbox() is None, f"pages differ in {diff.getbbox()}"
    assert len(overlaid.pdf) < 150 * 1024


def test_an_overlaid_pdf_passes_the_outside_tools_and_carries_only_its_own_values(
        overlay: OverlayRenderer, tmp_path: Path) -> None:
    other = data(name="欧阳娜娜", student_no="2024019999")
    pdf = overlay.render(load_form(FORM), other, meta(7, "CCCC3333DD"), Institution()).pdf
    path = tmp_path / "o.pdf"
    path.write_bytes(pdf)
    assert "No syntax or stream encoding errors" in tool("qpdf", "--check", str(path))
    fonts = tool("pdffonts", str(path)).splitlines()[2:]
    assert fonts and all(" yes yes yes " in line for line in fonts), fonts
    tags = [line.split("+")[0] for line in fonts]
    assert len(set(tags)) == len(tags), "each font subset needs a tag of its own"
    text = tool("pdftotext", str(path), "-").replace(" ", "")
    assert "欧阳娜娜" in text and "2024019999" in text and "核〔2026〕7号" in text
    # The first document's values were laid out hidden: none of them may reach this one.
    first = data()
    assert first["name"] not in text and "核〔2026〕1号" not in text
    assert first["student_no"] not in text and "AAAA2222BB" not in text
    png = tmp_path / "q"
    tool("pdftoppm", "-r", "150", "-png", "-singlefile", str(path), str(png))
    assert "http://127.0.0.1:8000/d/CCCC3333DD" in tool("zbarimg", "-q", f"{png}.png")
    info = tool("pdfinfo", str(path))
    assert "核〔2026〕7号" in info and "CCCC3333DD" in info and "AAAA2222BB" not in info
    assert 'pdfaid:part="3"' in pdf.decode("latin-1") or "<pdfaid:part>3" in pdf.decode(
        "latin-1")


def test_a_value_too_wide_for_its_cell_renders_in_full(
        overlay: OverlayRenderer, tmp_path: Path) -> None:
    long_major = "智能网联汽车工程技术与交通运输系统规划管理（中外合作办学）"
    other = data(major=long_major)
    form, inst = load_form(FORM), Institution()
    got = overlay.render(form, other, meta(3, "DDDD4444EE"), inst)
    assert overlay.full == 1 and overlay.overlaid == 1
    full = default_renderer().render(form, other, meta(3, "DDDD4444EE"), inst)
    diff = ImageChops.difference(pixels(got.pdf, tmp_path, "got"),
                                 pixels(full.pdf, tmp_path, "full"))
    assert diff.getbbox() is None


def test_a_form_with_values_in_running_text_renders_in_full() -> None:
    """Only the document the fixed page was laid out from matches it; the notice prints the
    name in running text (not a slot), so every other one renders in full."""
    form, inst = load_form("withdrawal_notice"), Institution()
    ov = OverlayRenderer(default_renderer(), form, inst)
    base = example("withdrawal_notice")
    for i, name in enumerate(["王喆", "欧阳娜娜", "李四"]):
        ov.render(form, validate(form, {**base, "name": name}), meta(i, "EEEE5555FF"), inst)
    assert ov.overlaid == 1 and ov.full == 2


def test_another_form_or_school_is_not_overlaid(overlay: OverlayRenderer) -> None:
    inst = Institution(name="另一所学院")
    overlay.render(load_form(FORM), data(), meta(4, "FFFF6666GG"), inst)
    assert overlay.full == 1


def test_a_first_document_with_a_wrapping_value_does_not_stop_the_overlay() -> None:
    form, inst = load_form(FORM), Institution()
    ov = OverlayRenderer(default_renderer(), form, inst)
    ov.render(form, data(major="智能网联汽车工程技术与交通运输系统规划管理（中外合作办学）"),
              meta(1, "GGGG7777HH"), inst)
    assert ov.full == 1 and ov.overlaid == 0
    ov.render(form, data(), meta(2, "HHHH8888JJ"), inst)
    ov.render(form, data(name="欧阳娜娜"), meta(3, "JJJJ9999KK"), inst)
    assert ov.overlaid == 2


def slots_of(body: str) -> Any:
    renderer = default_renderer()
    html = ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head><body>'
            f"{body}</body></html>")
    with renderer.lock:
        return slot_lines(renderer.layout(html, FORM))


@pytest.mark.parametrize("body", [
    # text after the value would move with its width
    '<p>文号：<span class="slot" data-slot="doc.number">核〔2026〕1号</span>（存档）</p>',
    # an underlined blank around the value would keep the first document's length
    '<p>姓名<span style="border-bottom: 1px solid"><span class="slot" data-slot="v.name">'
    "张三</span></span>同学</p>",
    # centred next to other text, the value's width moves the text before it
    '<p style="text-align: center">学号 <span class="slot" data-slot="v.student_no">1</span></p>',
])
def test_a_slot_whose_width_moves_other_ink_is_refused(body: str) -> None:
    assert slots_of(body) is None


def test_a_slot_after_a_label_on_a_left_aligned_line_is_placed() -> None:
    found = slots_of('<p>文号：<span class="slot" data-slot="doc.number">核〔2026〕1号</span></p>')
    assert found is not None and [s.key for s in found] == ["doc.number"]
    assert found[0].left > 0 and found[0].align == "left"
