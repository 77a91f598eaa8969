"""The one error hierarchy of doc-service.

    DocServiceError                 root; every error we raise on purpose
    ├── BadRequestError             a malformed request (not JSON, wrong shape)
    ├── ValidationError             bad input data; carries a list of FieldError
    ├── FormNotFoundError           unknown form id
    ├── RenderError                 a template or the PDF/DOCX engine failed
    │   └── MissingGlyphError       a character no embedded font can draw
    ├── ConfigurationError          instance folder or settings unusable
    ├── WorkflowError               approval-chain rules (order, roles, state)
    │   └── ConflictError           someone else decided first (two approvals at once)
    ├── AuthError                   not signed in / identity not proven
    │   └── LockedError             too many failed identity answers
    ├── PermissionDeniedError       signed in, but not entitled to this object
    ├── NotFoundError               no such object (or not visible to the caller)
    ├── SignatureError              signing or verification failed
    ├── ArchiveError                write-once archive problems
    └── StorageFullError            the disk is full (ENOSPC): nothing was written

Every error has a Chinese ``message`` for people and a stable ``code`` and
``to_dict()`` for programs; the web layer maps them to HTTP in one place.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field."""

    key: str
    """The field key (``id_number``) or ``"*"`` for the form as a whole."""
    message: str
    """A Chinese message a registrar can act on."""
    code: str = "invalid"
    """A stable machine code (``required``, ``checksum``, ``date_order`` …)."""

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "message": self.message, "code": self.code}


class DocServiceError(Exception):
    """Root of every deliberate doc-service error."""

    code = "error"
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}


class BadRequestError(DocServiceError):
    """The request itself is malformed (the API's 400), as opposed to invalid form data."""

    code = "bad_request"
    http_status = 400


class ValidationError(DocServiceError):
    """Input data failed the form's rules; nothing was rendered or written."""

    code = "validation_failed"
    http_status = 422

    def __init__(self, errors: list[FieldError], message: str = "表单数据有误，请按提示修改") -> None:
        super().__init__(message)
        self.errors = list(errors)

    def __str__(self) -> str:
        lines = [self.message]
        lines += [f"  {e.key}: {e.message}" for e in self.errors]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["fields"] = [e.to_dict() for e in self.errors]
        return d


class FormNotFoundError(DocServiceError):
    code = "form_not_found"
    http_status = 404


class RenderError(DocServiceError):
    code = "render_failed"
    http_status = 500


class MissingGlyphError(ValidationError):
    """A value holds a character that no embedded font can draw.

    It is a validation error (the data must change, e.g. a rare name character
    must be entered differently or the font set extended), not a crash.
    """

    code = "missing_glyph"


class ConfigurationError(DocServiceError):
    code = "configuration"
    http_status = 500


class WorkflowError(DocServiceError):
    code = "workflow"
    http_status = 409


class ConflictError(WorkflowError):
    code = "conflict"
    http_status = 409


class AuthError(DocServiceError):
    code = "unauthorized"
    http_status = 401


class LockedError(AuthError):
    code = "locked"
    http_status = 429

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        """Seconds until the lock ends (the ``Retry-After`` the web layer sends)."""

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if self.retry_after is not None:
            data["retry_after"] = self.retry_after
        return data


class PermissionDeniedError(DocServiceError):
    code = "forbidden"
    http_status = 403


class NotFoundError(DocServiceError):
    code = "not_found"
    http_status = 404


class SignatureError(DocServiceError):
    code = "signature"


class ArchiveError(DocServiceError):
    code = "archive"
    http_status = 500


class StorageFullError(DocServiceError):
    """The server's disk is full; the use case wrote nothing (its transaction never
    committed), so the same request can simply be made again once there is room."""

    code = "storage_full"
    http_status = 507

    def __init__(self, message: str = "服务器存储空间已满，本次操作未保存任何内容，请联系管理员清理空间后重试") -> None:
        super().__init__(message)


def caused_by_full_disk(error: BaseException) -> bool:
    """Whether ``error`` or anything it was raised from is ENOSPC (a library may wrap it:
    the stamp font subsetting reports "cannot subset font")."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return True
        current = current.__cause__ or current.__context__
    return False
