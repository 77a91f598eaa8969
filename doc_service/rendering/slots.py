"""The batch renderer's contract: the slot markup, its names, and the numbers both sides share.

A form template marks each value that differs from one document to the next as a *slot*
(``macros.slot`` and ``macros.qr`` in ``templates/forms/_shared/macros.html``). The macros do
not spell the markup themselves: they call the functions here, which the Jinja environment
offers as globals (:data:`TEMPLATE_GLOBALS`), so the template and the batch renderer
(``rendering.overlay``) cannot disagree on a class or attribute name.

Those functions also hand the values on as data. Rendered inside :func:`split_page`, a page
comes back as a :class:`SlottedPage`: its *skeleton* (the page with every slot, the title
and the keywords left empty; the same for every document that differs only in its slots'
values) and what this document puts in each slot. Nothing downstream reads HTML back.

The other half of the contract is :class:`Slot`, where a value's line sits on the form laid
out once, which ``rendering.weasy_internals`` reads from WeasyPrint's layout; and the
values pages the overlay draws each document's values on, whose elements carry
:data:`VALUE_INDEX_ATTR` so the painter can tell them apart.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

SLOT_CLASS = "slot"
"""The class of every slot element on a form page."""
SLOT_ATTR = "data-slot"
"""The attribute that names a slot (``doc.number``, ``v.name``, ``qr``)."""
QR_KEY = "qr"
"""The QR code's slot: an ``<img>`` whose ``src`` is the document's code."""
VALUE_INDEX_ATTR = "data-slot-index"
"""On a values page, the index (in the fixed page's slot order) of the slot an element
draws."""
HIDDEN_SLOTS_CSS = f"[{SLOT_ATTR}] {{ visibility: hidden !important; }}"
"""Lays the fixed page out with every value's box in place but nothing of it drawn (a
user stylesheet: ``!important`` there wins over anything a form's own style says)."""

GROUP_SIZE = 8
"""Documents laid out together: the values of one WeasyPrint pass of the overlay, a page
and a face each, and so the items a batch runner claims, renders and records at once."""
FIT_SLACK_PX = 0.5
"""How much wider (or taller) than its line a value may measure and still count as fitting
it: rounding in the layout, never a visible overflow."""
PROBE_TEXT = "国1"
"""What the values painter's probe page draws in every text slot (never output)."""

FACE_ALIAS = "DocSerifP"
"""The family name prefix each values page draws its face under (``DocSerifP0`` …)."""


def face_family(page: int) -> str:
    """The font family the values page ``page`` of a group draws with."""
    return f"{FACE_ALIAS}{page}"


@dataclass(frozen=True)
class Slot:
    """Where one value's line sits on the fixed page, in CSS px from the page's corner, and
    how the value is drawn there."""

    key: str
    left: float
    top: float
    width: float
    height: float
    align: str = "left"
    font_size: float = 16.0
    font_weight: int = 400
    letter_spacing: float = 0.0
    color: str = "#000"


@dataclass(frozen=True)
class SlottedPage:
    """One document's form page as the batch renderer takes it: the skeleton, and the
    values the document puts in its slots."""

    skeleton: str
    """The page's HTML with every slot, the title and the keywords left empty."""
    texts: tuple[tuple[str, str], ...]
    """Each text slot's key and the template's output for it (escaped HTML), in page
    order."""
    qr_srcs: tuple[str, ...]
    """The ``src`` of each QR slot (escaped), in page order."""
    title: str
    """The page's ``<title>``, as plain text."""
    keywords: str
    """The page's keywords, as plain text."""

    @property
    def text_by_key(self) -> dict[str, str]:
        """Each text slot's output by key (a key used twice keeps its last)."""
        return dict(self.texts)

    @property
    def qr_src(self) -> str | None:
        """The first QR slot's ``src``, if the page has one."""
        return self.qr_srcs[0] if self.qr_srcs else None

    @property
    def slot_count(self) -> int:
        """How many slots the page marks (each a box on the fixed page)."""
        return len(self.texts) + len(self.qr_srcs)


@dataclass
class _Recorder:
    """What the slot functions saw during one :func:`split_page`."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    qr_srcs: list[str] = field(default_factory=list)
    title: str | None = None
    keywords: str | None = None


_RECORDER: ContextVar[_Recorder | None] = ContextVar("slot_recorder", default=None)


def split_page(render: Callable[[], str]) -> SlottedPage:
    """The page ``render`` (a template's render) makes, split into its skeleton and its
    slots' values: while it runs, the slot functions record each value and write it empty."""
    recorder = _Recorder()
    token = _RECORDER.set(recorder)
    try:
        skeleton = render()
    finally:
        _RECORDER.reset(token)
    return SlottedPage(skeleton=skeleton, texts=tuple(recorder.texts),
                       qr_srcs=tuple(recorder.qr_srcs), title=recorder.title or "",
                       keywords=recorder.keywords or "")


def slot_markup(key: str, value: Any) -> Markup:
    """A text slot: ``<span class="slot" data-slot="<key>">value</span>`` (escaped)."""
    text = escape(value)
    recorder = _RECORDER.get()
    if recorder is not None:
        recorder.texts.append((key, str(text)))
        text = Markup()
    return Markup(f'<span class="{SLOT_CLASS}" {SLOT_ATTR}="{escape(key)}">{text}</span>')


def qr_slot_attributes(src: Any) -> Markup:
    """The attributes of the QR code's ``<img>``: its slot and its ``src``."""
    text = escape(src)
    recorder = _RECORDER.get()
    if recorder is not None:
        recorder.qr_srcs.append(str(text))
        text = Markup()
    return Markup(f'class="{SLOT_CLASS}" {SLOT_ATTR}="{QR_KEY}" src="{text}"')


def page_title(text: Any) -> Markup:
    """The page's title (escaped), which the overlay gives each document's PDF."""
    recorder = _RECORDER.get()
    if recorder is not None:
        if recorder.title is None:
            recorder.title = escape(text).unescape().strip()
        return Markup()
    return escape(text)


def page_keywords(text: Any) -> Markup:
    """The page's keywords (escaped), which the overlay gives each document's PDF."""
    recorder = _RECORDER.get()
    if recorder is not None:
        if recorder.keywords is None:
            recorder.keywords = escape(text).unescape().strip()
        return Markup()
    return escape(text)


TEMPLATE_GLOBALS: dict[str, Callable[[Any], Markup] | Callable[[str, Any], Markup]] = {
    "slot_markup": slot_markup,
    "qr_slot_attributes": qr_slot_attributes,
    "page_title": page_title,
    "page_keywords": page_keywords,
}
"""What the form templates' Jinja environment offers (``rendering.sandbox``)."""
