"""The five form layouts, one module each, and :data:`BUILDERS` by form id."""

from __future__ import annotations

from collections.abc import Callable

from docx.document import Document as DocumentObject

from .deferment_application import build_deferment_application
from .enrollment_certificate import build_enrollment_certificate
from .status_change_notice import build_status_change_notice
from .verification_checklist import build_verification_checklist
from .withdrawal_notice import build_withdrawal_notice

BUILDERS: dict[str, Callable[[], DocumentObject]] = {
    "withdrawal_notice": build_withdrawal_notice,
    "deferment_application": build_deferment_application,
    "verification_checklist": build_verification_checklist,
    "status_change_notice": build_status_change_notice,
    "enrollment_certificate": build_enrollment_certificate,
}
