"""DOCX rendering: every form's example opens in python-docx and holds its values.

Also: values are printed literally (no template evaluation, no broken XML),
template errors become RenderError, East Asian font and zh-CN language are set,
the committed templates match ``tools/build_docx_templates.py``, and (where
LibreOffice is installed) a rendered document converts to a PDF with the
Chinese title in it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import docx
import pytest
from docx.document import Document as DocumentObject
from docx.oxml.ns import qn
from docx.shared import Mm

from doc_service.config import PROJECT_ROOT, Institution
from doc_service.errors import RenderError
from doc_service.forms.spec import FieldType, FormSpec, load_form
from doc_service.forms.validation import validate
from doc_service.rendering.context import DocumentMeta, cn_date, cn_month
from doc_service.rendering.docx import render_docx
from doc_service.rendering.qr import new_code, verify_url
from tests.conftest import example

HOSTILE_NAME = "<b>&\"'{{ 7*7 }}{% if %}"


def _meta(form: FormSpec) -> DocumentMeta:
    code = new_code()
    return DocumentMeta(number=form.format_number(2026, 7), code=code,
                        verify_url=verify_url(Institution().public_base_url, code))


def _render(form: FormSpec, data: dict[str, Any]) -> tuple[bytes, DocumentMeta]:
    meta = _meta(form)
    return render_docx(form, validate(form, data), meta, Institution()), meta


def _texts(container: Any) -> list[str]:
    """Text of every paragraph, including those in table cells and nested tables."""
    out = [p.text for p in container.paragraphs]
    for table in container.tables:
        seen: set[Any] = set()  # holds the elements, so their proxies (and hashes) stay stable
        for row in table.rows:
            for cell in row.cells:  # a merged cell is listed once per grid column it spans
                if cell._tc not in seen:
                    seen.add(cell._tc)
                    out.extend(_texts(cell))
    return out


def _open(blob: bytes) -> tuple[DocumentObject, str]:
    document = docx.Document(io.BytesIO(blob))
    return document, "\n".join(_texts(document))


def test_example_renders_with_its_values(form_id: str) -> None:
    form = load_form(form_id)
    data = validate(form, example(form_id))
    blob, meta = _render(form, data)
    _, text = _open(blob)

    assert data["name"] in text
    if data.get("student_no"):
        assert data["student_no"] in text
    assert meta.number in text
    assert meta.verify_url in text
    for field in form.fields:
        value = data.get(field.key)
        if value and field.type is FieldType.DATE:
            assert cn_date(value) in text, field.key
        if value and field.type is FieldType.MONTH:
            assert cn_month(value) in text, field.key
    assert "{{" not in text and "{%" not in text and "}}" not in text


def test_example_carries_a_qr_image_of_at_least_2_cm(form_id: str) -> None:
    form = load_form(form_id)
    blob, _ = _render(form, example(form_id))
    document, _ = _open(blob)

    images = [part for part in document.part.package.iter_parts()
              if part.content_type == "image/png"]
    assert images, "no PNG image part for the QR code"
    shapes = document.part.element.body.findall(".//" + qn("wp:extent"))
    assert shapes, "no inline drawing in the body"
    assert all(int(extent.get("cx")) >= Mm(20) for extent in shapes)


def test_status_change_lists_the_required_attachments() -> None:
    form = load_form("status_change_notice")
    blob, _ = _render(form, example("status_change_notice"))
    _, text = _open(blob)
    # 休学 / 参军入伍 in the schema's table (seed 003).
    assert "1. 休学申请表（签字同意）" in text
    assert "3. 入伍通知书" in text


def test_styles_set_east_asian_font_and_chinese_language() -> None:
    form = load_form("withdrawal_notice")
    blob, _ = _render(form, example("withdrawal_notice"))
    document, _ = _open(blob)
    styles = document.styles.element

    default_rpr = styles.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    normal_rpr = document.styles["Normal"].element.rPr
    for rpr in (default_rpr, normal_rpr):
        assert rpr.find(qn("w:rFonts")).get(qn("w:eastAsia")) == "宋体"
        assert rpr.find(qn("w:rFonts")).get(qn("w:ascii")) == "Times New Roman"
        assert rpr.find(qn("w:lang")).get(qn("w:eastAsia")) == "zh-CN"
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)


def test_markup_and_template_syntax_in_a_name_print_literally() -> None:
    form = load_form("withdrawal_notice")
    data = {**example("withdrawal_notice"), "name": HOSTILE_NAME}
    blob, _ = _render(form, data)
    _, text = _open(blob)  # opening at all proves the XML survived the '<' and '&'

    assert text.count(HOSTILE_NAME) == 2  # the stub and the notice
    assert "49" not in text


def _tiny_template(folder: Path, text: str) -> FormSpec:
    document = docx.Document()
    document.add_paragraph(text)
    document.save(str(folder / "form.docx"))
    return dataclasses.replace(load_form("enrollment_certificate"), folder=folder)


@pytest.mark.parametrize("tag", [
    "{{ v.no_such_field }}",
    "{{ no_such_variable }}",
    "{{ ''.__class__.__mro__ }}",
    "{% if %}",
])
def test_bad_template_raises_render_error(tmp_path: Path, tag: str) -> None:
    form = _tiny_template(tmp_path, f"姓名：{tag}")
    with pytest.raises(RenderError, match="DOCX 生成失败"):
        _render(form, example("enrollment_certificate"))


def test_missing_template_raises_render_error(tmp_path: Path) -> None:
    form = dataclasses.replace(load_form("enrollment_certificate"), folder=tmp_path)
    with pytest.raises(RenderError):
        _render(form, example("enrollment_certificate"))


def _builder() -> ModuleType:
    path = PROJECT_ROOT / "tools" / "build_docx_templates.py"
    spec = importlib.util.spec_from_file_location("build_docx_templates", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_committed_template_matches_the_builder(form_id: str) -> None:
    builder = _builder()
    built = builder._stable_bytes(builder.BUILDERS[form_id]())
    committed = (PROJECT_ROOT / "templates" / "forms" / form_id / "form.docx").read_bytes()
    assert built == committed, "run: python tools/build_docx_templates.py"


def test_libreoffice_converts_a_rendered_form_to_pdf_with_the_chinese_title(
        tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (optional; only for this cross-check)")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    form = load_form("withdrawal_notice")
    blob, meta = _render(form, example("withdrawal_notice"))
    source = tmp_path / "notice.docx"
    source.write_bytes(blob)
    # A private profile, so a concurrent LibreOffice (or test) cannot lock us out.
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   capture_output=True, timeout=180, check=True)
    pdf = tmp_path / "notice.pdf"
    assert pdf.exists()
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          timeout=60, check=True).stdout.decode("utf-8")
    # LibreOffice, like Word, spaces CJK from digits; pdftotext prints those gaps as blanks.
    text = text.replace(" ", "")
    assert "学生退学通知书" in text
    assert "王喆" in text
    assert meta.number in text
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, timeout=60,
                           check=True).stdout.decode()
    assert "Pages:           1" in pages  # stub and notice share one A4 sheet
