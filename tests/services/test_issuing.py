"""Issuing as its steps (plan, render, record), with a fake renderer, store and clock.

A small school in an empty SQLite database; no WeasyPrint, no keys, no web. The steps'
contracts: planning reads only, rendering touches no table, recording starts the chain at
the clock's time, and a refused or failed document takes no 文号.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from doc_service.config import Institution
from doc_service.errors import NotFoundError, RenderError, ValidationError, WorkflowError
from doc_service.forms.spec import load_form
from doc_service.issuing import issue_standalone, render_standalone
from doc_service.numbering import peek
from doc_service.services.documents import (
    build_meta,
    issue_document,
    plan_issue,
    record_issue,
    render_draft,
    revise_document,
    take_number,
)
from doc_service.services.runtime import Runtime
from doc_service.storage.models import AuditEntry, DocStatus, Document, SchoolClass, StepState
from tests.conftest import example
from tests.services.fakes import FakeRenderer, FakeStore, FixedClock, fake_runtime
from tests.services.school import SmallSchool, add_small_school, staff

FORM = "verification_checklist"
EXTRA = {"registration_type": "新生学籍注册", "academic_year": "2026-2027"}
CLOCK = FixedClock(dt.datetime(2026, 3, 6, 1, 30))
"""A Friday (09:30 in Beijing): three working days on is Wednesday 11 March."""


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = fake_runtime(tmp_path)
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def school(rt: Runtime) -> SmallSchool:
    return add_small_school(rt)


def documents_and_last_number(rt: Runtime) -> tuple[int, int]:
    with rt.sessions() as session:
        return (session.scalar(select(func.count(Document.id))) or 0,
                peek(session.connection(), FORM, CLOCK.today().year))


def test_a_plan_merges_the_roster_with_what_was_typed_and_writes_nothing(
        rt: Runtime, school: SmallSchool) -> None:
    with rt.sessions() as session:
        plan = plan_issue(session, staff(rt, "jy-issuer").user, load_form(FORM), dict(EXTRA),
                          school.student_no)
    assert plan.data["name"] == "李玥" and plan.data["class_no"] == "交运2602"
    assert plan.data["registration_type"] == "新生学籍注册"
    assert plan.class_id == school.class_id and plan.student_id is not None
    assert documents_and_last_number(rt) == (0, 0)


def test_another_colleges_student_is_answered_as_unknown(rt: Runtime, school: SmallSchool) -> None:
    with rt.sessions() as session, pytest.raises(NotFoundError, match="花名册中没有学号"):
        plan_issue(session, staff(rt, "xx-issuer").user, load_form(FORM), dict(EXTRA),
                   school.student_no)


def test_a_class_without_teacher_is_refused_before_a_number_is_taken(
        rt: Runtime, school: SmallSchool) -> None:
    with rt.sessions.begin() as session:
        klass = session.get(SchoolClass, school.class_id)
        assert klass is not None
        klass.teacher_id = None
    renderer = FakeRenderer()
    with pytest.raises(WorkflowError, match="尚未设置班主任"):
        issue_document(rt, staff(rt, "jy-issuer"), FORM, dict(EXTRA),
                       student_no=school.student_no, renderer=renderer, clock=CLOCK)
    assert renderer.calls == []
    assert documents_and_last_number(rt) == (0, 0)


def test_a_draft_is_rendered_with_its_number_and_code_into_the_given_store(
        rt: Runtime, school: SmallSchool) -> None:
    renderer, store = FakeRenderer(), FakeStore()
    with rt.sessions() as session:
        plan = plan_issue(session, staff(rt, "jy-issuer").user, load_form(FORM), dict(EXTRA),
                          school.student_no)
    draft = render_draft(rt, plan, "核〔2026〕7号", today=CLOCK.today(), renderer=renderer,
                         store=store)
    [call] = renderer.calls
    assert (call.meta.number, call.meta.code, call.meta.document_id, call.meta.issued_on,
            call.meta.version) == ("核〔2026〕7号", draft.code, draft.doc_id, CLOCK.today(), 1)
    assert call.meta.verify_url == f"{rt.institution.public_base_url}/d/{draft.code}"
    assert store.get(draft.pdf_sha256).startswith(b"%PDF-fake verification_checklist")
    assert set(draft.signature_areas) == {"student", "class_teacher", "college_head",
                                          "registrar"}
    assert draft.signature_areas["student"] == {"page_index": 0, "x1": 50.0, "y1": 100.0,
                                                "x2": 250.0, "y2": 150.0}
    assert isinstance(rt.store, FakeStore) and rt.store.blobs == {}  # the runtime's is unused
    assert documents_and_last_number(rt) == (0, 0)


def test_recording_starts_the_chain_at_the_clocks_time(rt: Runtime, school: SmallSchool) -> None:
    issuer = staff(rt, "jy-issuer")
    form = load_form(FORM)
    with rt.sessions.begin() as session:
        plan = plan_issue(session, issuer.user, form, dict(EXTRA), school.student_no)
        number = take_number(session.connection(), form, CLOCK.today())
        draft = render_draft(rt, plan, number, today=CLOCK.today(), renderer=FakeRenderer())
        doc = record_issue(rt, session, issuer, issuer.user, plan, draft, ip="10.0.0.1",
                           clock=CLOCK)
        doc_id = doc.id
    with rt.sessions() as session:
        stored = session.get(Document, doc_id)
        assert stored is not None
        assert (stored.version, stored.series_id, stored.number, stored.status) == (
            1, doc_id, "核〔2026〕1号", DocStatus.IN_PROGRESS)
        assert stored.draft_sha256 == stored.current_sha256 == draft.pdf_sha256
        assert [s.state for s in stored.steps] == [StepState.CURRENT] + [StepState.WAITING] * 3
        assert [s.assignee_id for s in stored.steps] == [None, school.teacher_id,
                                                         school.head_id, None]
        first = stored.steps[0]
        assert first.became_current_at == CLOCK.at
        assert first.due_on == dt.date(2026, 3, 11)
        entry = session.scalar(select(AuditEntry).where(AuditEntry.object_id == doc_id))
        assert entry is not None and entry.action == "issue" and entry.ip == "10.0.0.1"
        assert entry.detail == {"form_id": FORM, "number": "核〔2026〕1号"}


def test_numbers_follow_each_other_and_a_failed_render_gives_its_number_back(
        rt: Runtime, school: SmallSchool) -> None:
    issuer, renderer = staff(rt, "jy-issuer"), FakeRenderer()
    first = issue_document(rt, issuer, FORM, dict(EXTRA), student_no=school.student_no,
                           renderer=renderer, clock=CLOCK)
    renderer.refuse.add(school.student_no)
    with pytest.raises(RenderError):
        issue_document(rt, issuer, FORM, dict(EXTRA), student_no=school.student_no,
                       renderer=renderer, clock=CLOCK)
    assert documents_and_last_number(rt) == (1, 1)
    renderer.refuse.clear()
    # another academic year: the first is still open, and one is open per year (0008)
    second = issue_document(rt, issuer, FORM, {**EXTRA, "academic_year": "2027-2028"},
                            student_no=school.student_no, renderer=renderer, clock=CLOCK)
    assert (first.number, second.number) == ("核〔2026〕1号", "核〔2026〕2号")
    assert first.issued_on == second.issued_on == CLOCK.today()
    assert rt.store.get(second.draft_sha256).startswith(b"%PDF-fake")


def test_a_revision_is_a_new_version_under_the_same_number(rt: Runtime, school: SmallSchool) -> None:
    issuer, renderer = staff(rt, "jy-issuer"), FakeRenderer()
    old = issue_document(rt, issuer, FORM, dict(EXTRA), student_no=school.student_no,
                         renderer=renderer, clock=CLOCK)
    with rt.sessions.begin() as session:
        sent_back = session.get(Document, old.id)
        assert sent_back is not None
        sent_back.status = DocStatus.REJECTED
    later = FixedClock(dt.datetime(2026, 3, 9, 2, 0))
    new = revise_document(rt, issuer, old.id, {"ethnicity": "回族"}, renderer=renderer,
                          clock=later)
    assert (new.version, new.series_id, new.number) == (2, old.id, old.number)
    assert new.code != old.code and new.data["ethnicity"] == "回族"
    assert new.issued_on == later.today() and new.steps[0].became_current_at == later.at
    assert renderer.calls[-1].meta.version == 2
    with rt.sessions() as session:
        superseded = session.get(Document, old.id)
        assert superseded is not None
        assert (superseded.status, superseded.superseded_by) == (DocStatus.SUPERSEDED, new.id)


def test_a_document_not_sent_back_cannot_be_revised(rt: Runtime, school: SmallSchool) -> None:
    issuer = staff(rt, "jy-issuer")
    doc = issue_document(rt, issuer, FORM, dict(EXTRA), student_no=school.student_no,
                         renderer=FakeRenderer(), clock=CLOCK)
    with pytest.raises(WorkflowError, match="只有被退回的文书"):
        revise_document(rt, issuer, doc.id, {}, renderer=FakeRenderer(), clock=CLOCK)


def test_the_meta_names_the_document_at_the_schools_public_address() -> None:
    meta = build_meta(Institution(public_base_url="https://xjgc.example/"), "核〔2026〕3号",
                      "ABC123", issued_on=dt.date(2026, 3, 6), document_id="d1", version=2)
    assert (meta.number, meta.code, meta.issued_on, meta.document_id, meta.version) == (
        "核〔2026〕3号", "ABC123", dt.date(2026, 3, 6), "d1", 2)
    assert meta.verify_url == "https://xjgc.example/d/ABC123"


# --- the command line's path (doc_service.issuing) --------------------------------------

def test_the_command_line_numbers_in_the_instance_sequence_and_only_on_success(
        rt: Runtime) -> None:
    renderer, institution = FakeRenderer(), Institution()
    data = example(FORM)
    first = issue_standalone(rt.engine, FORM, data, institution, clock=CLOCK, renderer=renderer)
    with pytest.raises(ValidationError):
        issue_standalone(rt.engine, FORM, {**data, "birth_date": "2007-02-30"}, institution,
                         clock=CLOCK, renderer=renderer)
    renderer.refuse.add(data["student_no"])
    with pytest.raises(RenderError):
        issue_standalone(rt.engine, FORM, data, institution, clock=CLOCK, renderer=renderer)
    renderer.refuse.clear()
    reprint = issue_standalone(rt.engine, FORM, data, institution, number="核〔2025〕9号",
                               clock=CLOCK, renderer=renderer)
    second = issue_standalone(rt.engine, FORM, data, institution, clock=CLOCK,
                              renderer=renderer)
    assert [first.meta.number, reprint.meta.number, second.meta.number] == [
        "核〔2026〕1号", "核〔2025〕9号", "核〔2026〕2号"]
    assert first.meta.issued_on == CLOCK.today() and first.meta.code != second.meta.code
    assert first.docx is None and first.pdf.pdf.startswith(b"%PDF-fake")
    assert first.data["registration_type"] == "新生学籍注册"
    assert len(renderer.calls) == 3


def test_the_demo_chain_render_carries_its_number_and_document_id() -> None:
    renderer = FakeRenderer()
    rendered = render_standalone(FORM, example(FORM), Institution(), number="演示〔2026〕1号",
                                 document_id="demo-x", issued_on=CLOCK.today(),
                                 renderer=renderer)
    assert (rendered.meta.number, rendered.meta.document_id, rendered.meta.issued_on) == (
        "演示〔2026〕1号", "demo-x", CLOCK.today())
    assert rendered.form.id == FORM and renderer.calls[0].meta == rendered.meta
    with pytest.raises(ValidationError):
        render_standalone(FORM, {"name": ""}, Institution(), number="演示〔2026〕2号",
                          renderer=renderer)
    assert len(renderer.calls) == 1
