"""What anyone holding a printed copy may learn, and checking an uploaded PDF.

The public view never holds an ID number, 考生号, address, phone or the PDF
itself: the form, 文号, school and college, issue date, the masked name, each
signer's role and time, the file's SHA-256, and whether it is valid, pending,
voided or superseded (and by what).

An uploaded PDF always gets a verdict, whatever the file holds (the verifier never raises):
its reasons are plain Chinese (:data:`CHECK_REASONS`, never the verifier's English detail)
and name signers by position and role, never by name.
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
from signing.verify import VerificationReport, verify_pdf

STATE_LABELS = {
    "valid": "有效",
    "pending": "签批中，尚未生效",
    "rejected": "已退回，未生效",
    "voided": "已作废",
    "superseded": "已被新版本取代",
}
MAX_UPLOAD = 20 * 1024 * 1024

CHECK_REASONS = {
    # the document as a whole
    "readable": "无法解析的 PDF：文件已损坏或结构异常",
    "signed": "文件中没有电子签名",
    "nothing_after_last_signature": "最后一个签名或盖章之后，文件又被追加了内容",
    "sealed_b_lta": "文件没有完成盖章（缺少文档时间戳和长期验证数据）",
    "chain_embedded": "文件中的签批记录缺失或无法读取",
    "document_id": "签批记录属于另一份文书",
    "chain_matches_database": "文件中的签批记录与系统存档不一致",
    "chain_covered_by_signature": "签批记录在最后一个签名之后被替换",
    "one_signature_per_record": "签批记录与电子签名的数目不一致",
    # one PDF signature
    "validation": "签名数据已损坏，无法校验",
    "intact": "签名后文件内容被改动",
    "signature_valid": "签名数值校验不通过",
    "trusted": "签名证书不是本校根证书签发的",
    "modifications": "签名之后文件被改动（超出允许的追加签名范围）",
    "signature_timestamp": "签名时间戳无效或不可信",
    # one chain record, and record and signature together
    "position": "签批记录的顺序被改动",
    "link": "签批记录的前后链接被破坏",
    "document": "签批记录属于另一份文书",
    "not_after_end": "退回或作废之后又出现签批记录",
    "time_order": "签批时间顺序异常",
    "expected_step": "签批记录与该文书的签批流程不符",
    "certificate": "找不到签批记录所用的证书",
    "issued_by_root": "签批证书不是本校根证书签发的",
    "cert_valid_at_time": "签批时证书不在有效期内",
    "signer_matches_certificate": "签批人与证书不符",
    "signature": "签批记录的签名校验不通过",
    "record_matches_pdf_signer": "签批记录与 PDF 签名不是同一密钥所签",
    "doc_sha256_matches_revision": "签批记录所指的文件版本与实际不符",
    "signature_covers_chain_so_far": "签名未覆盖此前的签批记录",
    "record_present": "有 PDF 签名但没有对应的签批记录",
    "pdf_signature_present": "有签批记录但没有对应的 PDF 签名",
}
"""Plain Chinese for each check of :mod:`signing.verify` (by name, without its ``record.`` or
``pdf.`` prefix): what the public page says instead of the verifier's English detail."""


def check_reason(name: str) -> str:
    """The Chinese reason a failed check ``name`` (e.g. ``pdf.intact``) gives the public."""
    return CHECK_REASONS.get(name.rpartition(".")[2], "签名校验未通过")


def _reasons(names: list[str]) -> list[str]:
    """Each distinct reason once, in the order the checks failed."""
    return list(dict.fromkeys(check_reason(n) for n in names))


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
                   "role_label": ROLE_LABELS.get(s.role, "签批人"), "ok": s.ok,
                   "failures": _reasons([c.name for c in s.all_checks() if not c.ok])}
                  for s in report.signers]
    failures = _public_failures(report)
    if any(c.name == "readable" and not c.ok for c in report.document_checks):
        return UploadReport("invalid" if expected else "unknown",
                            f"{CHECK_REASONS['readable']}，不能作为有效文书使用", sha,
                            document=expected, failures=failures)
    doc_view = None
    with rt.sessions() as session:
        doc = session.get(Document, report.document_id) if report.document_id else None
        if doc is not None:
            doc_view = public_view(rt, doc.code)
    if expected is not None and (doc_view is None or doc_view["code"] != expected["code"]):
        return UploadReport("invalid", "该文件不是此二维码对应的文书", sha, document=expected,
                            signatures=signatures, failures=failures)
    if doc_view is None:
        return UploadReport("unknown", "无法识别：该文件不是本校系统出具的文书，或签名数据已损坏",
                            sha, signatures=signatures, failures=failures)
    if report.ok:
        return UploadReport("valid_copy", f"签名完整有效，是该文书的有效副本（{doc_view['state_label']}）",
                            sha, document=doc_view, signatures=signatures)
    return UploadReport("invalid", "文件已被改动或签名无效，不能作为有效文书使用", sha,
                        document=doc_view, signatures=signatures, failures=failures)


def _public_failures(report: VerificationReport) -> list[str]:
    """What failed, in plain Chinese and naming no signer: the document's checks, then each
    signer by position and role, then signatures (the seal) no signer accounts for."""
    out = _reasons([c.name for c in report.document_checks if not c.ok])
    for s in report.signers:
        role = ROLE_LABELS.get(s.role, "签批人")
        out += [f"第 {s.position + 1} 位签批人（{role}）：{r}"
                for r in _reasons([c.name for c in s.all_checks() if not c.ok])]
    signed = {s.signature.field_name for s in report.signers if s.signature is not None}
    for sig in report.signatures:
        if sig.kind == "document_timestamp" or sig.field_name not in signed:
            what = "盖章时间戳" if sig.kind == "document_timestamp" else "未登记的签名"
            out += [f"{what}：{r}" for r in _reasons([c.name for c in sig.checks if not c.ok])]
    return out
