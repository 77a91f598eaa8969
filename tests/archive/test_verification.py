"""Opening a record with its proof: fixity of each file and every signature."""

from __future__ import annotations

from archive.model import FileRole
from archive.service import archive_document, void_record
from archive.verification import verify_record


def test_sealed_record_verifies_with_its_stored_chain(engine, store, make_input, seal_document,
                                                      keystore):
    pdf, chain = seal_document("V-1")
    r = archive_document(engine, store, make_input("V-1", final_pdf=pdf, chain_json=chain))
    v = verify_record(engine, store, r.id, [keystore.root_cert()])
    assert v.ok, v.to_dict()["signatures"]["failures"]
    assert [f.role for f in v.fixity] == [FileRole.FINAL_PDF, FileRole.CHAIN_JSON]
    assert [s.role for s in v.signatures.signers] == ["student", "registrar"]


def test_changed_file_fails_the_record_verification(engine, store, make_input, seal_document,
                                                    keystore):
    pdf, chain = seal_document("V-2")
    r = archive_document(engine, store, make_input("V-2", final_pdf=pdf, chain_json=chain))
    p = store.path_of(r.sha256)
    p.chmod(0o644)
    p.unlink()
    v = verify_record(engine, store, r.id, [keystore.root_cert()])
    assert not v.ok and v.signatures is None
    assert [(f.role, f.problem) for f in v.fixity if not f.ok] == [(FileRole.FINAL_PDF,
                                                                    "missing")]
    void = void_record(engine, store, r.id, reason="x", by="y", school_code="13579")
    assert verify_record(engine, store, void.id, [keystore.root_cert()]).ok
