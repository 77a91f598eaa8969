"""DOCX rendering: every form's example opens in python-docx and holds its values.

Also: values are printed literally (no template evaluation, no broken XML),
template errors become RenderError, the faces (SimSun for East Asian text, in
the font table with its name 宋体, bold titles) and zh-CN language are set,
fontconfig resolves that face to a CJK serif, the committed templates match
the builder in ``tools/docx_build``, and (where LibreOffice is installed) a
rendered document converts to a PDF with the Chinese title in it, printed in
a serif CJK face.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import docx
import pytest
from docx.document import Document as DocumentObject
from docx.oxml.ns import qn
from docx.shared import Mm
from lxml import etree

from doc_service.config import PROJECT_ROOT, Institution
from doc_service.errors import RenderError
from doc_service.forms.spec import FieldType, FormSpec, load_form
from doc_service.forms.validation import validate
from doc_service.rendering.context import DocumentMeta, cn_date, cn_month
from doc_service.rendering.docx import render_docx
from doc_service.rendering.qr import new_code, verify_url
from tests.conftest import example


def _builder() -> ModuleType:
    """``tools/docx_build`` (tools/ is not on sys.path): the package, loaded by path."""
    folder = PROJECT_ROOT / "tools" / "docx_build"
    if "docx_build" in sys.modules:
        return sys.modules["docx_build"]
    spec = importlib.util.spec_from_file_location(
        "docx_build", folder / "__init__.py", submodule_search_locations=[str(folder)])
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its relative imports and dataclasses look it up by name
    spec.loader.exec_module(module)
    return module


docx_build = _builder()
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"

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
        assert rpr.find(qn("w:rFonts")).get(qn("w:eastAsia")) == "SimSun"
        assert rpr.find(qn("w:rFonts")).get(qn("w:ascii")) == "Times New Roman"
        assert rpr.find(qn("w:rFonts")).get(qn("w:hAnsi")) == "Times New Roman"
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


def test_committed_template_matches_the_builder(form_id: str) -> None:
    built = docx_build.stable_bytes(docx_build.BUILDERS[form_id]())
    committed = (PROJECT_ROOT / "templates" / "forms" / form_id / "form.docx").read_bytes()
    assert built == committed, "run: python tools/build_docx_templates.py"


# --------------------------------------------------------------------------- fonts


def _part(blob: bytes, name: str) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return etree.fromstring(z.read(name))


def _font_table(blob: bytes) -> dict[str, etree._Element]:
    return {font.get(W + "name"): font for font in _part(blob, "word/fontTable.xml")}


def _val(font: etree._Element, tag: str) -> str | None:
    el = font.find(W + tag)
    return None if el is None else el.get(W + "val")


def test_font_table_declares_simsun_with_its_chinese_name(form_id: str) -> None:
    """What Word and WPS need to pick 宋体, or a Song substitute where it is missing."""
    form = load_form(form_id)
    blob, _ = _render(form, example(form_id))  # docxtpl must carry the table through
    table = _font_table(blob)

    simsun = table["SimSun"]
    assert _val(simsun, "altName") == "宋体"
    assert _val(simsun, "charset") == "86"  # GB2312
    assert _val(simsun, "family") == "roman"  # a serif, not a Hei (swiss) face
    panose = _val(simsun, "panose1")
    assert panose == "02010600030101010101"  # SimSun's PANOSE: Latin text, book weight
    assert simsun.find(W + "sig").get(W + "csb0") == "00040001"  # code page 936
    assert _val(table["Times New Roman"], "family") == "roman"
    # No Japanese faces left from python-docx's default template.
    assert not [name for name in table if name.startswith("ＭＳ")]


def test_every_run_and_style_names_simsun_for_east_asian_text(form_id: str) -> None:
    form = load_form(form_id)
    blob, _ = _render(form, example(form_id))
    declared = set(_font_table(blob))
    document, styles = _part(blob, "word/document.xml"), _part(blob, "word/styles.xml")
    settings = _part(blob, "word/settings.xml")

    runs = list(document.iter(W + "r"))
    assert runs
    for run in runs:
        if not "".join(t.text or "" for t in run.iter(W + "t")):
            continue  # the QR drawing, and the empty run docxtpl leaves after it
        rfonts = run.find(W + "rPr/" + W + "rFonts")
        assert rfonts is not None, etree.tostring(run, encoding="unicode")
        assert rfonts.get(W + "eastAsia") == docx_build.fonts.EAST_ASIA_FONT == "SimSun"
        assert rfonts.get(W + "ascii") == rfonts.get(W + "hAnsi") == "Times New Roman"
        assert not [k for k in rfonts.attrib if k.endswith("Theme") or k.endswith("theme")]
    # Every face a paragraph or character style, or the defaults, names is in the font table.
    named = {value for el in styles.iter(W + "rFonts") for key, value in el.attrib.items()
             if key.split("}")[1] in ("ascii", "hAnsi", "eastAsia", "cs")}
    assert named == declared == {"SimSun", "Times New Roman"}
    assert settings.find(W + "themeFontLang").get(W + "eastAsia") == "zh-CN"


def test_titles_are_simsun_bold_not_a_hei_face() -> None:
    form = load_form("withdrawal_notice")
    blob, _ = _render(form, example("withdrawal_notice"))
    document, _ = _open(blob)

    titles = [p for p in document.element.body.iter(W + "p")
              if "".join(t.text or "" for t in p.iter(W + "t")) == "学生退学通知书"]
    assert len(titles) == 1
    (run,) = [r for r in titles[0].iter(W + "r") if r.find(W + "t") is not None]
    rpr = run.find(W + "rPr")
    assert rpr.find(W + "b") is not None
    assert rpr.find(W + "rFonts").get(W + "eastAsia") == "SimSun"
    assert rpr.find(W + "sz").get(W + "val") == "36"  # 小二, 18 pt
    body = next(r for r in document.element.body.iter(W + "r")
                if (r.findtext(W + "t") or "").startswith("同学的家长"))
    assert body.find(W + "rPr/" + W + "b") is None


def _fc_match(pattern: str) -> str:
    return subprocess.run(["fc-match", "-f", "%{family}", pattern], capture_output=True,
                          timeout=30, check=True).stdout.decode()


def test_fontconfig_resolves_simsun_to_a_cjk_serif_for_chinese_text() -> None:
    """Why the runs name SimSun and not 宋体: LibreOffice on Linux asks fontconfig."""
    if shutil.which("fc-match") is None:
        pytest.skip("fontconfig's fc-match is not installed")
    if "Noto Serif CJK SC" not in _fc_match("Noto Serif CJK SC"):
        pytest.skip("fonts-noto-cjk is not installed")
    assert "Noto Serif CJK SC" in _fc_match("SimSun:lang=zh-cn")
    assert "Noto Serif CJK SC" in _fc_match("SimSun:lang=zh-cn:weight=bold")


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
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, timeout=60,
                           check=True).stdout.decode()
    if "Noto Serif CJK SC" in _fc_match("Noto Serif CJK SC"):
        assert "NotoSerifCJK" in fonts.replace(" ", ""), fonts
    assert "NotoSansCJK" not in fonts.replace(" ", ""), fonts  # the old 宋体 → sans fallback
