"""What the batch pages read, in the caller's scope (services/batch_queries.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from doc_service.errors import PermissionDeniedError
from doc_service.forms.spec import load_form
from doc_service.services.access import StudentActor
from doc_service.services.batch_queries import (
    ROSTER_KEYS,
    ClassChoice,
    batch_forms,
    batch_targets,
    correction_queue,
    extra_fields,
    recent_batches,
)
from doc_service.services.runtime import Runtime
from tests.services.fakes import fake_runtime
from tests.services.school import add_small_school, staff


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = fake_runtime(tmp_path)
    add_small_school(runtime)
    yield runtime
    runtime.engine.dispose()


def test_a_batch_targets_the_callers_classes_only(rt: Runtime) -> None:
    jy = batch_targets(rt, staff(rt, "jy-issuer"))
    assert jy.classes == (ClassChoice("交运2602", "交通运输学院"),)
    assert jy.colleges == ("交通运输学院",)
    school = batch_targets(rt, staff(rt, "registrar"))
    assert [c.class_no for c in school.classes] == ["交运2602", "计科2601"]
    assert school.colleges == ("交通运输学院", "信息工程学院")


def test_only_those_who_may_start_batches_see_the_recent_ones(rt: Runtime) -> None:
    assert recent_batches(rt, staff(rt, "jy-issuer")) == []
    assert recent_batches(rt, staff(rt, "jy-head")) == []
    with pytest.raises(PermissionDeniedError):
        recent_batches(rt, StudentActor("2026030215", "李玥", "d" * 32))


def test_only_the_registrar_decides_corrections(rt: Runtime) -> None:
    queue = correction_queue(rt, staff(rt, "registrar"), "open")
    assert queue.items == [] and queue.can_decide
    assert not correction_queue(rt, staff(rt, "jy-issuer"), None).can_decide


def test_a_batch_asks_once_only_for_what_no_roster_row_fills() -> None:
    assert {f.id for f in batch_forms()} >= {"verification_checklist", "enrollment_certificate"}
    asked = {f.key for f in extra_fields(load_form("verification_checklist"))}
    assert asked == {"registration_type", "academic_year"}
    assert not asked & ROSTER_KEYS
