"""Revision 0008 on a database that already suffered the race: the students' second open
documents are kept, set aside (``dup:<id>``) and the index is built; from then on a second
open document is refused (SQLite, and PostgreSQL when ``DATABASE_URL`` is set)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from doc_service.db import make_engine
from doc_service.migrations import upgrade
from tests.conftest import database_for_tests

YEAR = {"academic_year": "2026-2027", "registration_type": "新生学籍注册"}


@pytest.fixture
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    urls = database_for_tests(tmp_path_factory, "open")
    engine = make_engine(next(urls))
    try:
        yield engine
    finally:
        engine.dispose()
        next(urls, None)


def add_document(conn: Any, doc_id: str, status: str, data: dict[str, str],
                 created: str) -> None:
    conn.execute(text(
        "INSERT INTO documents (id, series_id, version, form_id, number, code, status, data, "
        "student_id, student_no, student_name, college_id, issuer_id, issued_on, created_at, "
        "updated_at, draft_sha256, current_sha256, signature_areas, lock_version) VALUES "
        "(:id, :id, 1, 'verification_checklist', :id, :id, :status, :data, 1, '2700000001', "
        "'王子涵', 1, 1, '2026-09-01', :created, :created, 'x', 'x', '{}', 0)"),
        {"id": doc_id, "status": status, "data": json.dumps(data), "created": created})


def test_existing_double_documents_are_set_aside_and_new_ones_refused(engine: Engine) -> None:
    upgrade(engine, "0006")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO colleges (id, name) VALUES (1, '信息工程学院')"))
        conn.execute(text("INSERT INTO users (id, username, name, role, college_id, "
                          "password_hash, active, created_at) VALUES (1, 'xx-issuer', '郑敏', "
                          "'issuer', 1, '!', true, '2026-09-01')"))
        conn.execute(text("INSERT INTO classes (id, class_no, college_id, major) "
                          "VALUES (1, '软件2601', 1, '软件工程')"))
        conn.execute(text("INSERT INTO students (id, student_no, name, gender, id_number, "
                          "college_id, class_id) VALUES (1, '2700000001', '王子涵', '男', "
                          "'610113200501010011', 1, 1)"))
        add_document(conn, "first", "in_progress", YEAR, "2026-09-01 08:00:00")
        add_document(conn, "second", "in_progress", YEAR, "2026-09-01 08:00:01")
        add_document(conn, "sent-back", "rejected", YEAR, "2026-09-01 08:00:02")
        add_document(conn, "sealed", "sealed", YEAR, "2026-08-01 08:00:00")
        add_document(conn, "last-year", "in_progress", {**YEAR, "academic_year": "2025-2026"},
                     "2025-09-01 08:00:00")
    upgrade(engine)
    with engine.connect() as conn:
        slots = dict(conn.execute(text("SELECT id, open_slot FROM documents")).all())
    assert slots == {"first": "2026-2027", "second": "dup:second",
                     "sent-back": "dup:sent-back", "sealed": "2026-2027",
                     "last-year": "2025-2026"}
    with pytest.raises(IntegrityError) as e, engine.begin() as conn:
        add_document(conn, "third", "in_progress", YEAR, "2026-09-02 08:00:00")
        conn.execute(text("UPDATE documents SET open_slot = '2026-2027' WHERE id = 'third'"))
    assert "open_slot" in str(e.value) or "uq_documents_open" in str(e.value)
    with engine.begin() as conn:  # sealing the first frees its slot; a closed one never holds it
        conn.execute(text("UPDATE documents SET status = 'sealed' WHERE id = 'first'"))
        add_document(conn, "fourth", "in_progress", YEAR, "2026-09-03 08:00:00")
        conn.execute(text("UPDATE documents SET open_slot = '2026-2027' WHERE id = 'fourth'"))
