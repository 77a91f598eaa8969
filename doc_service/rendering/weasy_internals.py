"""Everything we take from WeasyPrint beyond its public API, in one place.

WeasyPrint's public API lays HTML out into a document and writes it. Rendering needs more:
where the layout put a box (signature areas, a batch's slots, whether a value fits its
line), and the values painter (``rendering.values_painter``) draws text into pages of its
own without CSS layout. Those are internals a release may change, so they all live here:

- *Reading the layout* (the box tree under each page) serves every render (signature
  areas) and has not changed in many releases; ``pyproject.toml`` bounds WeasyPrint below
  its next major version, where this must be checked again.
- *Drawing directly* (Pango lines through ``create_layout`` and ``line_size``,
  ``draw_first_line``, images, ``Document.copy`` with pages of ours) is used only by the
  painter, and only on a WeasyPrint :func:`draws_directly` accepts: on any other the
  painter declines and the overlay lays the values out as HTML (slower, the same pixels).
  ``tests/rendering/test_values_painter.py`` first asserts that the painter is active;
  on a new release it fails, the cue to check this module against it and to widen
  :data:`TESTED_MAJORS` and the bound in ``pyproject.toml`` together.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import weasyprint
from PIL import Image
from weasyprint.formatting_structure import boxes

from doc_service.rendering.slots import PROBE_TEXT, SLOT_ATTR, VALUE_INDEX_ATTR, Slot

try:  # drawing internals: these moved between releases (``weasyprint.draw`` became a package)
    from weasyprint import DEFAULT_OPTIONS
    from weasyprint.draw.text import draw_first_line
    from weasyprint.images import RasterImage
    from weasyprint.layout.replaced import replacedbox_layout
    from weasyprint.matrix import Matrix
    from weasyprint.text.ffi import FROM_UNITS, pango
    from weasyprint.text.line_break import create_layout, line_size
except ImportError:  # another layout of the package: draws_directly() says no
    _DRAWING_IMPORTED = False
else:
    _DRAWING_IMPORTED = True

VERSION: str = weasyprint.__version__
"""The WeasyPrint this process runs."""
TESTED_MAJORS = range(70, 71)
"""The WeasyPrint major versions ``tests/rendering`` has passed on with the painter active
(``pyproject.toml`` requires one below ``TESTED_MAJORS.stop``)."""
_DATA_PNG = "data:image/png;base64,"


def draws_directly(version: str = VERSION) -> bool:
    """Whether the values painter may draw into WeasyPrint ``version``: one this module was
    checked against (the painter still compares its drawing with WeasyPrint's)."""
    major = version.split(".", 1)[0]
    return _DRAWING_IMPORTED and major.isdigit() and int(major) in TESTED_MAJORS


# --- reading the layout ----------------------------------------------------------------


@dataclass(frozen=True)
class MarkedBox:
    """A box whose element carries an attribute, with its border box in CSS px."""

    page_index: int
    value: str
    x: float
    y: float
    width: float
    height: float


def marked_boxes(document: Any, attribute: str) -> Iterator[MarkedBox]:
    """Each box of ``document`` (a laid-out WeasyPrint document) whose element has
    ``attribute``, page by page in the layout tree's order."""
    for index, page in enumerate(document.pages):
        stack = [_page_box(page)]
        while stack:
            box = stack.pop()
            element = getattr(box, "element", None)
            value = element.get(attribute) if element is not None else None
            if value and getattr(box, "element_tag", None):
                yield MarkedBox(index, value, box.border_box_x(), box.border_box_y(),
                                box.border_width(), box.border_height())
            stack.extend(getattr(box, "children", ()))


def slot_lines(document: Any) -> tuple[Slot, ...] | None:
    """Each slot's line on the first page of ``document`` (a form laid out with its values
    hidden), or None if one cannot be reproduced alone (split over two lines, or centred
    or right-aligned next to other text)."""
    found: list[Slot] = []
    seen: set[int] = set()
    stack: list[tuple[Any, tuple[Any, ...]]] = [(_page_box(document.pages[0]), ())]
    while stack:
        box, ancestors = stack.pop()
        element = getattr(box, "element", None)
        key = element.get(SLOT_ATTR) if element is not None else None
        if key and isinstance(box, boxes.ReplacedBox):
            found.append(Slot(key, box.content_box_x(), box.content_box_y(), box.width,
                              box.height))
            continue
        if key and isinstance(box, boxes.InlineBox):
            if id(element) in seen:
                return None  # one value split over two lines
            seen.add(id(element))
            slot = _text_slot(key, box, ancestors)
            if slot is None:
                return None
            found.append(slot)
            continue
        for child in getattr(box, "children", ()):
            stack.append((child, (*ancestors, box)))
    return tuple(found)


def _text_slot(key: str, box: Any, ancestors: tuple[Any, ...]) -> Slot | None:
    """The slot's line, if its value can be drawn there on its own: the slot sits directly
    on the line (no inline parent whose border, background or underline would follow the
    value's width), nothing with text follows it on that line, and, centred or aligned
    right, nothing precedes it either."""
    if len(ancestors) < 2 or not isinstance(ancestors[-1], boxes.LineBox):
        return None
    line, block = ancestors[-1], ancestors[-2]
    siblings = list(line.children)
    index = next(i for i, child in enumerate(siblings) if child is box)
    if any(_has_text(child) for child in siblings[index + 1:]):
        return None
    align = str(block.style["text_align_all"])
    style = box.style
    spacing = style["letter_spacing"]
    common: dict[str, Any] = dict(
        height=line.height, font_size=float(style["font_size"]),
        font_weight=int(style["font_weight"]),
        letter_spacing=0.0 if spacing == "normal" else float(spacing),
        color=_css_color(style["color"]))
    if align in ("center", "right", "end"):
        if any(_has_text(child) for child in siblings[:index]):
            return None
        return Slot(key, block.content_box_x(), line.position_y, block.width,
                    align="right" if align == "end" else align, **common)
    right_edge = block.content_box_x() + block.width
    return Slot(key, box.position_x, line.position_y, right_edge - box.position_x, **common)


def _css_color(color: Any) -> str:
    r, g, b, alpha = (float(c) for c in tuple(color)[:4])
    return f"rgba({r * 255:.2f},{g * 255:.2f},{b * 255:.2f},{alpha:.4f})"


def _has_text(box: Any) -> bool:
    text = getattr(box, "text", None)
    if text is not None:
        return bool(text.strip())
    return any(_has_text(child) for child in getattr(box, "children", ()))


def values_fit(page: Any, slack: float) -> bool:
    """Every value on a values page (laid out as HTML) fits on its one line, within
    ``slack`` px: the full render would not wrap it."""
    stack = [_page_box(page)]
    while stack:
        box = _placed(stack.pop())
        element = getattr(box, "element", None)
        if (element is not None and element.get(VALUE_INDEX_ATTR) is not None
                and isinstance(box, boxes.BlockBox)):
            lines = [c for c in box.children if isinstance(c, boxes.LineBox)]
            if len(lines) > 1 or any(line.height > box.height + slack for line in lines):
                return False  # wrapped, or taller (a fallback face's metrics)
            texts = [t for line in lines for t in _text_boxes(line)]
            if texts:
                left = min(t.position_x for t in texts)
                right = max(t.position_x + t.width for t in texts)
                if right - left > box.width + slack:
                    return False
            continue
        stack.extend(getattr(box, "children", ()))
    return True


def _text_boxes(box: Any) -> list[Any]:
    if isinstance(box, boxes.TextBox):
        return [box]
    return [t for child in getattr(box, "children", ()) for t in _text_boxes(child)]


# --- reading the probe of the values painter -------------------------------------------


@dataclass(frozen=True)
class ProbeText:
    """One text slot on one page of the probe."""

    style: Any
    """WeasyPrint's computed style of the slot's text (the page's face)."""
    left: float
    width: float
    align: str
    baseline_y: float
    """The baseline's distance from the page's top, as laid out."""
    baseline: float
    """The baseline Pango gives a line of the probe's text: a text drawn in the same face
    only has the same."""


@dataclass(frozen=True)
class ProbeImage:
    """The QR code's slot on the probe: where WeasyPrint draws it, and how."""

    x: float
    y: float
    width: float
    height: float
    style: Any


def read_probe_page(page: Any, count: int) -> dict[int, ProbeText | ProbeImage] | None:
    """Each of the ``count`` slots' style and place on one probe page, by the slot's index
    (:data:`~doc_service.rendering.slots.VALUE_INDEX_ATTR`); None unless every slot is
    there, each text one line of :data:`~doc_service.rendering.slots.PROBE_TEXT`."""
    found: dict[int, ProbeText | ProbeImage] = {}
    stack = [_page_box(page)]
    while stack:
        box = _placed(stack.pop())
        element = getattr(box, "element", None)
        index = element.get(VALUE_INDEX_ATTR) if element is not None else None
        if index is not None and getattr(box, "element_tag", None) in ("div", "img"):
            if isinstance(box, boxes.ReplacedBox):
                width, height, x, y = replacedbox_layout(box)
                found[int(index)] = ProbeImage(x, y, width, height, box.style)
            elif isinstance(box, boxes.BlockBox):
                text = _probe_text(box)
                if text is None:
                    return None
                found[int(index)] = text
            continue
        stack.extend(getattr(box, "children", ()))
    if sorted(found) != list(range(count)):
        return None
    return found


def _probe_text(box: Any) -> ProbeText | None:
    lines = [c for c in box.children if isinstance(c, boxes.LineBox)]
    if len(lines) != 1 or len(lines[0].children) != 1:
        return None
    text = lines[0].children[0]
    if not isinstance(text, boxes.TextBox) or text.text != PROBE_TEXT:
        return None
    align = str(box.style["text_align_all"])
    ascent = shape(PROBE_TEXT, text.style, LayoutContext()).baseline
    return ProbeText(
        style=text.style, left=box.content_box_x(), width=box.width,
        align="right" if align == "end" else
        ("left" if align in ("start", "justify") else align),
        baseline_y=text.position_y + text.baseline, baseline=ascent)


def _page_box(page: Any) -> Any:
    return page._page_box  # noqa: SLF001 - WeasyPrint exposes layout only here


def _placed(box: Any) -> Any:
    """The box an absolutely positioned box's placeholder stands for (else the box)."""
    return getattr(box, "_box", box)


# --- drawing directly ------------------------------------------------------------------


class LayoutContext:
    """What ``split_first_line``'s helpers read from a layout context (hyphenation only)."""

    def __init__(self) -> None:
        self.dictionaries: dict[Any, Any] = {}


@dataclass(frozen=True)
class ShapedLine:
    """A text shaped by Pango as one line in a style, as WeasyPrint's ``split_first_line``
    makes it without a width limit (but left active, for drawing)."""

    text: str
    style: Any
    pango_layout: Any
    wraps: bool
    """Whether Pango would start a second line."""
    width: float
    baseline: float


def shape(text: str, style: Any, context: LayoutContext) -> ShapedLine:
    """``text`` shaped as one line in ``style`` (a WeasyPrint computed style)."""
    layout = create_layout(text, style, context, None, 0)
    first_line, resume = layout.get_first_line()
    width, _height = line_size(first_line, style)
    return ShapedLine(text, style, layout, resume is not None, width,
                      pango.pango_layout_get_baseline(layout.layout) * FROM_UNITS)


def qr_image(src: str) -> Any:
    """A WeasyPrint image of a ``data:image/png`` QR code."""
    if not src.startswith(_DATA_PNG):
        raise ValueError("the QR code is not an embedded PNG")
    data = base64.b64decode(src[len(_DATA_PNG):])
    image_id = hashlib.sha256(data).hexdigest()[:16]
    return RasterImage(Image.open(io.BytesIO(data)), image_id, data, options=DEFAULT_OPTIONS)


@dataclass(frozen=True)
class PlacedText:
    """A shaped line drawn on the probe's text slot, its left edge at ``x``."""

    slot: ProbeText
    line: ShapedLine
    x: float


@dataclass(frozen=True)
class PlacedImage:
    """An image drawn where the probe drew its QR code."""

    slot: ProbeImage
    image: Any


def write_pages(probe: Any, pages: list[tuple[int, list[PlacedText | PlacedImage]]]) -> bytes:
    """A PDF of one page per ``(probe page index, items)``, each the size of that probe page
    and drawing only its items, written by the probe's document (fonts, subsets, images as
    WeasyPrint writes them)."""
    return bytes(probe.copy([_Page(probe.pages[face], items) for face, items in pages])
                 .write_pdf())


class _Page:
    """A page of values, painted like ``weasyprint.document.Page`` paints the probe's."""

    def __init__(self, like: Any, items: list[PlacedText | PlacedImage]) -> None:
        self.width, self.height = like.width, like.height
        self.bleed = dict(like.bleed)
        self.bookmarks: list[Any] = []
        self.links: list[Any] = []
        self.anchors: dict[str, Any] = {}
        self.forms: dict[Any, list[Any]] = {None: []}
        self._items = items
        """In the slots' order."""

    def paint(self, stream: Any, scale: float = 1) -> None:
        with stream.stacked():
            stream.transform(a=scale, d=scale)
            for item in self._items:
                with stream.stacked():
                    if isinstance(item, PlacedImage):
                        place = item.slot
                        stream.set_alpha(1)
                        stream.transform(e=place.x, f=place.y)
                        with stream.stacked():
                            item.image.draw(stream, place.width, place.height, place.style)
                        continue
                    stream.set_color(item.slot.style["color"])
                    stream.begin_text()
                    draw_first_line(stream, item.line, "clip", "none",
                                    Matrix(d=-1, e=item.x, f=item.slot.baseline_y))
                    stream.end_text()
                    item.line.pango_layout.deactivate()
