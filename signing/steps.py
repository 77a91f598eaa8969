"""One approval step end to end: decide in the chain, then sign the PDF with that record.

This is the use case the application calls for every decision: the domain
(:class:`~signing.chain.ApprovalChain`) checks order and makes the signed record over the
exact bytes the signer saw; the adapter (:mod:`signing.pdf_sign`) appends one revision with
the updated ``chain.json`` and the signer's PAdES signature; the step that ends the chain
seals the document (B-LTA).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from cryptography import x509
from pyhanko.sign.timestamps.api import TimeStamper

from .box import SignatureBox
from .chain import ApprovalChain, Transition
from .keystore import SignerIdentity
from .pdf_sign import seal_document, sign_step
from .records import ChainRecord, Decision, chain_document_bytes
from .roles import role_label

BEIJING = timezone(timedelta(hours=8), "UTC+8")

DECISION_LABELS = {
    Decision.APPROVE: "同意",
    Decision.REJECT: "驳回",
    Decision.ACKNOWLEDGE: "已阅知悉",
    Decision.SEAL: "批准盖章",
    Decision.VOID: "作废",
}


def stamp_lines(record: ChainRecord) -> list[str]:
    """What the visible stamp says: name and role, decision, Beijing time.

    Three short lines: pyHanko scales the stamp to its box, so fewer lines print larger.
    """
    at = datetime.strptime(record.at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return [
        f"{record.signer_name}（{role_label(record.role)}）",
        f"{DECISION_LABELS.get(record.decision, str(record.decision))}",
        f"{at.astimezone(BEIJING):%Y-%m-%d %H:%M}",
    ]


@dataclass(frozen=True)
class SignedStep:
    """A decision made and signed: the new PDF revision and what the decision changed."""

    pdf: bytes
    transition: Transition
    sealed: bool
    """The revision is the final seal (B-LTA)."""

    @property
    def record(self) -> ChainRecord:
        return self.transition.record


_PYHANKO = threading.Lock()
"""pyHanko's certificates and time stamper objects are asn1crypto values parsed lazily and
shared between calls; two threads parsing one at once can see it half-built ("No field
numbered 2", seen in the approval race test). Signing therefore runs one at a time per
process; the server runs a process per core, so this costs it no parallelism."""


def record_and_sign(
    pdf_bytes: bytes,
    chain: ApprovalChain,
    signer: SignerIdentity,
    decision: Decision | str,
    *,
    box: SignatureBox | None,
    font_path: str,
    seal_png: bytes | None = None,
    comment: str = "",
    at: datetime | None = None,
    timestamper: TimeStamper | None = None,
    trust_roots: Sequence[x509.Certificate] = (),
    seal_when_done: bool = True,
) -> SignedStep:
    """Record ``decision`` by ``signer`` and append its signed revision to ``pdf_bytes``.

    When the decision ends the chain (last step, or a rejection) and ``seal_when_done``, the
    revision is sealed: time stamp, validation data and document time stamp (needs
    ``timestamper`` and ``trust_roots``).
    """
    transition = chain.decide(
        signer, signer_id=signer.signer_id, role=signer.role, decision=Decision(decision),
        doc_sha256=hashlib.sha256(pdf_bytes).hexdigest(), at=at or datetime.now(UTC),
        comment=comment,
    )
    record = transition.record
    chain_json = chain_document_bytes(chain.document_id, chain.document_version, chain.records)
    field = f"Sig{record.position:02d}_{record.role}"
    lines = stamp_lines(record)
    reason = f"{role_label(record.role)}{DECISION_LABELS[record.decision]}"
    final = seal_when_done and transition.ended
    with _PYHANKO:
        if final and timestamper is not None:
            pdf = seal_document(pdf_bytes, signer, box, field, lines, seal_png, font_path,
                                timestamper, trust_roots, chain_json=chain_json, reason=reason)
        else:
            final = False
            pdf = sign_step(pdf_bytes, signer, box, field, lines, seal_png, font_path,
                            timestamper, chain_json=chain_json, reason=reason)
    return SignedStep(pdf=pdf, transition=transition, sealed=final)
