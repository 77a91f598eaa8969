"""The approval chain: ordered steps, enforced order, and verification of the record chain.

Pure domain code (standard library and ``cryptography`` only). :class:`ApprovalChain` is the
one state machine of a document's chain: it decides whether a decision may be made, whose turn
comes next and when the chain ends, and answers each decision with a :class:`Transition` (the
signed :class:`~signing.records.ChainRecord`, the new state, the next step) that storage only
records. :func:`verify_chain` re-checks a list of records and says, per record, what held and
what not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from .errors import ChainClosedError, ChainOrderError, DuplicateDecisionError, RecordError
from .records import (
    GENESIS_HASH,
    ChainRecord,
    Decision,
    parse_timestamp,
    sign_record,
    utc_timestamp,
    verify_record_signature,
)


class ChainState(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    REJECTED = "rejected"
    COMPLETED = "completed"
    VOIDED = "voided"


TERMINAL_STATES = frozenset({ChainState.REJECTED, ChainState.COMPLETED, ChainState.VOIDED})


@dataclass(frozen=True)
class ChainStep:
    """One step of a chain: a role bound to a person, and the decision that step makes."""

    role: str
    signer_id: str
    signer_name: str
    decision_kind: Decision = Decision.APPROVE
    """The positive decision of this step (approve, acknowledge or seal); reject is always open."""


@dataclass(frozen=True)
class Transition:
    """What one decision did to the chain; storage projects its rows from this alone."""

    record: ChainRecord
    """The signed record of the decision (its ``position`` is the step that decided)."""
    state: ChainState
    """The chain's state after the decision."""
    next_step: ChainStep | None
    """The step whose turn it is now, or ``None`` once the chain has ended."""

    @property
    def ended(self) -> bool:
        """The decision closed the chain (completed, rejected or voided)."""
        return self.state in TERMINAL_STATES

    @property
    def next_position(self) -> int | None:
        """The position of :attr:`next_step` in the chain, or ``None`` once it has ended."""
        return None if self.next_step is None else self.record.position + 1


class RecordSigner(Protocol):
    """What :meth:`ApprovalChain.decide` needs from a signer: a certificate and a key."""

    @property
    def cert(self) -> x509.Certificate: ...

    @property
    def key(self) -> Any: ...


def cert_fingerprint(cert: x509.Certificate) -> str:
    """Hex SHA-256 of the certificate's DER."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


class ApprovalChain:
    """The chain of one document version: steps in order, and the records made so far."""

    def __init__(
        self,
        document_id: str,
        document_version: int,
        steps: Sequence[ChainStep],
        records: Iterable[ChainRecord] = (),
    ) -> None:
        if not steps:
            raise ChainOrderError("a chain needs at least one step")
        self.document_id = document_id
        self.document_version = document_version
        self.steps: tuple[ChainStep, ...] = tuple(steps)
        self._records: list[ChainRecord] = []
        for r in records:  # replay through the same rules, so a stored chain is re-validated
            self._append(r)

    @property
    def records(self) -> tuple[ChainRecord, ...]:
        return tuple(self._records)

    @property
    def state(self) -> ChainState:
        if not self._records:
            return ChainState.PENDING
        last = self._records[-1].decision
        if last is Decision.REJECT:
            return ChainState.REJECTED
        if last is Decision.VOID:
            return ChainState.VOIDED
        if len(self._records) == len(self.steps):
            return ChainState.COMPLETED
        return ChainState.IN_PROGRESS

    @property
    def rejection_reason(self) -> str | None:
        if self.state is ChainState.REJECTED:
            return self._records[-1].comment
        return None

    @property
    def next_step(self) -> ChainStep | None:
        if self.state in TERMINAL_STATES:
            return None
        return self.steps[len(self._records)]

    @property
    def last_hash(self) -> str:
        return self._records[-1].record_hash if self._records else GENESIS_HASH

    def _check_allowed(self, signer_id: str, role: str, decision: Decision) -> ChainStep:
        state = self.state
        if state in TERMINAL_STATES:
            raise ChainClosedError(f"the chain is {state}; no more decisions")
        step = self.steps[len(self._records)]
        if any(r.signer_id == signer_id and r.role == role for r in self._records):
            raise DuplicateDecisionError(f"{signer_id} already decided as {role}")
        if step.role != role or step.signer_id != signer_id:
            raise ChainOrderError(
                f"next step is {step.role} ({step.signer_id}), not {role} ({signer_id})"
            )
        if decision not in (step.decision_kind, Decision.REJECT):
            raise ChainOrderError(f"step {step.role} may {step.decision_kind} or reject")
        return step

    def _append(self, record: ChainRecord) -> None:
        if record.position != len(self._records):
            raise ChainOrderError(f"record position {record.position} out of order")
        if record.prev_hash != self.last_hash:
            raise ChainOrderError("record does not link to the previous record")
        if (record.document_id, record.document_version) != (
            self.document_id,
            self.document_version,
        ):
            raise ChainOrderError("record belongs to another document")
        if record.decision is Decision.VOID:
            # a completed document may still be voided by the office, once
            if self.state in (ChainState.REJECTED, ChainState.VOIDED):
                raise ChainClosedError(f"the chain is {self.state}; cannot void")
        else:
            self._check_allowed(record.signer_id, record.role, record.decision)
        self._records.append(record)

    def decide(
        self,
        signer: RecordSigner,
        *,
        signer_id: str,
        role: str,
        decision: Decision,
        doc_sha256: str,
        at: datetime,
        comment: str = "",
    ) -> Transition:
        """Record a decision by the next step's signer; returns what it changed.

        Raises :class:`ChainOrderError` for the wrong person, role or decision,
        :class:`DuplicateDecisionError` for a second decision, :class:`ChainClosedError` after
        a rejection or once complete. A rejection must carry its reason in ``comment``.
        """
        decision = Decision(decision)
        if decision is Decision.VOID:
            raise ChainOrderError("use void() to void a document")
        step = self._check_allowed(signer_id, role, decision)
        if decision is Decision.REJECT and not comment.strip():
            raise ChainOrderError("a rejection needs a reason")
        return self._make(signer, step.role, signer_id, step.signer_name, decision, doc_sha256,
                          at, comment)

    def void(
        self,
        signer: RecordSigner,
        *,
        signer_id: str,
        signer_name: str,
        role: str,
        doc_sha256: str,
        at: datetime,
        reason: str,
    ) -> Transition:
        """Void the document (e.g. the registrar withdraws a certificate); ends the chain."""
        if self.state in (ChainState.REJECTED, ChainState.VOIDED):
            raise ChainClosedError(f"the chain is {self.state}; cannot void")
        if not reason.strip():
            raise ChainOrderError("voiding needs a reason")
        return self._make(signer, role, signer_id, signer_name, Decision.VOID, doc_sha256, at,
                          reason)

    def _make(
        self,
        signer: RecordSigner,
        role: str,
        signer_id: str,
        signer_name: str,
        decision: Decision,
        doc_sha256: str,
        at: datetime,
        comment: str,
    ) -> Transition:
        record = ChainRecord(
            position=len(self._records),
            document_id=self.document_id,
            document_version=self.document_version,
            role=role,
            signer_id=signer_id,
            signer_name=signer_name,
            decision=decision,
            comment=comment,
            at=utc_timestamp(at),
            doc_sha256=doc_sha256,
            prev_hash=self.last_hash,
            cert_fingerprint=cert_fingerprint(signer.cert),
        )
        record = sign_record(record, signer.key)
        self._append(record)
        return Transition(record=record, state=self.state, next_step=self.next_step)


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class Check:
    """One named check and its outcome; ``detail`` says what failed (or what was seen)."""

    name: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class RecordReport:
    position: int
    role: str
    signer_id: str
    signer_name: str
    decision: str
    at: str
    record_hash: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "role": self.role,
            "signer_id": self.signer_id,
            "signer_name": self.signer_name,
            "decision": self.decision,
            "at": self.at,
            "record_hash": self.record_hash,
            "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class ChainVerificationReport:
    records: tuple[RecordReport, ...]
    chain_checks: tuple[Check, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.records) and all(c.ok for c in self.chain_checks)

    @property
    def failures(self) -> list[str]:
        out = [f"chain: {c.name}: {c.detail}" for c in self.chain_checks if not c.ok]
        for r in self.records:
            out += [f"record {r.position} ({r.role}): {c.name}: {c.detail}" for c in r.failures]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "chain_checks": [c.to_dict() for c in self.chain_checks],
            "records": [r.to_dict() for r in self.records],
        }


CertLookup = Callable[[str], "x509.Certificate | None"]
"""Maps a certificate fingerprint (hex SHA-256 of DER) to the certificate, or ``None``."""


def _cert_attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(oid)
    return str(attrs[0].value) if attrs else None


def _issued_by(cert: x509.Certificate, roots: Sequence[x509.Certificate]) -> bool:
    for root in roots:
        try:
            cert.verify_directly_issued_by(root)
            return True
        except (InvalidSignature, ValueError, TypeError):
            continue
    return False


def verify_chain(
    records: Sequence[ChainRecord],
    cert_lookup: CertLookup,
    *,
    document_id: str | None = None,
    document_version: int | None = None,
    trust_roots: Sequence[x509.Certificate] = (),
    steps: Sequence[ChainStep] | None = None,
) -> ChainVerificationReport:
    """Check every record's position, link, document, certificate and signature.

    ``trust_roots`` empty skips the issuer check (reported as failed, so pass the root);
    ``steps`` given also checks roles and signers against the expected chain.
    """
    if document_id is None and records:
        document_id = records[0].document_id
    if document_version is None and records:
        document_version = records[0].document_version
    reports: list[RecordReport] = []
    prev: ChainRecord | None = None
    ended = False
    for index, rec in enumerate(records):
        checks = _link_checks(rec, index, prev, document_id, document_version, ended)
        time_check, at = _time_check(rec, prev)
        checks.append(time_check)
        if steps is not None:
            checks.append(_step_check(rec, index, steps))
        checks += _certificate_checks(rec, cert_lookup(rec.cert_fingerprint), at, trust_roots)
        reports.append(RecordReport(
            position=rec.position, role=rec.role, signer_id=rec.signer_id,
            signer_name=rec.signer_name, decision=str(rec.decision), at=rec.at,
            record_hash=rec.record_hash, checks=tuple(checks)))
        prev = rec
        ended = ended or rec.decision in (Decision.REJECT, Decision.VOID)
    chain_checks = [Check("not_empty", bool(records), "" if records else "no records")]
    return ChainVerificationReport(records=tuple(reports), chain_checks=tuple(chain_checks))


def _link_checks(rec: ChainRecord, index: int, prev: ChainRecord | None,
                 document_id: str | None, document_version: int | None,
                 ended: bool) -> list[Check]:
    """The record's place in the chain: position, hash link, document, not after the end."""
    prev_hash = prev.record_hash if prev is not None else GENESIS_HASH
    same_doc = rec.document_id == document_id and rec.document_version == document_version
    return [
        Check("position", rec.position == index,
              f"expected {index}, found {rec.position}" if rec.position != index else ""),
        Check("link", rec.prev_hash == prev_hash,
              "" if rec.prev_hash == prev_hash
              else "prev_hash does not match the previous record's hash"),
        Check("document", same_doc,
              "" if same_doc else f"record is for {rec.document_id} v{rec.document_version}, "
                                  f"expected {document_id} v{document_version}"),
        Check("not_after_end", not ended, "record follows a rejection or void" if ended else ""),
    ]


def _time_check(rec: ChainRecord, prev: ChainRecord | None) -> tuple[Check, datetime | None]:
    """The record's time is readable and not before the previous record's; and that time."""
    try:
        at = parse_timestamp(rec.at)
    except RecordError as e:
        return Check("time_order", False, str(e)), None
    time_ok = prev is None or rec.at >= prev.at
    return Check("time_order", time_ok, "" if time_ok else
                 f"{rec.at} is before the previous record"), at


def _step_check(rec: ChainRecord, index: int, steps: Sequence[ChainStep]) -> Check:
    """The record was made by the expected step's role and signer (a void may follow)."""
    if index >= len(steps):
        good = rec.decision is Decision.VOID
        return Check("expected_step", good, "" if good else "more records than steps")
    st = steps[index]
    good = (st.role, st.signer_id) == (rec.role, rec.signer_id) and rec.decision in (
        st.decision_kind, Decision.REJECT, Decision.VOID)
    return Check("expected_step", good, "" if good else
                 f"expected {st.role}/{st.signer_id} to {st.decision_kind}")


def _certificate_checks(rec: ChainRecord, cert: x509.Certificate | None, at: datetime | None,
                        trust_roots: Sequence[x509.Certificate]) -> list[Check]:
    """The record's certificate: found, issued by the root, valid then, the signer's own,
    and its key made the record's signature."""
    if cert is None:
        return [Check("certificate", False, "certificate not found for fingerprint")]
    fp_ok = cert_fingerprint(cert) == rec.cert_fingerprint
    checks = [Check("certificate", fp_ok, "" if fp_ok else "fingerprint mismatch")]
    issued = _issued_by(cert, trust_roots)
    checks.append(Check("issued_by_root", issued,
                        "" if issued else "certificate not issued by the institution root"))
    if at is not None:
        valid = cert.not_valid_before_utc <= at <= cert.not_valid_after_utc
        checks.append(Check("cert_valid_at_time", valid,
                            "" if valid else "record time outside certificate validity"))
    uid = _cert_attr(cert, NameOID.USER_ID)
    role = _cert_attr(cert, NameOID.TITLE)
    ident_ok = uid in (None, rec.signer_id) and role in (None, rec.role)
    checks.append(Check("signer_matches_certificate", ident_ok, "" if ident_ok else
                        f"certificate is for {uid}/{role}"))
    sig_ok = verify_record_signature(rec, cert.public_key())
    checks.append(Check("signature", sig_ok, "" if sig_ok else
                        "signature does not verify over the record"))
    return checks
