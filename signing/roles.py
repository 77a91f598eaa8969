"""The roles that issue, sign and keep documents, and their Chinese labels: the one table.

Stamps print these labels (``signing.steps``) and the application shows them on every page,
so they live here, in the package the application may import and that imports nothing of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

STUDENT = "student"
"""The student's own step: signed after the identity check, never by a staff account."""

ROLE_LABELS: Mapping[str, str] = MappingProxyType({
    STUDENT: "学生",
    "issuer": "学院学籍秘书",
    "class_teacher": "班主任",
    "college_head": "院部负责人",
    "registrar": "教务处学籍科",
    "approving_office": "审批部门",
    "admissions_office": "招生办",
    "student_affairs": "学生处",
    "archivist": "档案室",
    "admin": "系统管理员",
})


def role_label(role: str) -> str:
    """The role's Chinese label; an unknown role shows as itself."""
    return ROLE_LABELS.get(role, role)
