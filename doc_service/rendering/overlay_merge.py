"""The overlay's last step: each values page laid over a copy of the fixed page (pikepdf).

A group's values pages come as one PDF whose pages share one resource dictionary; each
page keeps only the resources its content names, and is refused if it draws with a face
that is not its own (``DocSerifP<n>`` for page n, ``slots.face_family``), so no document
carries another's characters. Its font subsets get a tag of their own and the face's real
name back.
"""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import pikepdf

from doc_service.rendering.slots import FACE_ALIAS

_ALIAS_NAME = re.compile(re.escape(FACE_ALIAS) + r"(\d+)")
"""A values page's face in a font's name as WeasyPrint writes it (``ABCDEF+DocSerifP3``)."""


def merge_pages(fixed_pdf: bytes, values_pdf: bytes, labels: list[tuple[str, str]],
                fits: list[bool]) -> list[bytes | None]:
    """For each values page that fits, the fixed page with it drawn over, titled for its
    document (``labels``: title and keywords); None for a page that does not fit, or that
    would carry anything but its own resources."""
    merged: list[bytes | None] = []
    with pikepdf.open(io.BytesIO(values_pdf)) as values:
        for index, (values_page, (title, keywords), fit) in enumerate(
                zip(values.pages, labels, fits, strict=True)):
            if not fit or not _own_resources(values_page, index):
                merged.append(None)
                continue
            _retag_fonts(values_page, hashlib.sha256(
                values_page.Contents.read_bytes() + index.to_bytes(2, "big")).digest())
            with pikepdf.open(io.BytesIO(fixed_pdf)) as pdf:
                page = pdf.pages[0]
                page.add_overlay(values_page, pikepdf.Rectangle(*page.mediabox))
                with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
                    xmp["dc:title"] = title
                    xmp["pdf:Keywords"] = keywords
                out = io.BytesIO()
                pdf.save(out)
            merged.append(out.getvalue())
    return merged


def _own_resources(page: Any, index: int) -> bool:
    """Give a values page only the resources its content names (WeasyPrint shares one
    resource dictionary between the pages of a document: every page's fonts and QR
    image); False if it draws with a face that is not its own."""
    used = {str(operand) for instruction in pikepdf.parse_content_stream(page)
            if isinstance(instruction, pikepdf.ContentStreamInstruction)
            for operand in instruction.operands if isinstance(operand, pikepdf.Name)}
    shared = page.Resources
    own = pikepdf.Dictionary()
    for category in list(shared.keys()):
        entries = shared[category]
        if isinstance(entries, pikepdf.Dictionary):
            kept = {name: entries[name] for name in list(entries.keys()) if name in used}
            if kept:
                own[category] = pikepdf.Dictionary(kept)
        else:
            own[category] = entries
    for font in own.get("/Font", {}).values():
        match = _ALIAS_NAME.search(str(font.get("/BaseFont", "")))
        if match is None or int(match.group(1)) != index:
            return False
    page.Resources = own
    return True


def _retag_fonts(page: Any, seed: bytes) -> None:
    """Give the values page's font subsets a tag of their own and the face's own name
    (``DocSerif``, not the page's alias): WeasyPrint derives the tag from the face, so
    every document's subsets would otherwise share one name, and a viewer that caches
    fonts by name could draw one subset's glyphs from another."""
    tag = "".join(chr(ord("A") + b % 26) for b in seed[:6])

    def renamed(base: str) -> pikepdf.Name:
        name = _ALIAS_NAME.sub("DocSerif", base.split("+", 1)[1])
        return pikepdf.Name(f"/{tag}+{name}")

    fonts = page.Resources.get("/Font", {})
    for name in list(fonts.keys()):
        font = fonts[name]
        targets = [font]
        targets += list(font.get("/DescendantFonts", []))
        for f in targets:
            base = str(f.get("/BaseFont", ""))
            if "+" in base:
                f.BaseFont = renamed(base)
            descriptor = f.get("/FontDescriptor")
            if descriptor is not None and "+" in str(descriptor.get("/FontName", "")):
                descriptor.FontName = renamed(str(descriptor.FontName))
