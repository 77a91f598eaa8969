"""What anyone holding a printed copy may learn, and checking an uploaded PDF.

The public view never holds an ID number, 考生号, address, phone or the PDF
itself: the form, 文号, school and college, issue date, the masked name, each
signer's role and time, the file's SHA-256, and whether it is valid, pending,
voided or superseded (and by what).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from doc_service.errors import NotFoundError
from doc_service.forms.spec import load_form
from doc_service.services.runtime import Runtime
from doc_service.storage.models import ROLE_LABELS, DocStatus, Document, StepState
from signing.verify import verify_pdf

STATE_LABELS = {
    "valid": "有效",
    "pending": "签批中，尚未生效",
    "rejected": "已退回，未生效",
    "voided": "已作废",
    "superseded": "已被新版本取代",
}
MAX_UPLOAD = 20 * 1024 * 1024


def mask_name(name: str) -> str:
    """张三 → 张*, 张小三 → 张*三, 欧阳小明 → 欧**明."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _state(doc: Document) -> str:
    return {
        DocStatus.SEALED: "valid",
        DocStatus.IN_PROGRESS: "pending",
        DocStatus.REJECTED: "rejected",
        DocStatus.VOIDED: "voided",
        DocStatus.SUPERSEDED: "superseded",
    }.get(doc.status, "pending")  # type: ignore[call-overload]


def public_view(rt: Runtime, code: str) -> dict[str, Any]:
    """What the public page shows for ``code`` (see the module docstring)."""
    code = (code or "").strip().upper()[:16]
    with rt.sessions() as session:
        doc = session.scalar(select(Document).where(Document.code == code))
        if doc is None:
            raise NotFoundError("二维码无效：没有找到对应的文书")
        replacement = None
        if doc.superseded_by:
            newer = session.get(Document, doc.superseded_by)
            if newer is not None:
                replacement = {"code": newer.code, "number": newer.number,
                               "version": newer.version}
        state = _state(doc)
        return {
            "code": doc.code,
            "form_id": doc.form_id,
            "form_title": load_form(doc.form_id).title,
            "number": doc.number,
            "version": doc.version,
            "school": rt.institution.name,
            "college": doc.college.name,
            "issued_on": doc.issued_on.isoformat(),
            "student_name": mask_name(doc.student_name),
            "state": state,
            "state_label": STATE_LABELS[state],
            "reason": doc.rejection_reason if state == "voided" else None,
            "replaced_by": replacement,
            "sha256": doc.current_sha256 if state in ("valid", "voided", "superseded") else None,
            "sealed_at": doc.sealed_at.isoformat() + "Z" if doc.sealed_at else None,
            "signers": [{"role": s.role, "role_label": ROLE_LABELS.get(s.role, s.role),
                         "label": s.label, "at": s.decided_at.isoformat() + "Z"}
                        for s in doc.steps if s.state == StepState.DONE and s.decided_at],
        }


@dataclass(frozen=True)
class UploadReport:
    """The answer to "is this PDF genuine?"."""

    verdict: str
    """``exact`` (byte-identical to the archived/current file), ``valid_copy`` (every
    signature holds and it is this document), ``invalid`` or ``unknown`` (not ours)."""
    message: str
    sha256: str
    document: dict[str, Any] | None = None
    signatures: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "message": self.message, "sha256": self.sha256,
                "document": self.document, "signatures": self.signatures,
                "failures": self.failures}


def verify_upload(rt: Runtime, pdf: bytes, code: str | None = None) -> UploadReport:
    """Check an uploaded PDF against the archive and the signatures it carries: the one
    upload check, behind the public page (``/v/<code>``) and the API (``/api/v1/verify``)."""
    sha = hashlib.sha256(pdf).hexdigest()
    expected = public_view(rt, code) if code else None
    with rt.sessions() as session:
        match = session.scalar(select(Document).where(Document.current_sha256 == sha))
        if match is not None and (expected is None or match.code == expected["code"]):
            view = public_view(rt, match.code)
            return UploadReport("exact", f"与系统存档文件完全一致（{view['state_label']}）",
                                sha, document=view)
    if not pdf.startswith(b"%PDF-"):
        return UploadReport("unknown", "上传的文件不是 PDF", sha, document=expected)
    report = verify_pdf(pdf, rt.trust_roots)
    signatures = [{"position": s.position, "role": s.role,
                   "role_label": ROLE_LABELS.get(s.role, s.role), "ok": s.ok,
                   "failures": [f"{c.name}: {c.detail}" for c in s.all_checks() if not c.ok]}
                  for s in report.signers]
    doc_view = None
    with rt.sessions() as session:
        doc = session.get(Document, report.document_id) if report.document_id else None
        if doc is not None:
            doc_view = public_view(rt, doc.code)
    if expected is not None and (doc_view is None or doc_view["code"] != expected["code"]):
        return UploadReport("invalid", "该文件不是此二维码对应的文书", sha, document=expected,
                            signatures=signatures, failures=list(report.failures))
    if doc_view is None:
        return UploadReport("unknown", "无法识别：该文件不是本校系统出具的文书，或签名数据已损坏",
                            sha, signatures=signatures, failures=list(report.failures))
    if report.ok:
        return UploadReport("valid_copy", f"签名完整有效，是该文书的有效副本（{doc_view['state_label']}）",
                            sha, document=doc_view, signatures=signatures)
    return UploadReport("invalid", "文件已被改动或签名无效，不能作为有效文书使用", sha,
                        document=doc_view, signatures=signatures, failures=list(report.failures))
