"""verify_pdf passes an intact sealed document and catches every attack in the issue."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.attachment import attach_chain, read_chain
from signing.keystore import KeyStore
from signing.records import canonical_json
from signing.tsa import HTTPTimeStamper, configured_timestamper
from signing.verify import verify_pdf

from .conftest import CHECKLIST, run_chain


def _roots(keystore):
    return [keystore.root_cert()]


def _append_increment(pdf: bytes, mutate) -> bytes:
    w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    mutate(w)
    out = io.BytesIO()
    w.write(out)
    return pdf + out.getvalue()[len(pdf):] if out.getvalue().startswith(pdf) else out.getvalue()


def _chain_doc(pdf: bytes) -> dict:
    return json.loads(read_chain(PdfFileReader(io.BytesIO(pdf)).root))


def _with_chain(pdf: bytes, doc: dict) -> bytes:
    return _append_increment(pdf, lambda w: attach_chain(w, canonical_json(doc)))


def test_sealed_four_signer_document_verifies(sealed, keystore):
    pdf, chain = sealed
    report = verify_pdf(pdf, _roots(keystore), expected_document_id="DOC-1",
                        expected_records=chain.records)
    assert report.ok, report.failures
    assert [s.role for s in report.signers] == [p.role for p in CHECKLIST]
    assert all(s.ok for s in report.signers)
    d = report.to_dict()
    assert d["ok"] is True and len(d["signers"]) == 4
    json.dumps(d, ensure_ascii=False)


def test_flipped_byte_is_reported(sealed_pdf, keystore):
    reader = PdfFileReader(io.BytesIO(sealed_pdf))
    br = reader.embedded_regular_signatures[1].byte_range
    pos = br[1] - 200  # inside the second signer's revision, outside any /Contents
    data = bytearray(sealed_pdf)
    data[pos] ^= 0x01
    report = verify_pdf(bytes(data), _roots(keystore))
    assert not report.ok
    assert report.failures


def test_flipped_byte_in_original_page_content_is_reported(sealed_pdf, keystore, form_pdf):
    data = bytearray(sealed_pdf)
    data[len(form_pdf) // 2] ^= 0x01
    report = verify_pdf(bytes(data), _roots(keystore))
    assert not report.ok
    assert any("intact" in f for f in report.failures)


def test_incremental_update_after_seal_is_reported(sealed_pdf, keystore):
    from pyhanko.pdf_utils import generic

    def add_text(w):
        stream = generic.StreamObject(stream_data=b"0 0 1 rg 100 600 200 50 re f")
        w.add_stream_to_page(0, w.add_object(stream))
    attacked = _append_increment(sealed_pdf, add_text)
    report = verify_pdf(attacked, _roots(keystore))
    assert not report.ok
    assert any(c.name == "nothing_after_last_signature" and not c.ok
               for c in report.document_checks)


def test_chain_record_altered_in_a_later_update_is_reported(sealed_pdf, keystore):
    doc = _chain_doc(sealed_pdf)
    doc["records"][1]["comment"] = "改过的意见"
    report = verify_pdf(_with_chain(sealed_pdf, doc), _roots(keystore))
    assert not report.ok
    names = {c.name for c in report.document_checks if not c.ok}
    assert "chain_covered_by_signature" in names


def test_chain_record_removed_is_reported(sealed_pdf, keystore):
    doc = _chain_doc(sealed_pdf)
    del doc["records"][2]
    report = verify_pdf(_with_chain(sealed_pdf, doc), _roots(keystore))
    assert not report.ok
    assert any("one_signature_per_record" in f for f in report.failures)


def test_chain_records_reordered_are_reported(sealed_pdf, keystore):
    doc = _chain_doc(sealed_pdf)
    doc["records"][1], doc["records"][2] = doc["records"][2], doc["records"][1]
    report = verify_pdf(_with_chain(sealed_pdf, doc), _roots(keystore))
    assert not report.ok
    assert any("link" in f or "position" in f for f in report.failures)


def test_chain_copied_from_another_document_is_reported(form_pdf, keystore, stamp_font,
                                                        timestamper, sealed_pdf):
    other, _ = run_chain(form_pdf, keystore, stamp_font, timestamper, document_id="DOC-2")
    copied = _with_chain(sealed_pdf, _chain_doc(other))
    report = verify_pdf(copied, _roots(keystore), expected_document_id="DOC-1")
    assert not report.ok
    failed = {c.name for c in report.document_checks if not c.ok}
    assert {"document_id", "chain_covered_by_signature"} <= failed
    assert any("doc_sha256_matches_revision" in f or "record_matches_pdf_signer" in f
               for f in report.failures)


def test_embedded_chain_differing_from_database_is_reported(sealed, keystore):
    pdf, chain = sealed
    report = verify_pdf(pdf, _roots(keystore), expected_records=chain.records[:-1])
    assert not report.ok
    assert any("chain_matches_database" in f for f in report.failures)


def test_signature_by_key_the_root_did_not_issue_is_reported(form_pdf, keystore, stamp_font,
                                                             tmp_path_factory):
    rogue = KeyStore(tmp_path_factory.mktemp("rogue") / "keys", "rogue")
    rogue.init_institution("江南理工职业技术学院", ["信息工程学院"])
    p = CHECKLIST[1]
    fake = rogue.signer_identity(p.signer_id, p.name, p.role, p.college)
    pdf, _ = run_chain(form_pdf, keystore, stamp_font, configured_timestamper(keystore),
                       identities={p.signer_id: fake})
    report = verify_pdf(pdf, _roots(keystore))
    assert not report.ok
    teacher = report.signers[1]
    failed = {c.name for c in teacher.all_checks() if not c.ok}
    assert {"pdf.trusted", "record.issued_by_root"} <= failed
    assert report.signers[0].ok


class _TsaHandler(BaseHTTPRequestHandler):
    stamper = None

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        reply = self.stamper.respond(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def test_verification_passes_with_the_tsa_stopped(form_pdf, keystore, stamp_font):
    _TsaHandler.stamper = configured_timestamper(keystore)
    server = HTTPServer(("127.0.0.1", 0), _TsaHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/tsa"
    try:
        pdf, _ = run_chain(form_pdf, keystore, stamp_font, HTTPTimeStamper(url))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    report = verify_pdf(pdf, _roots(keystore))
    assert report.ok, report.failures


def test_unreadable_file_gives_a_failed_report_not_an_exception(keystore):
    report = verify_pdf(b"not a pdf", _roots(keystore))
    assert not report.ok
    assert report.document_checks[0].name == "readable"


@pytest.mark.parametrize("upto", [2])
def test_unsealed_document_fails_only_the_seal_check(form_pdf, keystore, stamp_font,
                                                     timestamper, upto):
    pdf, _ = run_chain(form_pdf, keystore, stamp_font, timestamper, upto=upto)
    report = verify_pdf(pdf, _roots(keystore))
    assert [c.name for c in report.document_checks if not c.ok] == ["sealed_b_lta"]
    assert verify_pdf(pdf, _roots(keystore), require_seal=False).ok
