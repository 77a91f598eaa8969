"""Archiving once, finding by every key, void and correction, the access log."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from archive.errors import (
    ArchiveConflictError,
    ArchiveInputError,
    RecordNotFoundError,
    RecordStateError,
)
from archive.model import AccessAction, FileRole, RecordKind, RecordState, SupersededVersion
from archive.service import (
    access_log,
    archive_document,
    correct_record,
    find_by_sha256,
    get_by_reference,
    get_record,
    log_access,
    records_for_document,
    search,
    void_record,
)


def test_archive_stores_files_and_metadata(engine, store, make_input):
    inp = make_input(superseded=(SupersededVersion(1, b"%PDF-1.7 earlier"),), version=2)
    r = archive_document(engine, store, inp)
    assert r.kind == RecordKind.ORIGINAL
    assert r.state == RecordState.VALID
    assert r.archival_ref == "13579-XJ-2024-D10-00001"
    assert [f.role for f in r.files] == [FileRole.FINAL_PDF, FileRole.CHAIN_JSON,
                                         FileRole.SUPERSEDED_VERSION_PDF]
    assert r.file(FileRole.SUPERSEDED_VERSION_PDF).version == 1
    assert store.get(r.sha256) == inp.final_pdf
    assert store.get(r.file(FileRole.CHAIN_JSON).sha256) == inp.chain_json
    assert len(r.sm3) == 64 and r.sm3 != r.sha256
    assert [(s.role, s.name) for s in r.signers] == [("student", "张三"), ("registrar", "赵六")]
    assert get_record(engine, r.id) == r
    assert get_by_reference(engine, r.archival_ref) == r


def test_archiving_twice_returns_the_same_record(engine, store, make_input):
    inp = make_input()
    first = archive_document(engine, store, inp)
    again = archive_document(engine, store, inp)
    assert again == first
    assert len(search(engine, student_no="20240001")) == 1


def test_same_version_with_other_content_is_a_conflict(engine, store, make_input):
    archive_document(engine, store, make_input())
    with pytest.raises(ArchiveConflictError):
        archive_document(engine, store, make_input(final_pdf=b"%PDF-1.7 other"))


def test_chain_of_another_document_is_refused(engine, store, make_input):
    other = make_input("DOC-2")
    with pytest.raises(ArchiveInputError):
        archive_document(engine, store, make_input("DOC-1", chain_json=other.chain_json))
    with pytest.raises(ArchiveInputError):
        archive_document(engine, store, make_input(final_pdf=b"not a pdf"))


def test_archival_references_count_per_year_and_retention(engine, store, make_input):
    refs = [archive_document(engine, store, make_input(f"D{i}")).archival_ref for i in range(3)]
    perm = archive_document(engine, store, make_input("P1", retention="永久"))
    assert refs == [f"13579-XJ-2024-D10-0000{i}" for i in (1, 2, 3)]
    assert perm.archival_ref == "13579-XJ-2024-Y-00001"


@pytest.fixture
def filled(engine, store, make_input):
    a = archive_document(engine, store, make_input(
        "A", student_no="2024001", student_name="李雷", number="2024年第1号",
        form_id="withdrawal_notice", college="交通运输学院", issued_on=date(2024, 3, 1)))
    b = archive_document(engine, store, make_input(
        "B", student_no="2024002", student_name="韩梅梅", number="2024年第2号",
        form_id="enrollment_certificate", college="信息工程学院", issued_on=date(2024, 6, 1)))
    c = archive_document(engine, store, make_input(
        "C", student_no="2024001", student_name="李雷", number="2024年第3号",
        form_id="enrollment_certificate", college="交通运输学院", issued_on=date(2024, 9, 1)))
    return a, b, c


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("student_no", "2024001", "CA"),
    ("name", "韩梅梅", "B"),
    ("number", "2024年第3号", "C"),
    ("form_id", "enrollment_certificate", "CB"),
    ("college", "交通运输学院", "CA"),
    ("date_from", date(2024, 5, 1), "CB"),
    ("date_to", date(2024, 6, 1), "BA"),
])
def test_search_finds_records_by_each_key(engine, filled, key, value, expected):
    found = search(engine, **{key: value})
    assert "".join(r.document_id for r in found) == expected


def test_search_combines_keys_and_pages(engine, filled):
    assert [r.document_id for r in search(engine, student_no="2024001",
                                          form_id="withdrawal_notice")] == ["A"]
    assert [r.document_id for r in search(engine, limit=1, offset=1)] == ["B"]
    assert search(engine, student_no="nobody") == []


def test_void_makes_a_new_record_and_the_old_one_voided(engine, store, filled):
    a, _, _ = filled
    v = void_record(engine, store, a.id, reason="学生已离校", by="赵六", school_code="13579",
                    void_chain_json=b'{"void": true}')
    assert v.kind == RecordKind.VOID and v.points_to == a.id
    old = get_record(engine, a.id)
    assert old.state == RecordState.VOIDED and old.voided_by == v.id
    assert old.sha256 == a.sha256  # the original is untouched
    assert [r.document_id for r in search(engine, state="voided")] == ["A"]
    assert [r.document_id for r in search(engine, state="valid")] == ["C", "B"]
    assert v.id in {r.id for r in search(engine, include_voids=True)}
    assert void_record(engine, store, a.id, reason="again", by="赵六", school_code="13579") == v
    with pytest.raises(RecordStateError):
        void_record(engine, store, v.id, reason="x", by="y", school_code="13579")
    with pytest.raises(ArchiveInputError):
        void_record(engine, store, filled[1].id, reason=" ", by="y", school_code="13579")


def test_correction_supersedes_the_old_record(engine, store, make_input, filled):
    _, b, _ = filled
    new = correct_record(engine, store, b.id, make_input("B", version=2, student_no="2024002"),
                         reason="姓名有误", by="赵六")
    assert new.kind == RecordKind.CORRECTION and new.points_to == b.id
    old = get_record(engine, b.id)
    assert old.state == RecordState.SUPERSEDED and old.superseded_by == new.id
    assert [r.version for r in records_for_document(engine, "B")] == [1, 2]
    assert [r.id for r in search(engine, state="superseded")] == [b.id]


def test_a_later_version_supersedes_the_earlier(engine, store, make_input):
    v1 = archive_document(engine, store, make_input("X", version=1))
    v2 = archive_document(engine, store, make_input("X", version=2))
    assert get_record(engine, v1.id).superseded_by == v2.id
    assert get_record(engine, v2.id).state == RecordState.VALID


def test_find_by_sha256_of_the_exact_file(engine, store, filled):
    a = filled[0]
    assert [r.id for r in find_by_sha256(engine, a.sha256)] == [a.id]
    assert find_by_sha256(engine, "0" * 64) == []


def test_access_is_logged_for_administrators(engine, filled):
    a = filled[0]
    log_access(engine, "archivist1", AccessAction.RETRIEVE, "学生申请复印", a.id)
    log_access(engine, "archivist1", "download", "学生申请复印", a.id)
    log_access(engine, "archivist2", "export", "移交", None)
    entries = access_log(engine, record_id=a.id)
    assert {e.action for e in entries} == {AccessAction.RETRIEVE, AccessAction.DOWNLOAD}
    assert all(e.who == "archivist1" and e.why == "学生申请复印" for e in entries)
    assert len(access_log(engine)) == 3
    assert [e.who for e in access_log(engine, who="archivist2")] == ["archivist2"]
    with pytest.raises(ArchiveInputError):
        log_access(engine, "archivist1", "retrieve", "", a.id)
    with pytest.raises(ArchiveInputError):
        log_access(engine, "archivist1", "delete", "x", a.id)


def test_unknown_record(engine):
    with pytest.raises(RecordNotFoundError):
        get_record(engine, "nope")


def test_concurrent_archiving_gives_one_record_and_distinct_references(engine, store,
                                                                      make_input):
    same = make_input("SAME")
    inputs = [same] * 4 + [make_input(f"D{i}") for i in range(8)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda i: archive_document(engine, store, i), inputs))
    assert len({r.id for r in results[:4]}) == 1
    refs = [r.archival_ref for r in results[3:]]
    assert len(set(refs)) == len(refs) == 9


def test_correction_of_an_already_archived_version_is_refused(engine, store, make_input):
    old = archive_document(engine, store, make_input("Y", version=1))
    archive_document(engine, store, make_input("Y", version=2))
    with pytest.raises(ArchiveConflictError):
        correct_record(engine, store, old.id, make_input("Y", version=2), reason="r", by="b")
