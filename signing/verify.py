"""Verify a signed document end to end and say, per signer, what held and what did not.

Checks every PDF signature with pyHanko (cryptographic integrity, trust rooted in the
institution CA, signature time stamp, difference analysis with :data:`CHAIN_DIFF_POLICY`),
the document time stamp of the seal, that nothing was appended after the last signature or
time stamp (pdfsig does not notice that), and the embedded ``chain.json``: each record's
signature and hash link, that the chain covered by each signature is the chain so far, that
record *k* was made by the certificate of PDF signature *k*, and that its ``doc_sha256`` is the
hash of the exact bytes before that signer's revision. Works offline: no fetching, the root is
given, the rest is inside the file.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from .attachment import CHAIN_DIFF_POLICY, read_chain
from .chain import ChainVerificationReport, Check, RecordReport, cert_fingerprint, verify_chain
from .errors import RecordError
from .pdf_sign import trust_context
from .records import ChainRecord, parse_chain_document

_EOF = re.compile(rb"%%EOF[ \t\f\0]*(\r\n|\r|\n)?")
ALLOWED_MODIFICATIONS = ModificationLevel.FORM_FILLING
"""After a signature, later revisions may add signatures, chain.json and validation data."""
ALLOWED_AFTER_LAST = ModificationLevel.LTA_UPDATES
"""After the last signature or the seal's time stamp, only validation data (DSS) may follow."""


@dataclass(frozen=True)
class SignatureReport:
    """One PDF signature (or document time stamp) and its checks."""

    field_name: str
    kind: str
    """``signature`` or ``document_timestamp``."""
    signer: str
    cert_fingerprint: str
    signed_revision: int
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"field_name": self.field_name, "kind": self.kind, "signer": self.signer,
                "cert_fingerprint": self.cert_fingerprint,
                "signed_revision": self.signed_revision, "ok": self.ok,
                "checks": [c.to_dict() for c in self.checks]}


@dataclass(frozen=True)
class SignerReport:
    """A chain record and the PDF signature made with it, checked together."""

    position: int
    role: str
    signer_name: str
    decision: str
    at: str
    record: RecordReport | None
    signature: SignatureReport | None
    checks: tuple[Check, ...]
    """Cross-checks between record and PDF (same certificate, doc_sha256, chain so far)."""

    @property
    def ok(self) -> bool:
        return (self.record is not None and self.record.ok and self.signature is not None
                and self.signature.ok and all(c.ok for c in self.checks))

    def all_checks(self) -> list[Check]:
        out = list(self.checks)
        if self.record is not None:
            out += [Check(f"record.{c.name}", c.ok, c.detail) for c in self.record.checks]
        if self.signature is not None:
            out += [Check(f"pdf.{c.name}", c.ok, c.detail) for c in self.signature.checks]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "role": self.role, "signer_name": self.signer_name,
                "decision": self.decision, "at": self.at, "ok": self.ok,
                "checks": [c.to_dict() for c in self.all_checks()]}


@dataclass(frozen=True)
class VerificationReport:
    document_id: str | None
    document_version: int | None
    signers: tuple[SignerReport, ...]
    signatures: tuple[SignatureReport, ...]
    document_checks: tuple[Check, ...]
    chain: ChainVerificationReport | None = field(default=None)

    @property
    def ok(self) -> bool:
        return (bool(self.signers) and all(s.ok for s in self.signers)
                and all(s.ok for s in self.signatures)
                and all(c.ok for c in self.document_checks)
                and (self.chain is None or self.chain.ok))

    @property
    def failures(self) -> list[str]:
        out = [f"document: {c.name}: {c.detail}" for c in self.document_checks if not c.ok]
        for s in self.signers:
            out += [f"#{s.position} {s.role} {s.signer_name}: {c.name}: {c.detail}"
                    for c in s.all_checks() if not c.ok]
        for sig in self.signatures:
            if sig.kind == "document_timestamp" or sig.field_name not in {
                    s.signature.field_name for s in self.signers if s.signature}:
                out += [f"{sig.field_name}: {c.name}: {c.detail}" for c in sig.checks if not c.ok]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "document_id": self.document_id,
            "document_version": self.document_version,
            "document_checks": [c.to_dict() for c in self.document_checks],
            "signers": [s.to_dict() for s in self.signers],
            "signatures": [s.to_dict() for s in self.signatures],
            "failures": self.failures,
        }


def _fail(name: str, detail: str) -> Check:
    return Check(name, False, detail)


def _cert_of(sig: EmbeddedPdfSignature) -> tuple[str, str, x509.Certificate | None]:
    try:
        c: asn1_x509.Certificate = sig.signer_cert
        cert = x509.load_der_x509_certificate(c.dump())
        return c.subject.human_friendly, cert_fingerprint(cert), cert
    except Exception as e:  # noqa: BLE001 - a mangled CMS blob can fail in many ways
        return f"(unreadable: {e})", "", None


def _revision_end(pdf: bytes, reader: PdfFileReader, revision: int) -> int | None:
    """Offset just past ``%%EOF`` (and its EOL) of ``revision``."""
    try:
        info = reader.xrefs.get_xref_container_info(revision)
    except (IndexError, KeyError):
        return None
    m = _EOF.search(pdf, info.end_location)
    return m.end() if m else None


def _check_signature(sig: EmbeddedPdfSignature, vc: ValidationContext,
                     allowed: ModificationLevel) -> list[Check]:
    checks: list[Check] = []
    is_ts = sig.sig_object_type == "/DocTimeStamp"
    try:
        if is_ts:
            status: Any = validate_pdf_timestamp(sig, vc, diff_policy=CHAIN_DIFF_POLICY)
        else:
            status = validate_pdf_signature(sig, vc, diff_policy=CHAIN_DIFF_POLICY)
    except (PdfError, PyHankoSigningError, ValueError, KeyError, TypeError) as e:
        return [_fail("validation", f"pyHanko could not validate: {e}")]
    except Exception as e:  # noqa: BLE001 - a mangled CMS blob fails in pyHanko in many ways
        # (AttributeError on an unknown digest OID, RecursionError on deep nesting, ...):
        # whatever the reason, this signature is not valid; it is a finding, not a crash.
        return [_fail("validation", f"pyHanko could not validate: {type(e).__name__}: {e}")]
    checks.append(Check("intact", bool(status.intact),
                        "" if status.intact else "signed bytes were changed (digest mismatch)"))
    checks.append(Check("signature_valid", bool(status.valid),
                        "" if status.valid else "cryptographic signature does not verify"))
    checks.append(Check("trusted", bool(status.trusted), "" if status.trusted else
                        "certificate does not chain to the institution root"))
    level = status.modification_level
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        diff_ok, detail = True, ""
    elif level is None:
        diff_ok, detail = False, "later revisions could not be analysed"
    else:
        diff_ok = level.value <= allowed.value
        detail = "" if diff_ok else (
            f"later revisions change the document ({level.name}); only "
            f"{allowed.name} may follow this {'seal' if is_ts else 'signature'}")
    checks.append(Check("modifications", diff_ok, detail))
    if not is_ts:
        ts = status.timestamp_validity
        if ts is not None:
            ts_ok = bool(ts.valid and ts.intact and ts.trusted)
            checks.append(Check("signature_timestamp", ts_ok, "" if ts_ok else
                                "signature time stamp invalid or untrusted"))
    return checks


def verify_pdf(
    pdf_bytes: bytes,
    trust_roots: Sequence[x509.Certificate],
    *,
    expected_document_id: str | None = None,
    expected_records: Sequence[ChainRecord] | None = None,
    require_seal: bool = True,
    extra_certs: Sequence[x509.Certificate] = (),
    validation_context: ValidationContext | None = None,
) -> VerificationReport:
    """Verify everything that can be verified about a signed document; never raises for a
    bad document (the report says what is wrong)."""
    try:
        return _verify_pdf(pdf_bytes, trust_roots, expected_document_id=expected_document_id,
                           expected_records=expected_records, require_seal=require_seal,
                           extra_certs=extra_certs, validation_context=validation_context)
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as e:
        # A damaged object read lazily half-way through (e.g. a flipped byte in a
        # dictionary): the file is not the signed document any more.
        return _unreadable(f"document structure damaged: {type(e).__name__}: {e}")
    except RecursionError:
        # reference loops and deeply nested arrays or dictionaries (the reader recurses)
        return _unreadable("document structure damaged: nesting too deep or a reference loop")
    except Exception as e:  # noqa: BLE001 - the contract is "never raises for a bad document"
        return _unreadable(f"document structure damaged: {type(e).__name__}: {e}")


def _unreadable(detail: str) -> VerificationReport:
    """The report on a file that cannot be read as a PDF (the one failed check says why)."""
    return VerificationReport(None, None, (), (), (_fail("readable", detail),))


_Signed = tuple[EmbeddedPdfSignature, SignatureReport, x509.Certificate | None]
"""A regular (non time stamp) PDF signature, its report and its certificate."""


def _verify_pdf(
    pdf_bytes: bytes,
    trust_roots: Sequence[x509.Certificate],
    *,
    expected_document_id: str | None,
    expected_records: Sequence[ChainRecord] | None,
    require_seal: bool,
    extra_certs: Sequence[x509.Certificate],
    validation_context: ValidationContext | None,
) -> VerificationReport:
    try:
        reader = PdfFileReader(io.BytesIO(pdf_bytes), strict=False)
        sigs = sorted(reader.embedded_signatures, key=lambda s: s.signed_revision)
    except (PdfError, ValueError, KeyError, TypeError) as e:
        return _unreadable(f"not a PDF: {e}")
    sig_reports, regular = _signature_reports(
        sigs, validation_context or trust_context(trust_roots))
    doc_checks = _seal_checks(reader, sigs, sig_reports, require_seal)

    raw = read_chain(reader.root)
    doc_id, doc_version, records, embedded = _embedded_chain(raw)
    doc_checks.append(embedded)
    if expected_document_id is not None:
        same = doc_id == expected_document_id
        doc_checks.append(Check("document_id", same, "" if same else
                                f"chain is for {doc_id}, expected {expected_document_id}"))
    if expected_records is not None:
        same = [r.canonical_bytes() for r in records] == [
            r.canonical_bytes() for r in expected_records]
        doc_checks.append(Check("chain_matches_database", same, "" if same else
                                "embedded chain differs from the stored chain"))
    if regular:
        covered = read_chain(reader.get_historical_root(regular[-1][0].signed_revision))
        same = covered == raw
        doc_checks.append(Check("chain_covered_by_signature", same, "" if same else
                                "chain.json was replaced after the last signature"))
    count_ok = len(records) == len(regular)
    doc_checks.append(Check("one_signature_per_record", count_ok, "" if count_ok else
                            f"{len(records)} records but {len(regular)} signatures"))

    certs = {cert_fingerprint(c): c for c in extra_certs}
    certs.update({cert_fingerprint(c): c for _, _, c in regular if c is not None})
    chain_report = verify_chain(records, certs.get, document_id=doc_id,
                                document_version=doc_version, trust_roots=trust_roots)
    signers = [_signer_report(k, records, regular, chain_report, pdf_bytes, reader)
               for k in range(max(len(records), len(regular)))]
    return VerificationReport(doc_id, doc_version, tuple(signers), tuple(sig_reports),
                              tuple(doc_checks), chain_report)


def _signature_reports(sigs: Sequence[EmbeddedPdfSignature], vc: ValidationContext
                       ) -> tuple[list[SignatureReport], list[_Signed]]:
    """Every PDF signature and document time stamp checked; and the regular signatures."""
    reports: list[SignatureReport] = []
    regular: list[_Signed] = []
    for i, sig in enumerate(sigs):
        name, fp, cert = _cert_of(sig)
        kind = "document_timestamp" if sig.sig_object_type == "/DocTimeStamp" else "signature"
        allowed = ALLOWED_AFTER_LAST if i == len(sigs) - 1 else ALLOWED_MODIFICATIONS
        rep = SignatureReport(str(sig.field_name), kind, name, fp, sig.signed_revision,
                              tuple(_check_signature(sig, vc, allowed)))
        reports.append(rep)
        if kind == "signature":
            regular.append((sig, rep, cert))
    return reports, regular


def _seal_checks(reader: PdfFileReader, sigs: Sequence[EmbeddedPdfSignature],
                 reports: Sequence[SignatureReport], require_seal: bool) -> list[Check]:
    """Signed at all, nothing appended after the last signature, sealed (B-LTA)."""
    checks: list[Check] = []
    if not sigs:
        checks.append(_fail("signed", "the document carries no signature"))
    else:
        # the last signature's difference analysis (limited to LTA_UPDATES) judges what was
        # appended after it; this check names the failure for the reader
        last_ok = all(c.ok for c in reports[-1].checks if c.name == "modifications")
        checks.append(Check("nothing_after_last_signature", last_ok, "" if last_ok else
                            "content was appended after the last signature/seal"))
    if require_seal:
        sealed = bool(sigs) and sigs[-1].sig_object_type == "/DocTimeStamp" and \
            "/DSS" in reader.root
        checks.append(Check("sealed_b_lta", sealed, "" if sealed else
                            "no document time stamp with validation data (PAdES B-LTA)"))
    return checks


def _embedded_chain(raw: bytes | None
                    ) -> tuple[str | None, int | None, list[ChainRecord], Check]:
    """The document id, version and records of the embedded ``chain.json``, and whether it
    was there and readable."""
    if raw is None:
        return None, None, [], _fail("chain_embedded", "no chain.json in the document")
    try:
        doc_id, doc_version, records = parse_chain_document(raw)
    except RecordError as e:
        return None, None, [], _fail("chain_embedded", str(e))
    return doc_id, doc_version, records, Check("chain_embedded", True)


def _signer_report(k: int, records: Sequence[ChainRecord], regular: Sequence[_Signed],
                   chain_report: ChainVerificationReport, pdf_bytes: bytes,
                   reader: PdfFileReader) -> SignerReport:
    """Chain record ``k`` and PDF signature ``k``, each with its own report, checked together."""
    rec = records[k] if k < len(records) else None
    rrep = chain_report.records[k] if k < len(chain_report.records) else None
    sig, srep, _ = regular[k] if k < len(regular) else (None, None, None)
    if rec is not None and sig is not None and srep is not None:
        cross = _cross_checks(k, rec, records, sig, srep, pdf_bytes, reader)
    elif rec is None:
        cross = [_fail("record_present", "PDF signature without a chain record")]
    else:
        cross = [_fail("pdf_signature_present", "chain record without a PDF signature")]
    return SignerReport(
        position=k,
        role=rec.role if rec else "?",
        signer_name=rec.signer_name if rec else (srep.signer if srep else "?"),
        decision=str(rec.decision) if rec else "?",
        at=rec.at if rec else "",
        record=rrep, signature=srep, checks=tuple(cross))


def _cross_checks(k: int, rec: ChainRecord, records: Sequence[ChainRecord],
                  sig: EmbeddedPdfSignature, srep: SignatureReport, pdf_bytes: bytes,
                  reader: PdfFileReader) -> list[Check]:
    """Record ``k`` was made by the key of PDF signature ``k``, over the revision its signer
    saw, and that signature covers the chain up to record ``k``."""
    same_cert = srep.cert_fingerprint == rec.cert_fingerprint
    checks = [Check("record_matches_pdf_signer", same_cert, "" if same_cert else
                    f"record #{k} was not made by the key of PDF signature {srep.field_name}")]
    before = _revision_end(pdf_bytes, reader, sig.signed_revision - 1)
    shown = before is not None and \
        hashlib.sha256(pdf_bytes[:before]).hexdigest() == rec.doc_sha256
    checks.append(Check("doc_sha256_matches_revision", shown, "" if shown else
                        "doc_sha256 is not the hash of the revision the signer saw"))
    try:
        at_rev = read_chain(reader.get_historical_root(sig.signed_revision))
        _, _, so_far = parse_chain_document(at_rev or b"")
        prefix = [r.canonical_bytes() for r in so_far] == [
            r.canonical_bytes() for r in records[: k + 1]]
        detail = "" if prefix else "the chain this signature covers is not the chain " \
                                  "up to this record"
    except RecordError as e:
        prefix, detail = False, f"no readable chain in revision: {e}"
    checks.append(Check("signature_covers_chain_so_far", prefix, detail))
    return checks
