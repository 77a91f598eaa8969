"""Rate limits and the QR identity check under hostile use (issue 15).

Each test gets an app of its own with rate limiting on (the shared test app has it off),
its counts in memory or, for the test of several workers, in the Redis at 127.0.0.1:6379.
The module has a database of its own (the documents it issues for 50 students stay out of
the other tests' lists). Client addresses are set in the WSGI environment; no traffic
leaves the process.

Before issue 15: the limiter was each process's own memory (two workers doubled every
limit), login was limited per address only, the identity check locked the code for everyone
after five wrong answers from anywhere, one campus address shared one identity limit for
all its students, and a 429 did not say how long to wait.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis
from redis.exceptions import RedisError

from doc_service.bootstrap import build_runtime
from doc_service.services.demo import demo_accounts, demo_students, ensure_keys, load_demo
from doc_service.web import create_app
from tests.conftest import database_for_tests
from tests.web.academic_years import fresh_academic_year
from tests.web.test_pages import csrf_of

REDIS = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    try:
        return bool(Redis.from_url(REDIS, socket_connect_timeout=1).ping())
    except RedisError:
        return False


def _app(runtime: Any, **config: Any) -> Any:
    return create_app({"TESTING": True, "SECRET_KEY": "test-secret", "RATELIMIT_ENABLED": True,
                       **config}, runtime=runtime)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    urls = database_for_tests(tmp_path_factory, "limits")
    rt = build_runtime(tmp_path_factory.mktemp("limits"), secret_key="test-secret",
                       database_url=next(urls), migrate=True)
    load_demo(rt)
    ensure_keys(rt)
    yield rt
    rt.engine.dispose()
    next(urls, None)


@pytest.fixture(scope="module")
def accounts(runtime: Any) -> dict[str, dict[str, Any]]:
    return {a["username"]: a for a in demo_accounts(runtime)}


@pytest.fixture(scope="module")
def students(runtime: Any) -> list[dict[str, Any]]:
    return demo_students(runtime)


@pytest.fixture(scope="module")
def api(runtime: Any, accounts: dict[str, dict[str, Any]]) -> Any:
    """Staff calls to this module's service, without rate limits (for setting up)."""
    client = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                         "RATELIMIT_ENABLED": False}, runtime=runtime).test_client()

    def call(who: str, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {accounts[who]['token']}"}
        return getattr(client, method)("/api/v1" + path, headers=headers, **kw)
    return call


@pytest.fixture
def limited(runtime: Any) -> Any:
    return _app(runtime, RATELIMIT_STORAGE_URI="memory://")


def _client(app: Any, ip: str) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def _login(client: Any, username: str, password: str) -> Any:
    csrf = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"csrf_token": csrf, "username": username,
                                       "password": password})


def _assert_human_429(resp: Any) -> None:
    assert resp.status_code == 429
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert "请求过于频繁" in html and "后再试" in html
    assert int(resp.headers["Retry-After"]) > 0


def test_login_is_limited_per_account_whatever_the_address(
        limited: Any, accounts: dict[str, dict[str, Any]]) -> None:
    for i in range(10):
        resp = _login(_client(limited, f"10.20.0.{i}"), "archivist", "wrong password")
        assert resp.status_code == 401
    # The eleventh try, from yet another address and with the right password, waits.
    resp = _login(_client(limited, "10.20.1.1"), "archivist", accounts["archivist"]["password"])
    _assert_human_429(resp)
    # Another account is not held up.
    resp = _login(_client(limited, "10.20.1.1"), "admin", accounts["admin"]["password"])
    assert resp.status_code == 302


def test_a_429_is_a_chinese_page_for_people_and_json_for_programs(limited: Any) -> None:
    client = _client(limited, "10.21.0.1")
    answers = [client.get("/login").status_code for _ in range(31)]
    assert answers[:30] == [200] * 30
    _assert_human_429(client.get("/login"))

    api = _client(limited, "10.21.0.2")
    answers = [api.get("/api/v1/codes/FORGED0000").status_code for _ in range(120)]
    assert 429 not in answers
    resp = api.get("/api/v1/codes/FORGED0000")
    assert resp.status_code == 429 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["error"] == "rate_limited" and "请求过于频繁" in body["message"]
    assert isinstance(body["retry_after"], int) and body["retry_after"] > 0
    assert resp.headers["Retry-After"] == str(body["retry_after"])


@pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")
def test_two_workers_sharing_redis_share_the_count(
        runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", REDIS)
    prefix = f"doc-service-test-{uuid.uuid4().hex[:8]}"
    first, second = (_app(runtime, RATELIMIT_KEY_PREFIX=prefix) for _ in range(2))
    one, two = _client(first, "10.22.0.1"), _client(second, "10.22.0.1")
    for _ in range(15):
        assert one.get("/login").status_code == 200
        assert two.get("/login").status_code == 200
    _assert_human_429(one.get("/login"))  # 31st login page view of this address
    _assert_human_429(two.get("/login"))
    assert _client(first, "10.22.0.2").get("/login").status_code == 200
    assert first.config["RATELIMIT_STORAGE_URI"] == REDIS  # taken from REDIS_URL


@pytest.fixture
def checklist(api: Any, students: list[dict[str, Any]]) -> Iterator[tuple[dict, dict]]:
    student = [s for s in students if s["class_no"] == "交运2601"][3]
    resp = api("jy-issuer", "post", "/documents", json={
        "form_id": "verification_checklist", "student_no": student["student_no"],
        "data": {"registration_type": "新生学籍注册", "academic_year": fresh_academic_year()}})
    assert resp.status_code == 201, resp.get_json()
    yield resp.get_json(), student


def _prove(client: Any, doc: dict[str, Any], student: dict[str, Any], last6: str) -> Any:
    csrf = csrf_of(client.get(f"/d/{doc['code']}").get_data(as_text=True))
    return client.post(f"/d/{doc['code']}/identity", data={
        "csrf_token": csrf, "student_no": student["student_no"], "id_last6": last6})


def test_a_guesser_elsewhere_cannot_lock_the_student_out_and_staff_can_unlock(
        limited: Any, checklist: tuple[dict, dict], accounts: dict[str, dict[str, Any]]) -> None:
    doc, student = checklist
    right = student["id_number"][-6:]
    wrong = "000000" if right != "000000" else "111111"
    guesser = _client(limited, "10.23.0.66")
    assert [_prove(guesser, doc, student, wrong).status_code for _ in range(5)] == \
        [401, 401, 401, 401, 429]
    waiting = _prove(guesser, doc, student, right)  # that address waits, and is told how long
    assert waiting.status_code == 429
    assert 0 < int(waiting.headers["Retry-After"]) <= 15 * 60
    # The student, on their own phone elsewhere, gets in.
    phone = _client(limited, "10.23.0.7")
    resp = _prove(phone, doc, student, right)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/sign")
    # The issuer clears the lock from the document's page; the address may try again.
    issuer = _client(limited, "10.23.0.1")
    assert _login(issuer, "jy-issuer", accounts["jy-issuer"]["password"]).status_code == 302
    page = issuer.get(f"/documents/{doc['id']}").get_data(as_text=True)
    assert "解除学生身份验证锁定" in page
    resp = issuer.post(f"/documents/{doc['id']}/identity-unlock",
                       data={"csrf_token": csrf_of(page)})
    assert resp.status_code == 302
    again = _prove(guesser, doc, student, wrong)
    assert again.status_code == 401 and "还可尝试4次" in again.get_data(as_text=True)


def test_fifty_students_behind_one_campus_address_all_get_through(
        limited: Any, api: Any, students: list[dict[str, Any]]) -> None:
    docs = []
    for student in students[:50]:
        resp = api("registrar", "post", "/documents", json={
            "form_id": "verification_checklist", "student_no": student["student_no"],
            "data": {"registration_type": "在校生学年注册", "academic_year": fresh_academic_year()}})
        assert resp.status_code == 201, resp.get_json()
        docs.append((resp.get_json(), student))
    campus = _client(limited, "10.24.0.1")
    answers = [_prove(campus, doc, student, student["id_number"][-6:]).status_code
               for doc, student in docs]
    assert answers == [302] * 50


def test_an_unreachable_limit_store_lets_requests_through_and_says_so(
        runtime: Any, caplog: pytest.LogCaptureFixture) -> None:
    app = _app(runtime, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")  # a closed port
    with caplog.at_level("WARNING", logger="doc_service.web.security"):
        assert _client(app, "10.25.0.1").get("/login").status_code == 200
    assert "rate limit storage unavailable" in caplog.text
