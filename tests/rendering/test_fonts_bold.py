"""The PDF draws a form's title in the bold face and its values in the regular one.

pdftotext cannot tell weights apart, so this walks the page's content stream
itself: it follows the text font (``Tf``, saved and restored with the graphics
state by ``q``/``Q``), decodes every string a text-showing operator (``Tj``,
``TJ``, ``'``, ``"``) draws through that font's ToUnicode map, and so learns for
each piece of text the BaseFont it is printed in (``ABCDEF+DocSerif-Bold`` or
``ABCDEF+DocSerif``). The last test swaps the bold font for the regular one in
the title's ``Tf`` and checks that the same assertions then fail.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from pypdf import PdfReader
from pypdf.generic import ByteStringObject, DictionaryObject, NameObject, TextStringObject

from doc_service.config import Institution
from doc_service.issuing import render_document
from doc_service.rendering.context import DocumentMeta
from tests.conftest import example

NUMBER = "〔2026〕12号"
TITLES = {
    "withdrawal_notice": "学生退学通知书",
    "deferment_application": "学生暂缓报到申请（审批）表",
}
BOLD_FACE = "DocSerif-Bold"

Operation = tuple[list[Any], bytes]


@dataclass(frozen=True)
class Shown:
    """One text-showing operator: what it draws, in which font, at which size."""

    text: str
    base_font: str
    size: float

    @property
    def bold(self) -> bool:
        return "Bold" in self.base_font


@dataclass(frozen=True)
class Page:
    operations: list[Operation]
    fonts: dict[str, DictionaryObject]
    data: dict[str, Any]


def _to_unicode(font: DictionaryObject) -> dict[int, str]:
    """Code → text from the font's ToUnicode CMap (bfchar and bfrange entries)."""
    cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
    out: dict[int, str] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
        for src, dst in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            out[int(src, 16)] = bytes.fromhex(dst).decode("utf-16-be")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.S):
        for lo, hi, dst in re.findall(
                r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            first = int(dst, 16)
            for i, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                out[code] = chr(first + i)
    return out


def _strings(operands: list[Any], op: bytes) -> Iterable[bytes]:
    items = operands[0] if op == b"TJ" else operands[-1:]  # TJ: strings and kerning numbers
    for item in items:
        if isinstance(item, TextStringObject | ByteStringObject):
            yield item.original_bytes


def shown_text(page: Page) -> list[Shown]:
    """Every string the page's content stream draws, with its font and size, in order."""
    maps = {name: _to_unicode(font) for name, font in page.fonts.items()}
    state: list[tuple[str | None, float]] = [(None, 0.0)]  # (font resource, size) per q level
    out: list[Shown] = []
    for operands, op in page.operations:
        if op == b"q":
            state.append(state[-1])
        elif op == b"Q":
            state.pop()
        elif op == b"Tf":
            state[-1] = (str(operands[0]), float(operands[1]))
        elif op in (b"Tj", b"TJ", b"'", b'"'):
            name, size = state[-1]
            assert name is not None, "text shown before any Tf"
            font = page.fonts[name]
            # WeasyPrint embeds CID fonts with Identity-H: two bytes per glyph.
            width = 2 if font["/Subtype"] == "/Type0" else 1
            raw = b"".join(_strings(operands, op))
            text = "".join(maps[name].get(int.from_bytes(raw[i:i + width], "big"), "\ufffd")
                           for i in range(0, len(raw), width))
            out.append(Shown(text, str(font["/BaseFont"]), size))
    return out


def assert_title_bold_and_values_regular(shown: Sequence[Shown], title: str,
                                         values: Sequence[str]) -> None:
    bold = "".join(s.text for s in shown if s.bold)
    regular = "".join(s.text for s in shown if not s.bold)
    assert title in bold, f"title {title!r} not drawn in a bold face; bold text: {bold!r}"
    titles = [s for s in shown if title in s.text]
    assert titles, f"title {title!r} not drawn by one operator"
    assert all(BOLD_FACE in s.base_font for s in titles), titles
    # The title is the largest text on the page (小二 and up).
    assert max(s.size for s in titles) == max(s.size for s in shown)
    for value in values:
        assert value in regular, f"value {value!r} not drawn in the regular face"
        assert value not in bold, f"value {value!r} drawn in a bold face"


def _page(form_id: str) -> Page:
    data = example(form_id)
    meta = DocumentMeta(number=NUMBER, code="7KQ2M9XH4P",
                        verify_url="http://127.0.0.1:8000/d/7KQ2M9XH4P",
                        issued_on=dt.date(2026, 11, 20))
    rendered = render_document(form_id, data, meta, Institution())
    reader = PdfReader(io.BytesIO(rendered.pdf.pdf))
    page = reader.pages[0]
    fonts = {str(name): ref.get_object()
             for name, ref in page["/Resources"]["/Font"].items()}
    return Page(operations=page.get_contents().operations, fonts=fonts, data=rendered.data)


@pytest.fixture(scope="module")
def pages() -> dict[str, Page]:
    return {form_id: _page(form_id) for form_id in TITLES}


def _values(page: Page) -> list[str]:
    return [page.data["name"], page.data["student_no"], NUMBER]


@pytest.mark.parametrize("form_id", list(TITLES))
def test_both_weights_are_embedded(pages: dict[str, Page], form_id: str) -> None:
    faces = {str(font["/BaseFont"]).split("+")[-1] for font in pages[form_id].fonts.values()}
    assert {"DocSerif", BOLD_FACE} <= faces


@pytest.mark.parametrize("form_id", list(TITLES))
def test_title_is_bold_and_values_are_regular(pages: dict[str, Page], form_id: str) -> None:
    page = pages[form_id]
    shown = shown_text(page)
    assert_title_bold_and_values_regular(shown, TITLES[form_id], _values(page))


def test_withdrawal_notice_titles_on_stub_and_notice_are_bold(pages: dict[str, Page]) -> None:
    shown = shown_text(pages["withdrawal_notice"])
    titles = [s for s in shown if s.text == "学生退学通知书"]
    assert len(titles) == 2  # the stub (存根) and the notice
    assert all(BOLD_FACE in s.base_font for s in titles)
    # The body sentence, addressed to the parents, is regular.
    assert [s.bold for s in shown if s.text == "同学的家长："] == [False, False]


def test_the_check_fails_when_the_title_is_drawn_in_the_regular_face(
        pages: dict[str, Page]) -> None:
    """Point the title's Tf at a regular font: now the same check fails.

    The new resource is the bold font's dictionary with the regular face's BaseFont, so
    the glyphs still decode (the regular subset has no ToUnicode entry for 书) and only
    the face the title is drawn in changes.
    """
    page = pages["withdrawal_notice"]
    bold = next(name for name, font in page.fonts.items()
                if str(font["/BaseFont"]).endswith("+" + BOLD_FACE))
    regular = next(font["/BaseFont"] for font in page.fonts.values()
                   if str(font["/BaseFont"]).endswith("+DocSerif"))
    demoted_font = DictionaryObject(page.fonts[bold])
    demoted_font[NameObject("/BaseFont")] = regular
    largest = max(float(operands[1]) for operands, op in page.operations if op == b"Tf")
    swapped = [([NameObject("/Demoted"), *operands[1:]], op)
               if op == b"Tf" and operands[0] == bold and float(operands[1]) == largest
               else (operands, op)
               for operands, op in page.operations]
    assert swapped != page.operations
    demoted = Page(operations=swapped, fonts={**page.fonts, "/Demoted": demoted_font},
                   data=page.data)
    assert [s.text for s in shown_text(demoted)] == [s.text for s in shown_text(page)]
    with pytest.raises(AssertionError, match="not drawn in a bold face"):
        assert_title_bold_and_values_regular(shown_text(demoted), TITLES["withdrawal_notice"],
                                             _values(page))
