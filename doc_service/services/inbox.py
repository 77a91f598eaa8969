"""What waits for each staff member: current steps they (or their office) must sign.

Who signs a step is ``access.can_sign_step``'s rule, here as the query's condition
(``access.signable_steps``); "current" is ``Document.current_step`` in SQL: the step
marked current of a document still in progress.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from doc_service.services.access import signable_steps
from doc_service.services.runtime import Runtime
from doc_service.storage.models import DocStatus, Document, Step, StepState, User


@dataclass(frozen=True)
class InboxItem:
    document: Document
    step: Step
    overdue: bool


def inbox(rt: Runtime, user: User, *, today: dt.date | None = None,
          limit: int = 500) -> list[InboxItem]:
    """Oldest and overdue first."""
    today = today or dt.date.today()
    with rt.sessions() as session:
        rows = session.execute(
            select(Step, Document).join(Document, Document.id == Step.document_id)
            .where(Step.state == StepState.CURRENT, Document.status == DocStatus.IN_PROGRESS,
                   signable_steps(user))
            .order_by(Step.due_on, Step.became_current_at).limit(limit)
        ).all()
        items = [InboxItem(document=doc, step=step,
                           overdue=step.due_on is not None and step.due_on < today)
                 for step, doc in rows]
    items.sort(key=lambda i: (not i.overdue, i.step.became_current_at or dt.datetime.min))
    return items
