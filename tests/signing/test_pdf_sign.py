"""Signed PDFs checked with outside tools: pdfsig/NSS, pdffonts, pyHanko's validator."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature

from signing.attachment import CHAIN_DIFF_POLICY, read_chain
from signing.chain import ApprovalChain, ChainStep
from signing.pdf_sign import trust_context
from signing.records import parse_chain_document
from signing.steps import record_and_sign

from .conftest import CHECKLIST, box_for, run_chain


def test_each_step_appends_and_keeps_earlier_revisions_byte_for_byte(
        form_pdf, keystore, stamp_font, timestamper):
    chain = ApprovalChain("DOC-INC", 1, [
        ChainStep(p.role, p.signer_id, p.name, p.decision) for p in CHECKLIST])
    pdf = form_pdf
    for i, p in enumerate(CHECKLIST[:3]):
        ident = keystore.signer_identity(p.signer_id, p.name, p.role, p.college)
        step = record_and_sign(pdf, chain, ident, p.decision, box=box_for(i),
                               font_path=stamp_font, timestamper=timestamper)
        assert step.pdf.startswith(pdf)
        assert step.record.doc_sha256 == hashlib.sha256(pdf).hexdigest()
        assert PdfFileReader(io.BytesIO(step.pdf)).xrefs.total_revisions == i + 2
        pdf = step.pdf


def test_pdfsig_reports_every_signature_valid_and_trusted(sealed_pdf, nss_db, tmp_pdf):
    out = subprocess.run(["pdfsig", "-nssdir", nss_db, str(tmp_pdf(sealed_pdf))],
                         capture_output=True, text=True).stdout
    blocks = re.split(r"Signature #\d+:", out)[1:]
    regular = [b for b in blocks if "ETSI.CAdES.detached" in b]
    assert len(regular) == len(CHECKLIST)
    for b in regular:
        assert "Signature is Valid." in b, b
        assert "Certificate is Trusted." in b, b
    # the fifth is the B-LTA document time stamp (ETSI.RFC3161), which pdfsig cannot check


def test_pyhanko_validator_says_valid_and_trusted(sealed_pdf, keystore):
    reader = PdfFileReader(io.BytesIO(sealed_pdf))
    vc = trust_context([keystore.root_cert()])
    sigs = reader.embedded_regular_signatures
    assert len(sigs) == len(CHECKLIST)
    for sig in sigs:
        status = validate_pdf_signature(sig, vc, diff_policy=CHAIN_DIFF_POLICY)
        assert status.bottom_line, status.pretty_print_details()
        assert status.modification_level <= ModificationLevel.FORM_FILLING
        assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    assert len(reader.embedded_timestamp_signatures) == 1
    assert "/DSS" in reader.root


def test_stock_pyhanko_policy_sees_valid_trusted_signatures(sealed_pdf, keystore):
    # without our chain.json rule, pyHanko still finds every signature intact and trusted;
    # only its difference analysis does not know the chain.json replacement (see attachment.py)
    reader = PdfFileReader(io.BytesIO(sealed_pdf))
    vc = trust_context([keystore.root_cert()])
    for sig in reader.embedded_regular_signatures:
        status = validate_pdf_signature(sig, vc)
        assert status.intact and status.valid and status.trusted


def test_every_font_is_embedded_after_signing(sealed_pdf, tmp_pdf):
    out = subprocess.run(["pdffonts", str(tmp_pdf(sealed_pdf))], capture_output=True,
                         text=True, check=True).stdout
    rows = out.splitlines()[2:]
    assert len(rows) > 2  # the form's own fonts and the stamp fonts
    for row in rows:
        # columns: name type encoding emb sub uni object-id; type may contain spaces
        assert re.search(r"\s(yes)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+\s*$", row), row


def test_pdfa3_identity_survives_signing(form_pdf, sealed_pdf):
    reader = PdfFileReader(io.BytesIO(sealed_pdf))
    xmp = reader.root["/Metadata"].data
    assert b"<pdfaid:part>3</pdfaid:part>" in xmp or b'pdfaid:part="3"' in xmp
    assert reader.root["/OutputIntents"]
    assert sealed_pdf[:8] == form_pdf[:8]  # header version untouched
    assert "/Version" not in reader.root or reader.root["/Version"] != "/2.0"


def test_full_chain_travels_inside_the_pdf(sealed):
    pdf, chain = sealed
    reader = PdfFileReader(io.BytesIO(pdf))
    doc_id, version, records = parse_chain_document(read_chain(reader.root))
    assert (doc_id, version) == ("DOC-1", 1)
    assert records == list(chain.records)
    spec = reader.root["/AF"][0]
    assert spec["/AFRelationship"] == "/Data"


def test_stamp_text_with_a_missing_glyph_still_signs(form_pdf, keystore, stamp_font,
                                                     timestamper):
    from signing.records import Decision

    from .conftest import COLLEGE, Person
    people = (Person("S-RARE", "王喆堃", "student", COLLEGE, Decision.APPROVE, None),)
    pdf, _ = run_chain(form_pdf, keystore, stamp_font, None, people=people)
    assert len(PdfFileReader(io.BytesIO(pdf)).embedded_signatures) == 1
