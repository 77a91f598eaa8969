"""Render every form and check the PDF with outside tools (poppler, qpdf, zbar)."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError
from PIL import Image

from doc_service.config import FONTS_ROOT, FORMS_ROOT, Institution
from doc_service.errors import MissingGlyphError, RenderError, ValidationError
from doc_service.forms.spec import FORM_IDS, load_form
from doc_service.forms.validation import validate
from doc_service.issuing import render_document
from doc_service.rendering.context import DocumentMeta
from doc_service.rendering.pdf import PdfRenderer
from doc_service.rendering.qr import qr_png
from doc_service.rendering.sandbox import html_environment
from doc_service.services.documents import RenderedDocument
from tests.conftest import example, run_tool

URL = "http://127.0.0.1:8000/d/7KQ2M9XH4P"
TITLES = {
    "withdrawal_notice": "学生退学通知书",
    "deferment_application": "学生暂缓报到申请（审批）表",
    "verification_checklist": "学籍电子注册信息核对表",
    "status_change_notice": "学籍异动通知单",
    "enrollment_certificate": "在籍证明",
}


def meta(form_id: str = "withdrawal_notice", number: str = "2026年第12号") -> DocumentMeta:
    return DocumentMeta(number=number, code="7KQ2M9XH4P", verify_url=URL,
                        issued_on=dt.date(2026, 11, 20))


def render(form_id: str, data: dict | None = None, number: str = "〔2026〕12号") -> RenderedDocument:
    return render_document(form_id, data if data is not None else example(form_id),
                           meta(form_id, number), Institution())


def pdftotext(pdf: Path) -> str:
    out = run_tool("pdftotext", "-layout", str(pdf), "-")
    assert out.returncode == 0, out.stderr
    return out.stdout.decode()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[RenderedDocument, Path]]:
    folder = tmp_path_factory.mktemp("pdf")
    out = {}
    for fid in FORM_IDS:
        doc = render(fid)
        path = folder / f"{fid}.pdf"
        path.write_bytes(doc.pdf.pdf)
        out[fid] = (doc, path)
    return out


def test_example_text_and_values_come_back_from_pdftotext(rendered, form_id: str) -> None:
    doc, path = rendered[form_id]
    text = pdftotext(path).replace(" ", "")
    assert TITLES[form_id] in text
    assert "〔2026〕12号" in text
    assert doc.data["name"] in text
    assert doc.data["student_no"] in text
    assert "西安交通工程学院" in text
    # Dates are printed in Chinese, never ISO.
    for key, value in doc.data.items():
        if isinstance(value, str) and len(value) == 10 and value[4] == "-" and key != "id_number":
            d = dt.date.fromisoformat(value)
            assert f"{d.year}年{d.month}月{d.day}日" in text, key
            assert value not in text


def test_every_font_is_embedded(rendered, form_id: str) -> None:
    _, path = rendered[form_id]
    out = run_tool("pdffonts", str(path)).stdout.decode().splitlines()[2:]
    assert out, "no fonts listed"
    for line in out:
        assert line.split()[-5] == "yes", line  # the 'emb' column


def test_qpdf_check_passes(rendered, form_id: str) -> None:
    _, path = rendered[form_id]
    result = run_tool("qpdf", "--check", str(path))
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_one_a4_page_in_pdfa3b(rendered, form_id: str) -> None:
    doc, path = rendered[form_id]
    assert doc.pdf.page_count == 1
    info = run_tool("pdfinfo", str(path)).stdout.decode()
    assert "(A4)" in info
    assert "Pages:           1" in info
    info = run_tool("pdfinfo", "-meta", str(path)).stdout.decode()
    assert 'pdfaid:part="3"' in info or "<pdfaid:part>3</pdfaid:part>" in info
    assert ('pdfaid:conformance="B"' in info
            or "<pdfaid:conformance>B</pdfaid:conformance>" in info)


def test_qr_code_decodes_to_the_verification_url_at_150_dpi(rendered, form_id: str,
                                                             tmp_path: Path) -> None:
    _, path = rendered[form_id]
    run_tool("pdftoppm", "-r", "150", "-png", "-singlefile", str(path), str(tmp_path / "page"))
    result = run_tool("zbarimg", "--quiet", "--raw", str(tmp_path / "page.png"))
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.decode().split()) == {URL}


def test_qr_code_is_at_least_two_centimetres(rendered, form_id: str) -> None:
    _, path = rendered[form_id]
    listing = run_tool("pdfimages", "-list", str(path)).stdout.decode().splitlines()[2:]
    assert listing, "no image in the PDF"
    # x-ppi of the QR image: its pixel width over its printed width.
    width_px = Image.open(io.BytesIO(qr_png(URL))).width
    xppi = float(listing[0].split()[12])
    assert width_px / xppi * 2.54 >= 2.0


def test_every_signature_area_of_the_chain_is_on_the_page(rendered, form_id: str) -> None:
    doc, _ = rendered[form_id]
    roles = {step.role for step in doc.form.chain if step.visible}
    assert roles == set(doc.pdf.signature_areas)
    for area in doc.pdf.signature_areas.values():
        assert 0 <= area.x1 < area.x2 <= 595.3 and 0 <= area.y1 < area.y2 <= 841.9
        assert area.x2 - area.x1 >= 100 and area.y2 - area.y1 >= 40


def test_html_and_file_urls_in_a_name_print_literally_and_fetch_nothing(tmp_path: Path) -> None:
    data = example("withdrawal_notice")
    data["name"] = '<img src="file:///etc/passwd">'
    doc = render("withdrawal_notice", data)
    assert doc.pdf.refused_urls == ()
    path = tmp_path / "x.pdf"
    path.write_bytes(doc.pdf.pdf)
    text = pdftotext(path)
    assert '<img src="file:///etc/passwd">' in text
    assert "root:" not in text


def test_template_syntax_in_a_value_is_not_evaluated(tmp_path: Path) -> None:
    data = example("withdrawal_notice")
    data["name"] = "{{ 7*7 }}{% if 1 %}"
    path = tmp_path / "x.pdf"
    path.write_bytes(render("withdrawal_notice", data).pdf.pdf)
    text = pdftotext(path)
    assert "{{ 7*7 }}{% if 1 %}" in text
    assert "49" not in text.replace("2024", "")


def test_rare_name_character_prints_from_the_embedded_fallback_face(tmp_path: Path) -> None:
    data = example("enrollment_certificate")
    data["name"] = "王䶮"  # Ext-A: outside the GB 2312 subset, inside Noto Serif CJK SC
    path = tmp_path / "x.pdf"
    path.write_bytes(render("enrollment_certificate", data).pdf.pdf)
    assert "王䶮" in pdftotext(path)
    fonts = run_tool("pdffonts", str(path)).stdout.decode().splitlines()[2:]
    assert all(line.split()[-5] == "yes" for line in fonts)


def test_character_no_font_can_draw_is_refused_before_rendering() -> None:
    data = example("enrollment_certificate")
    data["name"] = "王𠀀"
    with pytest.raises(MissingGlyphError) as info:
        render("enrollment_certificate", data)
    assert info.value.errors[0].key == "name"
    assert "U+20000" in info.value.errors[0].message


def test_invalid_data_renders_nothing() -> None:
    data = example("verification_checklist")
    data["id_number"] = "610113200705160460"
    with pytest.raises(ValidationError):
        render("verification_checklist", data)


def test_sandbox_blocks_template_code_execution(tmp_path: Path) -> None:
    (tmp_path / "evil.html").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    env = html_environment(tmp_path)
    with pytest.raises(SecurityError):
        env.get_template("evil.html").render()


def test_broken_template_is_a_render_error(tmp_path: Path) -> None:
    root = tmp_path / "forms"
    shutil.copytree(FORMS_ROOT, root)
    (root / "withdrawal_notice" / "form.html").write_text("{{ no_such_variable }}")
    form = load_form("withdrawal_notice")
    data = validate(form, example("withdrawal_notice"))
    with pytest.raises(RenderError):
        PdfRenderer(root, FONTS_ROOT).render(form, data, meta(), Institution())
