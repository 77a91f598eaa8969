"""A fresh 学年 for each document a web test issues.

The web tests share the demo school's few students over a session and issue them many
checklists; only one per student, form and academic year may be open at a time (the
database's index, migration 0008), so each gets a year of its own."""

from __future__ import annotations

import itertools

_ISSUED = itertools.count()


def fresh_academic_year() -> str:
    """A well-formed 学年 (``20xx-20yy``) no other call gave, never 2026-2027 (which tests
    use as the year of their fixed documents)."""
    n = next(_ISSUED)
    return f"20{30 + n // 100 % 70:02d}-20{n % 100:02d}"
