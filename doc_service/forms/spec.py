"""Form specifications: the official forms described as data.

Each form is a folder ``templates/forms/<form_id>/`` with ``schema.json``
(fields, rules, numbering, default approval chain), ``form.html`` (the PDF
page), ``form.docx`` (the editable Word template) and ``example.json``.
Fields shared by every form are defined once in ``_shared/fields.json`` and
referenced from a schema by key; a schema may override any attribute.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from doc_service.config import FORMS_ROOT
from doc_service.errors import FormNotFoundError

FORM_IDS = (
    "withdrawal_notice",
    "deferment_application",
    "verification_checklist",
    "status_change_notice",
    "enrollment_certificate",
)


class FieldType(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    ENUM = "enum"
    MULTI = "multi"
    DATE = "date"
    MONTH = "month"
    ID_NUMBER = "id_number"
    DIGITS = "digits"
    PHONE = "phone"
    INTEGER = "integer"


@dataclass(frozen=True)
class FieldSpec:
    """One input field of a form."""

    key: str
    """Stable data key, shared across forms for the common fields (``name``)."""
    label: str
    """The Chinese label printed on the form (``姓名``)."""
    type: FieldType = FieldType.TEXT
    required: bool = False
    max_length: int | None = None
    """Upper bound on characters; every text field has one (defaults by type)."""
    min_length: int | None = None
    length: int | None = None
    """Exact length (``digits`` fields such as the 14-digit 考生号)."""
    pattern: str | None = None
    pattern_message: str | None = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    help: str = ""
    unit: str = ""
    """Printed after the value (``年`` for 学制)."""
    sensitive: bool = False
    """Personal data shown only to those entitled (ID number, phone, address)."""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"key": self.key, "label": self.label, "type": str(self.type),
                             "required": self.required}
        for name in ("max_length", "min_length", "length", "pattern", "minimum", "maximum"):
            value = getattr(self, name)
            if value is not None:
                d[name] = value
        if self.choices:
            d["choices"] = list(self.choices)
        if self.help:
            d["help"] = self.help
        if self.unit:
            d["unit"] = self.unit
        if self.sensitive:
            d["sensitive"] = True
        return d


@dataclass(frozen=True)
class ChainStepSpec:
    """A step of the form's default approval chain."""

    role: str
    """``student``, ``class_teacher``, ``college_head``, ``registrar``, ``approving_office`` …"""
    decision: str = "approve"
    """What this step's signature means: approve, acknowledge or seal."""
    label: str = ""
    seal: str | None = None
    """``college`` or ``school``: which seal goes with this signature."""
    visible: bool = True
    """False for a step signed without a stamp on the page (a student's request)."""


@dataclass(frozen=True)
class FormSpec:
    """A whole official form."""

    id: str
    title: str
    version: str
    numbering: str
    """文号 pattern, formatted with ``year`` and ``seq``: ``{year}年第{seq}号``."""
    fields: tuple[FieldSpec, ...]
    rules: tuple[dict[str, Any], ...] = ()
    chain: tuple[ChainStepSpec, ...] = ()
    retention: str = "永久"
    """Archive retention period (DA/T: 永久 / 30年 / 10年)."""
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    """Form-specific data tables (e.g. required attachments per change type)."""
    folder: Path = FORMS_ROOT

    def field(self, key: str) -> FieldSpec:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields)

    def format_number(self, year: int, seq: int) -> str:
        return self.numbering.format(year=year, seq=seq)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "version": self.version,
            "numbering": self.numbering,
            "retention": self.retention,
            "description": self.description,
            "chain": [
                {"role": s.role, "decision": s.decision, "label": s.label, "seal": s.seal,
                 "visible": s.visible}
                for s in self.chain
            ],
            "fields": [f.to_dict() for f in self.fields],
        }


_DEFAULT_MAX = {FieldType.TEXT: 100, FieldType.TEXTAREA: 500}


def field_from_dict(d: dict[str, Any]) -> FieldSpec:
    ftype = FieldType(d.get("type", "text"))
    return FieldSpec(
        key=d["key"],
        label=d["label"],
        type=ftype,
        required=bool(d.get("required", False)),
        max_length=d.get("max_length", _DEFAULT_MAX.get(ftype)),
        min_length=d.get("min_length"),
        length=d.get("length"),
        pattern=d.get("pattern"),
        pattern_message=d.get("pattern_message"),
        choices=tuple(d.get("choices", ())),
        minimum=d.get("minimum"),
        maximum=d.get("maximum"),
        help=d.get("help", ""),
        unit=d.get("unit", ""),
        sensitive=bool(d.get("sensitive", False)),
    )


@cache
def shared_fields(root: Path = FORMS_ROOT) -> dict[str, dict[str, Any]]:
    data = json.loads((root / "_shared" / "fields.json").read_text(encoding="utf-8"))
    return {d["key"]: d for d in data["fields"]}


def _load(folder: Path) -> FormSpec:
    raw = json.loads((folder / "schema.json").read_text(encoding="utf-8"))
    shared = shared_fields(folder.parent)
    fields = []
    for entry in raw["fields"]:
        base = shared.get(entry["key"], {})
        fields.append(field_from_dict({**base, **entry}))
    chain = tuple(
        ChainStepSpec(role=s["role"], decision=s.get("decision", "approve"),
                      label=s.get("label", ""), seal=s.get("seal"),
                      visible=s.get("visible", True))
        for s in raw.get("chain", ())
    )
    known = {"id", "title", "version", "numbering", "fields", "rules", "chain", "retention",
             "description"}
    return FormSpec(
        id=raw["id"],
        title=raw["title"],
        version=str(raw["version"]),
        numbering=raw["numbering"],
        fields=tuple(fields),
        rules=tuple(raw.get("rules", ())),
        chain=chain,
        retention=raw.get("retention", "永久"),
        description=raw.get("description", ""),
        extra={k: v for k, v in raw.items() if k not in known},
        folder=folder,
    )


@cache
def load_form(form_id: str, root: Path = FORMS_ROOT) -> FormSpec:
    """The form with this id, or :class:`FormNotFoundError` (ids are never paths)."""
    if form_id not in FORM_IDS:
        raise FormNotFoundError(f"没有这种表单：{form_id[:40]}")
    return _load(root / form_id)


def all_forms(root: Path = FORMS_ROOT) -> list[FormSpec]:
    return [load_form(fid, root) for fid in FORM_IDS]
