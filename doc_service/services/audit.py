"""The audit log: every issue, view, sign, reject and download, with who and where.

Details never hold ID numbers or contact data (they are looked up, not copied).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from doc_service.services.access import Actor, Staff, StudentActor
from doc_service.storage.models import AuditEntry


def audit(session: Session, actor: Actor | None, action: str, object_type: str,
          object_id: str | None, *, ip: str | None = None, **detail: Any) -> None:
    if isinstance(actor, Staff):
        kind, aid, name = "user", str(actor.user.id), actor.user.name
    elif isinstance(actor, StudentActor):
        kind, aid, name = "student", actor.student_no, actor.name
    else:
        kind, aid, name = "public", None, None
    session.add(AuditEntry(actor_kind=kind, actor_id=aid, actor_name=name, action=action,
                           object_type=object_type, object_id=object_id, detail=detail, ip=ip))
