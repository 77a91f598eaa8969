"""Batch items reserve their 文号 before rendering: interrupted, failed and raced runners.

A runner claims an item and reserves its number, code and document id, renders with no
lock held, then records the document only if its claim is still current. These tests
interrupt that sequence at each step and check the invariants: one document per student,
the reserved number is the one printed, no number is given twice, a number lost to a
failure is named on the item.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import func, select, update

from doc_service.errors import DocServiceError, RenderError
from doc_service.rendering.pdf import default_renderer
from doc_service.services import batch, batch_items
from doc_service.storage.batch_models import BatchItem, ItemState
from doc_service.storage.models import Document, SchoolClass
from tests.services.batch.conftest import EXTRA, assign_teachers, import_generated

FORM = "verification_checklist"


def start(rt: Any, actor: Any, class_no: str, serials: range) -> tuple[str, list[int]]:
    import_generated(rt, actor, {class_no: serials})
    assign_teachers(rt, [class_no])
    progress = batch.start_batch(rt, actor, FORM, classes=[class_no], extra_data=EXTRA,
                                 dispatch=False)
    with rt.sessions() as s:
        ids = list(s.scalars(select(BatchItem.id).where(BatchItem.job_id == progress.job_id)
                             .order_by(BatchItem.position)))
    return progress.job_id, ids


def item(rt: Any, item_id: int) -> BatchItem:
    with rt.sessions() as s:
        found = s.get(BatchItem, item_id)
        assert found is not None
        return found


class Interrupted(BaseException):
    """Stands for the process dying mid-render (not an Exception: nothing catches it)."""


class FakeRenderer:
    """The real renderer (each document in full), with something done first: ``before``
    gets the group's render requests and may raise, or change the world meanwhile."""

    def __init__(self, before: Callable[[Sequence[Any]], None]) -> None:
        self.before = before
        self.real = default_renderer()

    def render(self, *request: Any) -> Any:
        return self.render_many([request])[0]

    def render_many(self, requests: Sequence[Any]) -> list[Any]:
        self.before(requests)
        out: list[Any] = []
        for request in requests:
            try:
                out.append(self.real.render(*request))
            except DocServiceError as e:
                out.append(e)
        return out


def raising(error: BaseException) -> FakeRenderer:
    def fail(_requests: Sequence[Any]) -> None:
        raise error

    return FakeRenderer(fail)


def test_a_runner_killed_mid_render_is_resumed_under_the_same_number(
        runtime: Any, registrar: Any) -> None:
    job_id, ids = start(runtime, registrar, "预留2701", range(52_000, 52_003))

    with pytest.raises(Interrupted):
        batch_items.issue_item(runtime, ids[0], renderer=raising(Interrupted()))
    stuck = item(runtime, ids[0])
    assert stuck.state == ItemState.ISSUING and stuck.number and stuck.reserved_id
    assert not batch.batch_progress(runtime, registrar, job_id).finished

    # Another runner does not take an item that is still claimed ...
    assert batch_items.issue_item(runtime, ids[0]) is None
    # ... until a resume hands it out again (the dispatcher here issues in this thread).
    class Inline:
        def submit(self, rt: Any, job_id: str, item_ids: list[int]) -> None:
            batch.run_batch(rt, job_id, processes=1)

    progress = batch.resume_batch(runtime, registrar, job_id, dispatcher=Inline())
    assert progress.finished and progress.done == 3 and progress.status == "done"
    done = item(runtime, ids[0])
    assert done.attempts == 2 and done.document_id == stuck.reserved_id
    with runtime.sessions() as s:
        doc = s.get(Document, done.document_id)
        numbers = list(s.scalars(select(Document.number).join(
            BatchItem, BatchItem.document_id == Document.id).where(BatchItem.job_id == job_id)
            .order_by(BatchItem.position)))
    assert doc is not None and doc.number == stuck.number and doc.code == stuck.code
    assert len(set(numbers)) == 3 and numbers[0] == stuck.number, numbers


def test_a_render_failure_after_the_reservation_names_the_unused_number(
        runtime: Any, registrar: Any) -> None:
    job_id, ids = start(runtime, registrar, "预留2702", range(52_010, 52_012))

    broken = raising(RenderError("PDF 生成失败：测试"))
    assert batch_items.issue_item(runtime, ids[0], renderer=broken) == ItemState.FAILED
    failed = item(runtime, ids[0])
    assert failed.state == ItemState.FAILED and failed.document_id is None
    assert failed.number and f"预留文号 {failed.number} 作废" in (failed.error or "")
    progress = batch.batch_progress(runtime, registrar, job_id)
    assert progress.failed == 1 and "作废" in progress.errors[0].message


def put_back(rt: Any, item_id: int) -> None:
    """What a resume does to a claimed item: ``pending`` again, reservation kept."""
    with rt.sessions.begin() as s:
        s.execute(update(BatchItem).where(BatchItem.id == item_id)
                  .values(state=ItemState.PENDING))


def test_only_the_current_claim_records_when_two_runners_race(
        runtime: Any, registrar: Any) -> None:
    job_id, ids = start(runtime, registrar, "预留2703", range(52_020, 52_021))
    second: list[str | None] = []

    def second_runner_meanwhile(_requests: Sequence[Any]) -> None:
        # While the first runner renders, a resume puts the item back and a second
        # runner claims, renders and records it.
        put_back(runtime, ids[0])
        second.append(batch_items.issue_item(runtime, ids[0]))

    slow_first_runner = FakeRenderer(second_runner_meanwhile)
    assert batch_items.issue_item(runtime, ids[0],
                                  renderer=slow_first_runner) is None  # claim superseded
    assert second == [ItemState.DONE]
    with runtime.sessions() as s:
        count = s.scalar(select(func.count()).select_from(Document).join(
            BatchItem, BatchItem.document_id == Document.id).where(BatchItem.job_id == job_id))
    assert count == 1
    assert item(runtime, ids[0]).attempts == 2


def test_a_resumed_runner_that_was_only_slow_may_still_record(
        runtime: Any, registrar: Any) -> None:
    """A resume while the runner is alive: nobody claimed again, so its result stands."""
    job_id, ids = start(runtime, registrar, "预留2704", range(52_030, 52_031))

    resumed_meanwhile = FakeRenderer(lambda _requests: put_back(runtime, ids[0]))
    assert batch_items.issue_item(runtime, ids[0], renderer=resumed_meanwhile) == ItemState.DONE
    assert batch_items.issue_item(runtime, ids[0]) is None  # the re-handed copy finds it done
    assert batch.batch_progress(runtime, registrar, job_id).done == 1


class NotHere(BaseException):
    """Raised if a pooled job renders in the calling process (not an Exception: the
    runner's own error handling must not swallow it)."""


def test_a_big_job_is_spread_over_processes(runtime: Any, registrar: Any) -> None:
    job_id, ids = start(runtime, registrar, "预留2705", range(52_400, 52_500))

    not_here = raising(NotHere("a pooled job must not issue in the calling process"))
    seen: list[str] = []
    batch.run_batch(runtime, job_id, processes=2, on_item=lambda _i, state: seen.append(state),
                    renderer=not_here)  # the spawned processes render with their own
    progress = batch.batch_progress(runtime, registrar, job_id)
    assert progress.done == 100 and progress.finished and progress.status == "done"
    assert seen == [ItemState.DONE] * 100
    with runtime.sessions() as s:
        numbers = list(s.scalars(select(Document.number).join(
            BatchItem, BatchItem.document_id == Document.id).where(BatchItem.job_id == job_id)))
        attempts = set(s.scalars(select(BatchItem.attempts).where(BatchItem.job_id == job_id)))
    assert len(set(numbers)) == 100 and attempts == {1}


def test_a_runtime_other_processes_cannot_open_issues_in_this_process(
        runtime: Any, registrar: Any) -> None:
    """A store that keeps blobs in this process: spawned processes would write elsewhere."""
    class MemoryStore:
        def __init__(self) -> None:
            self.blobs: dict[str, bytes] = {}

        def put(self, data: bytes) -> str:
            sha = hashlib.sha256(data).hexdigest()
            self.blobs[sha] = data
            return sha

        def get(self, sha: str) -> bytes:
            return self.blobs[sha]

    store = MemoryStore()
    local = dataclasses.replace(runtime, store=store)
    job_id, ids = start(runtime, registrar, "预留2706", range(52_600, 52_702))
    batch.run_batch(local, job_id, processes=2)
    assert batch.batch_progress(runtime, registrar, job_id).done == 102
    assert len(store.blobs) == 102


def test_a_group_reserves_consecutive_numbers_in_class_order(
        runtime: Any, registrar: Any) -> None:
    job_id, ids = start(runtime, registrar, "预留2707", range(52_300, 52_305))
    states = batch_items.issue_items(runtime, list(reversed(ids)))
    assert states == [ItemState.DONE] * 5
    numbers = [item(runtime, i).number for i in ids]
    seqs = [int("".join(ch for ch in n.split("〕")[1] if ch.isdigit())) for n in numbers]
    assert seqs == list(range(seqs[0], seqs[0] + 5)), numbers
    with runtime.sessions() as s:
        issued = {i: s.get(Document, item(runtime, i).document_id) for i in ids}
    assert all(doc is not None and doc.number == item(runtime, i).number
               for i, doc in issued.items())
    assert batch.batch_progress(runtime, registrar, job_id).done == 5


def test_one_refused_document_does_not_undo_its_group(runtime: Any, registrar: Any) -> None:
    # The third student's class loses its teacher while the group renders: recording that
    # document is refused (its chain has no class teacher), inside its own savepoint.
    classes = {"预留2708": range(52_310, 52_312), "预留2708B": range(52_312, 52_313),
               "预留2708C": range(52_313, 52_314)}
    import_generated(runtime, registrar, classes)
    assign_teachers(runtime, list(classes))
    job_id = batch.start_batch(runtime, registrar, FORM, classes=list(classes),
                               extra_data=EXTRA, dispatch=False).job_id
    with runtime.sessions() as s:
        ids = list(s.scalars(select(BatchItem.id).where(BatchItem.job_id == job_id)
                             .order_by(BatchItem.position)))

    def teacher_leaves(_requests: Sequence[Any]) -> None:
        with runtime.sessions.begin() as s:
            s.execute(update(SchoolClass).where(SchoolClass.class_no == "预留2708B")
                      .values(teacher_id=None))

    states = batch_items.issue_items(runtime, ids, renderer=FakeRenderer(teacher_leaves))
    assert states == [ItemState.DONE, ItemState.DONE, ItemState.FAILED, ItemState.DONE]
    failed = item(runtime, ids[2])
    assert failed.document_id is None and f"预留文号 {failed.number} 作废" in (failed.error or "")
    with runtime.sessions() as s:
        assert s.get(Document, failed.reserved_id) is None
        count = s.scalar(select(func.count()).select_from(BatchItem).where(
            BatchItem.job_id == job_id, BatchItem.document_id.is_not(None)))
    assert count == 3


def test_an_unexpected_error_in_a_group_issues_its_items_one_by_one(
        runtime: Any, registrar: Any) -> None:
    job_id, ids = start(runtime, registrar, "预留2709", range(52_320, 52_323))

    def groups_break(requests: Sequence[Any]) -> None:
        if len(requests) > 1:
            raise RuntimeError("a bug that only a group meets")

    breaks_on_groups = FakeRenderer(groups_break)
    assert batch_items.issue_items(runtime, ids, renderer=breaks_on_groups) == [ItemState.DONE] * 3
    for i in ids:
        done = item(runtime, i)
        # Claimed twice (the group, then alone), under the number the group reserved.
        assert done.attempts == 2 and done.document_id == done.reserved_id
    assert batch.batch_progress(runtime, registrar, job_id).done == 3


def test_items_of_a_cancelled_job_are_cancelled_as_a_group(
        runtime: Any, registrar: Any) -> None:
    job_id, ids = start(runtime, registrar, "预留2710", range(52_330, 52_333))
    batch.cancel_batch(runtime, registrar, job_id)
    assert batch_items.issue_items(runtime, ids) == [None] * 3  # already closed by the cancel
    assert {item(runtime, i).state for i in ids} == {ItemState.CANCELLED}
