"""The clock is checked against the school's certificates and the latest recorded action.

Before: a clock two days behind or six years ahead made sealing fail with "The signer's
certificate could not be validated" and dated documents in the wrong year, and nothing said
why. Now ``/healthz`` answers 503 naming the clock, and ``serve`` warns at start-up.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from doc_service.services.health import check_health, clock_problems
from doc_service.storage.models import AuditEntry
from tests.web.conftest import accounts, app, db_url, runtime  # noqa: F401 - fixtures


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def test_a_correct_clock_has_no_problems(runtime: Any) -> None:  # noqa: F811
    assert clock_problems(runtime) == []
    assert check_health(runtime).ok


def test_a_clock_before_the_certificates_is_named(runtime: Any) -> None:  # noqa: F811
    root_start = runtime.keystore.root_cert().not_valid_before_utc.replace(tzinfo=None)
    problems = clock_problems(runtime, now=root_start - dt.timedelta(days=2))
    assert any("早于根证书的生效时间" in p and "请校准时间" in p for p in problems), problems
    health = check_health(runtime, now=root_start - dt.timedelta(days=2))
    assert not health.ok and any("时钟" in p for p in health.problems)


def test_a_clock_years_ahead_is_named(runtime: Any) -> None:  # noqa: F811
    ahead = _utcnow() + dt.timedelta(days=365 * 40)
    problems = clock_problems(runtime, now=ahead)
    assert any("晚于根证书的到期时间" in p for p in problems), problems
    assert any("时间戳证书" in p for p in problems)


def test_a_clock_behind_the_latest_record_is_named(runtime: Any) -> None:  # noqa: F811
    with runtime.sessions.begin() as session:
        session.add(AuditEntry(actor_kind="system", action="clock_test", object_type="test"))
    with runtime.sessions() as session:
        latest = max(e.at for e in session.query(AuditEntry).all())
    problems = clock_problems(runtime, now=latest - dt.timedelta(hours=3))
    assert any("最近一次操作" in p for p in problems), problems
    assert clock_problems(runtime, now=latest - dt.timedelta(minutes=1)) == []
