"""The template context: cleaned form data turned into what paper shows.

Data is ISO and typed; paper is Chinese: ``2026-09-01`` prints as
``2026年9月1日``, ``2026-09`` as ``2026年9月``, a 学制 of 4 as ``4年``. The same
context feeds the HTML (PDF) and DOCX templates, so both print the same words.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from doc_service.config import Institution
from doc_service.forms.spec import FieldType, FormSpec
from doc_service.rendering.qr import verify_url


def cn_date(value: str | dt.date | None) -> str:
    if not value:
        return ""
    d = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    return f"{d.year}年{d.month}月{d.day}日"


def cn_month(value: str | None) -> str:
    if not value:
        return ""
    year, month = str(value).split("-")
    return f"{int(year)}年{int(month)}月"


@dataclass(frozen=True)
class DocumentMeta:
    """What identifies one issued document on paper."""

    number: str
    """The 文号, e.g. ``2026年第7号``."""
    code: str
    """The short random code of its verification URL."""
    verify_url: str
    issued_on: dt.date = field(default_factory=dt.date.today)
    version: int = 1
    document_id: str = ""

    @classmethod
    def issued(cls, institution: Institution, number: str, code: str, *,
               issued_on: dt.date | None = None, version: int = 1,
               document_id: str = "") -> DocumentMeta:
        """The meta of a document the school issues: its QR code verifies ``code`` at the
        school's public address."""
        return cls(number=number, code=code,
                   verify_url=verify_url(institution.public_base_url, code),
                   issued_on=issued_on or dt.date.today(), version=version,
                   document_id=document_id)


def display_values(form: FormSpec, data: dict[str, Any]) -> dict[str, Any]:
    """Per field key, the text printed on paper ('' when absent)."""
    out: dict[str, Any] = {}
    for f in form.fields:
        value = data.get(f.key)
        if value in (None, "", []):
            out[f.key] = [] if f.type is FieldType.MULTI else ""
        elif f.type is FieldType.DATE:
            out[f.key] = cn_date(value)
        elif f.type is FieldType.MONTH:
            out[f.key] = cn_month(value)
        elif f.type is FieldType.MULTI:
            out[f.key] = list(value)
        else:
            out[f.key] = f"{value}{f.unit}"
    return out


def date_parts(value: str | None) -> dict[str, str]:
    """``{"y": "2026", "m": "3", "d": "2"}`` for forms that print 年 月 日 in separate blanks."""
    if not value:
        return {"y": "", "m": "", "d": ""}
    d = dt.date.fromisoformat(value)
    return {"y": str(d.year), "m": str(d.month), "d": str(d.day)}


def attachments_for(form: FormSpec, data: dict[str, Any]) -> list[str]:
    """Required attachments of a status change (seed 003's table), unless given by hand."""
    given = data.get("attachments")
    if given:
        return [line.strip() for line in str(given).replace("；", "\n").splitlines()
                if line.strip()]
    table: dict[str, list[str]] = form.extra.get("attachments", {})
    kind, reason = data.get("change_type", ""), data.get("change_reason", "")
    return list(table.get(f"{kind}/{reason}") or table.get(f"{kind}/*") or [])


def derived_values(form: FormSpec, data: dict[str, Any],
                   institution: Institution) -> dict[str, Any]:
    """Values computed from the data that some forms print (days, offices)."""
    out: dict[str, Any] = {}
    if data.get("report_date") and data.get("defer_until"):
        days = (dt.date.fromisoformat(data["defer_until"])
                - dt.date.fromisoformat(data["report_date"])).days
        out["defer_days"] = days
    if "student_type" in data:
        # Seed 004, 工作要求3: new students are approved by 招生办, current ones by 学生处.
        out["approving_office"] = "招生办" if data["student_type"] == "新生" else "学生处"
    if "certificate_kind" in data:
        # Seed 004: 在校证明 is the student office's, 在籍证明 the registrar's.
        out["issuing_office"] = (institution.student_office
                                 if data["certificate_kind"] == "在校证明"
                                 else institution.registrar_office)
    return out


def build_context(form: FormSpec, data: dict[str, Any], meta: DocumentMeta,
                  institution: Institution, *, qr_data_uri: str = "") -> dict[str, Any]:
    dates = {f.key: date_parts(data.get(f.key)) for f in form.fields if f.type is FieldType.DATE}
    return {
        "form": {"id": form.id, "title": form.title, "version": form.version},
        "v": display_values(form, data),
        # Every key present (None when absent) so StrictUndefined only flags real typos.
        "data": {key: data.get(key) for key in form.keys},
        "dates": dates,
        "doc": {
            "number": meta.number,
            "code": meta.code,
            "verify_url": meta.verify_url,
            "issued_on": cn_date(meta.issued_on),
            "version": meta.version,
            "qr": qr_data_uri,
        },
        "school": {
            "name": institution.name,
            "registrar_office": institution.registrar_office,
            "student_office": institution.student_office,
            "regulation": institution.regulation,
        },
        "derived": derived_values(form, data, institution),
        "attachments": attachments_for(form, data) if form.id == "status_change_notice" else [],
        "chain": [{"role": s.role, "label": s.label, "seal": s.seal} for s in form.chain],
    }
