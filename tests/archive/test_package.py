"""Transfer packages checked on a machine that never saw the service; backup and restore."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from archive.backup import backup, restore
from archive.errors import PackageError
from archive.fixity import run_fixity
from archive.model import RecordState
from archive.package import ExportFilters, check_package, export_package
from archive.recovery import startup_check
from archive.service import (
    access_log,
    archive_document,
    get_record,
    log_access,
    search,
    void_record,
)
from archive.store import FileContentStore


@pytest.fixture
def sealed_archive(engine, store, make_input, seal_document, keystore):
    """Two really sealed documents of two students, one of them voided."""
    out = []
    for doc, student in (("CERT-1", "2024001"), ("CERT-2", "2024002")):
        pdf, chain = seal_document(doc)
        out.append(archive_document(engine, store, make_input(
            doc, student_no=student, final_pdf=pdf, chain_json=chain)))
    void_record(engine, store, out[1].id, reason="学生已离校", by="赵六", school_code="13579",
                void_chain_json=b'{"format": "void"}')
    return out


def root_pem(keystore) -> bytes:
    return keystore.root_cert().public_bytes(Encoding.PEM)


def test_exported_package_verifies_in_a_fresh_directory(engine, store, sealed_archive,
                                                        keystore, tmp_path):
    out = tmp_path / "out" / "package.zip"
    summary = export_package(engine, store, out, root_cert_pem=root_pem(keystore),
                             who="archivist", why="移交档案馆")
    assert summary.records == 3  # two documents and the void
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = shutil.copy(out, elsewhere / "received.zip")
    report = check_package(copy)
    assert report.ok, report.to_dict()
    assert report.trust_root_source == "package"
    assert sorted(r.signatures for r in report.records) == ["no_pdf", "valid", "valid"]
    # the receiver's own copy of the root is preferred over the one inside
    assert check_package(copy, trust_roots=[keystore.root_cert()]).trust_root_source == "given"
    assert {e.record_id for e in access_log(engine, who="archivist")} == {
        r.id for r in search(engine, include_voids=True)}

    with zipfile.ZipFile(copy) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        meta = json.loads(zf.read(manifest["records"][0]["metadata"]))
        sums = zf.read("manifest-sha256.txt").decode()
    assert meta["student_no"] and meta["archival_ref"] and meta["sm3"]
    assert {m["state"] for m in (json.loads(zipfile.ZipFile(copy).read(r["metadata"]))
                                 for r in manifest["records"])} >= {"voided", "valid"}
    assert len(sums.splitlines()) == len(manifest["files"])


def test_filters_choose_what_is_exported(engine, store, sealed_archive, tmp_path):
    summary = export_package(engine, store, tmp_path / "p.zip",
                             ExportFilters(student_no="2024001"))
    assert summary.records == 1
    report = check_package(tmp_path / "p.zip")
    assert report.ok and report.records[0].signatures == "not_checked"
    assert export_package(engine, store, tmp_path / "v.zip",
                          ExportFilters(state=RecordState.VOIDED)).records == 2


def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = change(item.filename, zin.read(item.filename))
            if data is not None:
                zout.writestr(item, data)


def test_tampered_package_is_reported(engine, store, sealed_archive, keystore, tmp_path):
    good = tmp_path / "good.zip"
    export_package(engine, store, good, root_cert_pem=root_pem(keystore))

    def flip_pdf(name, data):
        if name.endswith("final.pdf"):
            data = bytearray(data)
            data[len(data) // 2] ^= 1
            return bytes(data)
        return data

    _rewrite(good, tmp_path / "flipped.zip", flip_pdf)
    report = check_package(tmp_path / "flipped.zip")
    assert not report.ok
    assert any("checksum mismatch" in p and "final.pdf" in p for p in report.problems)

    _rewrite(good, tmp_path / "missing.zip",
             lambda n, d: None if n.endswith("chain.json") else d)
    assert any(p.startswith("missing from package") for p in
               check_package(tmp_path / "missing.zip").problems)

    _rewrite(good, tmp_path / "extra.zip", lambda n, d: d)
    with zipfile.ZipFile(tmp_path / "extra.zip", "a") as zf:
        zf.writestr("records/smuggled.pdf", b"%PDF-1.7")
    assert "not in manifest: records/smuggled.pdf" in check_package(tmp_path / "extra.zip").problems

    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert not check_package(tmp_path / "junk.zip").ok


def test_package_with_a_forged_signature_fails_signature_check(engine, store, make_input,
                                                               keystore, tmp_path):
    # an unsigned PDF archived by mistake: checksums hold, signatures do not
    archive_document(engine, store, make_input("PLAIN"))
    export_package(engine, store, tmp_path / "p.zip", root_cert_pem=root_pem(keystore))
    report = check_package(tmp_path / "p.zip")
    assert not report.ok and report.records[0].signatures == "invalid"
    assert not report.problems  # the files themselves are intact


def test_damaged_blob_stops_the_export(engine, store, make_input, tmp_path):
    r = archive_document(engine, store, make_input())
    p = store.path_of(r.sha256)
    p.chmod(0o644)
    p.write_bytes(p.read_bytes().replace(b"DOC-1", b"DOC-X"))
    with pytest.raises(PackageError):
        export_package(engine, store, tmp_path / "p.zip")
    assert not (tmp_path / "p.zip").exists()


def test_backup_and_restore_round_trip(engine, make_engine, store, sealed_archive, tmp_path):
    log_access(engine, "archivist", "retrieve", "核对", sealed_archive[0].id)
    before = {r.id: r for r in search(engine, include_voids=True, with_files=True)}
    summary = backup(engine, store, tmp_path / "backup")
    assert summary.rows["archive_records"] == 3 and summary.blobs == 5

    # a new, empty archive (same database kind, fresh schema / file)
    fresh_engine = make_engine()
    fresh_store = FileContentStore(tmp_path / "restored-store")
    restore(fresh_engine, fresh_store, tmp_path / "backup")
    after = {r.id: r for r in search(fresh_engine, include_voids=True, with_files=True)}
    assert after == before
    assert get_record(fresh_engine, sealed_archive[1].id).state == RecordState.VOIDED
    assert len(access_log(fresh_engine)) == 1
    assert run_fixity(fresh_engine, fresh_store).ok and startup_check(fresh_engine,
                                                                      fresh_store) == []
    restore(fresh_engine, fresh_store, tmp_path / "backup")  # running it again is harmless
    assert len(search(fresh_engine, include_voids=True)) == 3

    with pytest.raises(PackageError):
        backup(engine, store, tmp_path / "backup")  # never into a used folder
    (tmp_path / "backup" / "index" / "archive_records.jsonl").write_text("{}\n")
    with pytest.raises(PackageError):
        restore(fresh_engine, fresh_store, tmp_path / "backup")
