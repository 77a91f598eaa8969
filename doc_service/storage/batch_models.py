"""Tables of the batch part: issuance jobs with one item per student, correction requests.

A ``BatchItem`` is unique per (job, student). Its 文号, code and document id are reserved
on the item before the render, and its ``document_id`` is written in the same database
transaction as the document it issued (see ``services.batch``): a job killed at any
moment and resumed renders again under the same reservation, so it never issues a
student's document twice and leaves no gap in the numbers.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from doc_service.storage.models import Base, new_id, utcnow


class JobStatus(StrEnum):
    RUNNING = "running"        # items pending or being issued
    DONE = "done"              # every item done, failed or skipped
    CANCELLED = "cancelled"


JOB_STATUS_LABELS = {JobStatus.RUNNING: "进行中", JobStatus.DONE: "已完成",
                     JobStatus.CANCELLED: "已取消"}


class ItemState(StrEnum):
    PENDING = "pending"
    ISSUING = "issuing"        # claimed by a runner: its number is reserved, it is rendering
    DONE = "done"
    FAILED = "failed"          # the use case refused (message in Chinese on the item)
    SKIPPED = "skipped"        # the student already has this form in progress
    CANCELLED = "cancelled"


OPEN_STATES = (ItemState.PENDING, ItemState.ISSUING)
"""Items not finished yet: a job is done when none is left."""


class BatchJob(Base):
    """One "issue form X to these students" request."""

    __tablename__ = "batch_jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    form_id: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    """The staff member the documents are issued as (their scope and name)."""
    selection: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What was chosen: grade, colleges, classes (for the job list)."""
    extra_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Form fields not on the roster (学年, 注册类别 …), the same for every student."""
    status: Mapped[str] = mapped_column(String(12), default=JobStatus.RUNNING)
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class BatchItem(Base):
    """One student of a job; done only together with the document it issued."""

    __tablename__ = "batch_items"
    __table_args__ = (UniqueConstraint("job_id", "student_id"),
                      Index("ix_batch_items_job_state", "job_id", "state"))
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("batch_jobs.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    position: Mapped[int] = mapped_column(Integer)
    """Class order (class number, then 学号)."""
    state: Mapped[str] = mapped_column(String(12), default=ItemState.PENDING)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Claims so far; a runner records its result only if the count is still its own."""
    number: Mapped[str | None] = mapped_column(String(64))
    """The 文号 reserved for this student's document (kept across retries)."""
    code: Mapped[str | None] = mapped_column(String(16))
    """The verification code reserved with it (printed in the QR code)."""
    reserved_id: Mapped[str | None] = mapped_column(String(32))
    """The id the document will have: a second runner's insert of it would fail."""
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class CorrectionStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"


CORRECTION_STATUS_LABELS = {CorrectionStatus.OPEN: "待处理",
                            CorrectionStatus.ACCEPTED: "已更正重出",
                            CorrectionStatus.DECLINED: "未予更正"}


class CorrectionRequest(Base):
    """A student's "these fields of my document are wrong", routed to the registrar."""

    __tablename__ = "correction_requests"
    __table_args__ = (Index("ix_corrections_status", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    series_id: Mapped[str] = mapped_column(String(32))
    student_no: Mapped[str] = mapped_column(String(20))
    college_id: Mapped[int] = mapped_column(ForeignKey("colleges.id"))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id"))
    changes: Mapped[dict[str, Any]] = mapped_column()
    """{field key: {"old": value on the document, "new": value the student says is right}}."""
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default=CorrectionStatus.OPEN)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    """Why it was declined (or the registrar's remark on acceptance)."""
    new_document_id: Mapped[str | None] = mapped_column(String(32))
