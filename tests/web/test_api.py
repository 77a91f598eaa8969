"""Bad input and abuse through the JSON API: a clear, structured error and nothing changed.

Every refused request is checked against the database: no document, number, chain
record or audit row appears. Also: pagination and filters of the list, the OpenAPI
document against the routes the app really serves, and that no ID number leaks into
a log line, a URL or the audit trail.
"""

from __future__ import annotations

import contextlib
import io
import logging
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.web.academic_years import fresh_academic_year

CHECKLIST = {"registration_type": "新生学籍注册", "academic_year": "2026-2027"}


def _student(students: list[dict[str, Any]], class_no: str, index: int) -> dict[str, Any]:
    return [s for s in students if s["class_no"] == class_no][index]


def _issue(api: Any, student: dict[str, Any], who: str = "jy-issuer", **data: Any) -> Any:
    return api(who, "post", "/documents", json={
        "form_id": "verification_checklist", "student_no": student["student_no"],
        "data": {**CHECKLIST, "academic_year": fresh_academic_year(), **data}})


def _issued(api: Any, student: dict[str, Any], **data: Any) -> dict[str, Any]:
    resp = _issue(api, student, **data)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def _token(api: Any, doc: dict[str, Any], student: dict[str, Any]) -> str:
    resp = api(None, "post", f"/codes/{doc['code']}/identity",
               json={"student_no": student["student_no"], "id_last6": student["id_number"][-6:]})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["token"]  # type: ignore[no-any-return]


def _counts(runtime: Any) -> dict[str, int]:
    from doc_service.numbering import number_sequences
    from doc_service.storage.models import AuditEntry, ChainRecordRow, Document, IdentityLock

    with runtime.sessions() as s:
        return {
            "documents": s.scalar(select(func.count()).select_from(Document)) or 0,
            "audit": s.scalar(select(func.count()).select_from(AuditEntry)) or 0,
            "records": s.scalar(select(func.count()).select_from(ChainRecordRow)) or 0,
            "numbers": s.scalar(select(func.coalesce(func.sum(number_sequences.c.last_seq), 0)))
            or 0,
            "locks": s.scalar(select(func.coalesce(func.sum(IdentityLock.failures), 0))) or 0,
            "versions": s.scalar(select(func.coalesce(func.sum(Document.lock_version), 0))) or 0,
        }


@pytest.fixture
def nothing_changes(runtime: Any) -> Any:
    @contextlib.contextmanager
    def check() -> Iterator[None]:
        before = _counts(runtime)
        yield
        assert _counts(runtime) == before
    return check


def _error(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:500])
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert isinstance(body["error"], str) and isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["error"] == code, body
    return body  # type: ignore[no-any-return]


def _field_codes(body: dict[str, Any]) -> dict[str, str]:
    return {f["key"]: f["code"] for f in body.get("fields", [])}


# --- bad form data -------------------------------------------------------------------------


def test_id_number_with_a_wrong_check_digit_is_refused(
        api: Any, students: list[dict[str, Any]], nothing_changes: Any) -> None:
    student = _student(students, "交运2601", 3)
    good = student["id_number"]
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with nothing_changes():
        body = _error(_issue(api, student, id_number=bad), 422, "validation_failed")
    assert _field_codes(body)["id_number"] == "checksum"
    assert bad not in str(body) and good not in str(body)


def _deferment(student: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {"form_id": "deferment_application", "student_no": student["student_no"],
            "data": {"student_type": "在校生", "phone": "13800000000",
                     "report_date": "2026-09-01", "defer_until": "2026-09-10",
                     "reason": "因病住院，无法按时报到", "applied_on": "2026-08-28", **data}}


def test_an_impossible_date_is_refused(api: Any, students: list[dict[str, Any]],
                                       nothing_changes: Any) -> None:
    student = _student(students, "交运2601", 3)
    with nothing_changes():
        body = _error(api("jy-issuer", "post", "/documents",
                          json=_deferment(student, report_date="2026-02-30")), 422)
    assert _field_codes(body)["report_date"] == "date"


def test_dates_out_of_order_are_refused(api: Any, students: list[dict[str, Any]],
                                        nothing_changes: Any) -> None:
    student = _student(students, "交运2601", 3)
    with nothing_changes():
        body = _error(api("jy-issuer", "post", "/documents",
                          json=_deferment(student, defer_until="2026-08-30")), 422)
    assert _field_codes(body)["defer_until"] == "date_order"


def test_an_unknown_form_is_refused(api: Any, students: list[dict[str, Any]],
                                    nothing_changes: Any) -> None:
    with nothing_changes():
        _error(api("jy-issuer", "post", "/documents",
                   json={"form_id": "no_such_form", "data": {}}), 404, "form_not_found")


def test_an_unknown_field_is_refused(api: Any, students: list[dict[str, Any]],
                                     nothing_changes: Any) -> None:
    student = _student(students, "交运2601", 3)
    with nothing_changes():
        body = _error(_issue(api, student, favourite_colour="蓝"), 422)
    assert _field_codes(body)["favourite_colour"] == "unknown_field"


def test_template_syntax_and_html_in_a_name_are_stored_and_printed_literally(
        api: Any, students: list[dict[str, Any]], runtime: Any) -> None:
    from docx import Document as Docx

    student = _student(students, "交运2601", 4)
    name = "{{7*7}}<b>张</b>{%x%}&"
    doc = _issued(api, student, name=name)
    assert doc["student_name"] == name and doc["data"]["name"] == name
    again = api("jy-issuer", "get", f"/documents/{doc['id']}").get_json()
    assert again["data"]["name"] == name
    pdf = api("jy-issuer", "get", f"/documents/{doc['id']}/pdf").data
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()
    assert name in text.replace(" ", "") and "49" not in text.split("{{7*7}}")[0][-3:]
    docx = Docx(io.BytesIO(api("jy-issuer", "get", f"/documents/{doc['id']}/docx").data))
    cells = [c.text for t in docx.tables for r in t.rows for c in r.cells]
    assert any(name in c for c in cells + [p.text for p in docx.paragraphs])


# --- malformed requests --------------------------------------------------------------------


def test_a_huge_body_is_refused_with_413(api: Any, nothing_changes: Any) -> None:
    with nothing_changes():
        _error(api("jy-issuer", "post", "/documents", data=b"[" + b" " * (21 * 1024 * 1024)
                   + b"]", content_type="application/json"), 413)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"null", b""])
def test_malformed_or_non_object_json_is_refused(api: Any, raw: bytes,
                                                 nothing_changes: Any) -> None:
    with nothing_changes():
        _error(api("jy-issuer", "post", "/documents", data=raw,
                   content_type="application/json"), 400, "bad_request")


@pytest.mark.parametrize("body, status, key", [
    ({"form_id": 5, "data": {}}, 400, None),
    ({"form_id": "verification_checklist", "data": ["x"]}, 422, "data"),
    ({"form_id": "verification_checklist", "student_no": 2026010101, "data": CHECKLIST},
     422, "student_no"),
    ({"form_id": "verification_checklist", "student_no": "2026\x0001", "data": CHECKLIST},
     422, "student_no"),
    ({"form_id": "verification_checklist", "student_no": "2026010101",
      "data": {**CHECKLIST, "gender": ["男"]}}, 422, "gender"),
    ({"form_id": "verification_checklist", "student_no": "2026010101",
      "data": {**CHECKLIST, "duration_years": "四年"}}, 422, "duration_years"),
    ({"form_id": "verification_checklist", "student_no": "2026010101",
      "data": {**CHECKLIST, "name": "张\x00三"}}, 422, "name"),
    ({"form_id": "verification_checklist", "data": CHECKLIST, "extra": 1}, 400, None),
])
def test_wrong_types_are_refused(api: Any, body: dict[str, Any], status: int, key: str | None,
                                 nothing_changes: Any) -> None:
    with nothing_changes():
        answer = _error(api("jy-issuer", "post", "/documents", json=body), status)
    if key is not None:
        assert key in _field_codes(answer), answer


@pytest.fixture
def fresh(api: Any, students: list[dict[str, Any]]) -> dict[str, Any]:
    """A new checklist for a 汽服2601 student (class teacher jy-teacher2), at the student step."""
    student = _student(students, "汽服2601", 5)
    doc = _issued(api, student)
    return {"doc": doc, "student": student, "token": _token(api, doc, student)}


@pytest.mark.parametrize("body, status, key", [
    ({"decision": "maybe"}, 400, None),
    ({"decision": "approve", "comment": 5}, 400, None),
    ({"decision": "approve", "comment": "长" * 501}, 422, "comment"),
    ({"decision": "reject"}, 422, "comment"),
    ({"decision": "reject", "comment": "   "}, 422, "comment"),
    ({"decision": "reject", "comment": "错\x00误"}, 422, "comment"),
])
def test_bad_decisions_are_refused(api: Any, fresh: dict[str, Any], body: dict[str, Any],
                                   status: int, key: str | None, nothing_changes: Any) -> None:
    with nothing_changes():
        answer = _error(api(fresh["token"], "post", f"/documents/{fresh['doc']['id']}/decisions",
                            json=body), status)
    if key is not None:
        assert key in _field_codes(answer)


@pytest.mark.parametrize("body", [{"document_ids": "abc"}, {"document_ids": [1, 2]}, {},
                                  {"document_ids": ["x"] * 501}])
def test_bad_batches_are_refused(api: Any, body: dict[str, Any], nothing_changes: Any) -> None:
    with nothing_changes():
        resp = api("jy-teacher1", "post", "/documents/batch-decisions", json=body)
        assert resp.status_code in (400, 422)
        _error(resp, resp.status_code)


# --- forged, expired and reused credentials ------------------------------------------------


@pytest.mark.parametrize("code", ["FORGED0000", "forged", "A" * 200, "%00", "..%2F..%2Fetc"])
def test_a_forged_code_is_not_found(api: Any, code: str, nothing_changes: Any) -> None:
    with nothing_changes():
        _error(api(None, "get", f"/codes/{code}"), 404)
        _error(api(None, "post", f"/codes/{code}/identity",
                   json={"student_no": "2026010101", "id_last6": "123456"}), 404)


@pytest.mark.parametrize("doc_id", ["0" * 32, "%00", "x" * 300, "1%27%20OR%201=1"])
def test_a_forged_document_id_is_not_found(api: Any, doc_id: str, nothing_changes: Any) -> None:
    with nothing_changes():
        for method, suffix, kw in (("get", "", {}), ("get", "/pdf", {}),
                                   ("post", "/decisions", {"json": {"decision": "approve"}})):
            _error(api("registrar", method, f"/documents/{doc_id}{suffix}", **kw), 404)


def test_forged_tokens_are_refused(api: Any, fresh: dict[str, Any], nothing_changes: Any) -> None:
    path = f"/documents/{fresh['doc']['id']}/decisions"
    with nothing_changes():
        _error(api("ds_not-a-real-token", "post", path, json={"decision": "approve"}), 401)
        _error(api(fresh["token"][:-2] + "xx", "post", path, json={"decision": "approve"}), 401)
        _error(api("", "get", "/inbox"), 401)


def test_an_expired_student_token_is_refused(api: Any, fresh: dict[str, Any], runtime: Any,
                                             nothing_changes: Any) -> None:
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    from doc_service.services import identity

    class Yesterday(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - 24 * 3600

    old = URLSafeTimedSerializer(runtime.secret_key, salt="student-identity", signer=Yesterday)
    student = fresh["student"]
    token = old.dumps({"d": fresh["doc"]["id"], "s": student["student_no"],
                       "n": student["name"]})
    assert identity.actor_from_token(runtime, fresh["token"]).document_id == fresh["doc"]["id"]
    with nothing_changes():
        body = _error(api(token, "post", f"/documents/{fresh['doc']['id']}/decisions",
                          json={"decision": "approve"}), 401, "unauthorized")
    assert "过期" in body["message"]


def test_a_reused_student_token_cannot_sign_twice(api: Any, fresh: dict[str, Any],
                                                  nothing_changes: Any) -> None:
    path = f"/documents/{fresh['doc']['id']}/decisions"
    assert api(fresh["token"], "post", path, json={"decision": "approve"}).status_code == 201
    with nothing_changes():
        resp = api(fresh["token"], "post", path, json={"decision": "approve"})
        assert resp.status_code in (403, 409)
        _error(resp, resp.status_code)
        resp = api(fresh["token"], "post", path, json={"decision": "reject", "comment": "再改"})
        assert resp.status_code in (403, 409)


def test_signing_out_of_turn_is_forbidden(api: Any, fresh: dict[str, Any],
                                          nothing_changes: Any) -> None:
    path = f"/documents/{fresh['doc']['id']}/decisions"
    with nothing_changes():
        for who in ("jy-teacher2", "jy-head", "registrar"):
            _error(api(who, "post", path, json={"decision": "approve"}), 403, "forbidden")
    assert api(fresh["token"], "post", path, json={"decision": "approve"}).status_code == 201
    with nothing_changes():
        for who in ("jy-head", "registrar"):
            _error(api(who, "post", path, json={"decision": "approve"}), 403, "forbidden")


def test_wrong_identity_answers_count_down_then_lock_the_code(
        api: Any, fresh: dict[str, Any], runtime: Any) -> None:
    from doc_service.storage.models import AuditEntry

    doc, student = fresh["doc"], fresh["student"]
    path = f"/codes/{doc['code']}/identity"
    wrong = "000000" if student["id_number"][-6:] != "000000" else "111111"
    before = _counts(runtime)
    for left in (4, 3, 2, 1):
        body = _error(api(None, "post", path, json={"student_no": student["student_no"],
                                                    "id_last6": wrong}), 401, "unauthorized")
        assert f"还可尝试{left}次" in body["message"]
    _error(api(None, "post", path, json={"student_no": student["student_no"], "id_last6": wrong}),
           429, "locked")
    right = {"student_no": student["student_no"], "id_last6": student["id_number"][-6:]}
    locked = api(None, "post", path, json=right)
    body = _error(locked, 429, "locked")
    assert 0 < body["retry_after"] <= 15 * 60  # how long, in the body and the header
    assert locked.headers["Retry-After"] == str(body["retry_after"])
    after = _counts(runtime)
    assert after["documents"] == before["documents"] and after["records"] == before["records"]
    with runtime.sessions() as s:
        failures = s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "identity_failed", AuditEntry.object_id == doc["id"]))
    assert failures == 5
    # The token from before the lock is a different matter: it stays good for its document.
    ok = api(fresh["token"], "post", f"/documents/{doc['id']}/decisions",
             json={"decision": "approve"})
    assert ok.status_code == 201


def test_a_student_of_another_college_looks_like_no_student(
        api: Any, students: list[dict[str, Any]], nothing_changes: Any) -> None:
    jy_student = _student(students, "交运2601", 6)
    with nothing_changes():
        theirs = _error(_issue(api, jy_student, who="xx-issuer"), 404, "not_found")
        nobody = _error(api("xx-issuer", "post", "/documents", json={
            "form_id": "verification_checklist", "student_no": "2099999999",
            "data": CHECKLIST}), 404, "not_found")
    assert theirs["message"].replace(jy_student["student_no"], "?") == \
        nobody["message"].replace("2099999999", "?")
    assert jy_student["name"] not in str(theirs) and "交通运输" not in str(theirs)


def test_another_colleges_document_looks_like_no_document(
        api: Any, fresh: dict[str, Any]) -> None:
    theirs = _error(api("xx-issuer", "get", f"/documents/{fresh['doc']['id']}"), 404)
    nobody = _error(api("xx-issuer", "get", f"/documents/{'0' * 32}"), 404)
    assert theirs == nobody


# --- the list ------------------------------------------------------------------------------


def test_the_list_pages_and_filters(api: Any, students: list[dict[str, Any]]) -> None:
    student = _student(students, "物流2601", 7)
    docs = [_issued(api, student) for _ in range(3)]
    token = _token(api, docs[0], student)
    api(token, "post", f"/documents/{docs[0]['id']}/decisions",
        json={"decision": "reject", "comment": "姓名有误"})
    query = f"/documents?student_no={student['student_no']}"

    first = api("jy-issuer", "get", query + "&per_page=2").get_json()
    second = api("jy-issuer", "get", query + "&per_page=2&page=2").get_json()
    assert first["total"] == second["total"] == 3
    assert (len(first["items"]), len(second["items"])) == (2, 1)
    seen = [d["id"] for d in first["items"] + second["items"]]
    assert sorted(seen) == sorted(d["id"] for d in docs)
    assert all("data" not in d for d in first["items"])

    rejected = api("jy-issuer", "get", query + "&status=rejected").get_json()
    assert [d["id"] for d in rejected["items"]] == [docs[0]["id"]]
    running = api("jy-issuer", "get", query + "&status=in_progress").get_json()
    assert running["total"] == 2
    other_form = api("jy-issuer", "get", query + "&form_id=withdrawal_notice").get_json()
    assert other_form == {"items": [], "page": 1, "per_page": 20, "total": 0}
    assert api("jy-teacher3", "get", query).get_json()["total"] == 3
    assert api("jy-teacher1", "get", query).get_json()["total"] == 0
    assert api("xx-issuer", "get", query).get_json()["total"] == 0
    clamped = api("jy-issuer", "get", query + "&per_page=1000").get_json()
    assert clamped["per_page"] == 100


@pytest.mark.parametrize("query", ["page=abc", "per_page=x", "status=bogus",
                                   "student_no=%00", "form_id=" + "f" * 100])
def test_bad_list_parameters_are_refused(api: Any, query: str) -> None:
    _error(api("jy-issuer", "get", f"/documents?{query}"), 400, "bad_request")


# --- the OpenAPI document ------------------------------------------------------------------


def test_openapi_is_a_valid_3_1_document_listing_every_route(api: Any, app: Any) -> None:
    import re

    spec = api(None, "get", "/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1.")
    assert spec["info"]["title"] and spec["info"]["version"]
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len("/api/v1"):])
            served |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert described == served

    schemes = spec["components"]["securitySchemes"]
    for path, ops in spec["paths"].items():
        assert path.startswith("/")
        template = set(re.findall(r"{([^}]+)}", path))
        for method, op in ops.items():
            assert method in {"get", "post", "put", "patch", "delete"}
            assert op["responses"] and all("description" in r for r in op["responses"].values())
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == template, (path, method)
            assert all(p["required"] for p in op.get("parameters", []) if p["in"] == "path")
            for requirement in op.get("security", spec["security"]):
                assert set(requirement) <= set(schemes)

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    yield v
                else:
                    yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for ref in refs(spec):
        target: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        assert isinstance(target, dict)


# --- no ID number in a URL, a log line or the audit trail -----------------------------------


def test_no_id_number_in_any_url_log_line_or_audit_row(
        api: Any, client: Any, students: list[dict[str, Any]], runtime: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    from doc_service.storage.models import AuditEntry

    # Everything at DEBUG except SQLAlchemy's own SQL echo (off unless asked for; see the
    # hide_parameters note in the engine set-up).
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.WARNING, logger="sqlalchemy")
    id_numbers = {s["id_number"] for s in students}
    paths: list[str] = []
    original = client.open

    def tracking_open(*args: Any, **kwargs: Any) -> Any:
        resp = original(*args, **kwargs)
        paths.append(resp.request.url)
        if resp.headers.get("Location"):
            paths.append(resp.headers["Location"])
        return resp

    client.open = tracking_open  # type: ignore[method-assign]
    student = _student(students, "交运2601", 8)
    with runtime.sessions() as s:
        first_audit = s.scalar(select(func.max(AuditEntry.id))) or 0

    doc = _issued(api, student)
    bad = student["id_number"][:17] + ("0" if student["id_number"][17] != "0" else "1")
    _issue(api, student, id_number=bad)
    api(None, "post", f"/codes/{doc['code']}/identity",
        json={"student_no": student["student_no"], "id_last6": "000000"})
    token = _token(api, doc, student)
    api(token, "get", f"/documents/{doc['id']}")
    for who in (token, "jy-teacher1", "jy-head", "registrar"):
        resp = api(who, "post", f"/documents/{doc['id']}/decisions",
                   json={"decision": "approve"})
        assert resp.status_code == 201, resp.get_json()
    api("registrar", "get", f"/documents/{doc['id']}/pdf")
    api("jy-issuer", "get", f"/documents?student_no={student['student_no']}")
    api(None, "get", f"/codes/{doc['code']}")
    api("registrar", "get", "/documents/%00")

    leaks = [r.getMessage() for r in caplog.records
             if any(n in r.getMessage() or n in str(r.args) for n in id_numbers)]
    assert leaks == []
    assert paths and not [p for p in paths if any(n in p for n in id_numbers)]
    assert doc["id"] not in id_numbers and not any(n in doc["code"] for n in id_numbers)
    with runtime.sessions() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.id > first_audit)))
    assert rows
    for row in rows:
        text = f"{row.detail} {row.object_id} {row.actor_id} {row.actor_name}"
        assert not any(n in text or n[-6:] in str(row.detail) for n in id_numbers), row.action
