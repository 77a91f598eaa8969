"""Every demo role against every /api/v1 endpoint, on one document of 交通运输学院.

The document is a verification checklist for a student of 交运2601 (class teacher
jy-teacher1), waiting at its first step: the student's own signature. Expectations
follow DOMAIN.md: a college's staff see only their college's documents, a class
teacher only their classes, the school-wide offices (registrar, approving office,
archivist, admin) everything; only issuers and the registrar issue; only the
current step's signer decides. What one may not see answers 404 (as if it did not
exist), what one may see but not do answers 403, no credentials 401.

Cells: a status code; ``200+`` / ``200-`` for the list (the document is / is not in
it); ``200ok`` / ``200no`` for a batch approval (the document's own outcome).
A refused state change must leave the document exactly as it was.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tests.web.academic_years import fresh_academic_year

ROLES = ("admin", "registrar", "office", "archivist", "jy-issuer", "jy-head", "jy-teacher1",
         "jy-teacher2", "xx-issuer", "xx-head", "xx-teacher1", "student", "student-other",
         "anonymous")

# Columns: adm admin, reg registrar, off office (approving office), arc archivist, jI/jH/jT1
# jy-issuer/-head/-teacher1 (teacher of the document's class), jT2 jy-teacher2 (another class
# of the same college), xI/xH/xT1 the same roles of 信息工程学院, stu a token for this
# document's student, st2 a student token for another jy document, anon no credentials.
COLUMNS = {"adm": "admin", "reg": "registrar", "off": "office", "arc": "archivist",
           "jI": "jy-issuer", "jH": "jy-head", "jT1": "jy-teacher1", "jT2": "jy-teacher2",
           "xI": "xx-issuer", "xH": "xx-head", "xT1": "xx-teacher1", "stu": "student",
           "st2": "student-other", "anon": "anonymous"}
MATRIX = """
endpoint adm   reg   off   arc   jI    jH    jT1   jT2   xI    xH    xT1   stu   st2  anon
forms   200   200   200   200   200   200   200   200   200   200   200   200   200  200
issue   403   201   403   403   201   403   403   404   404   404   404   403   403  401
list    200+  200+  200+  200+  200+  200+  200+  200-  200-  200-  200-  403   403  401
get     200   200   200   200   200   200   200   404   404   404   404   200   404  401
pdf     200   200   200   200   200   200   200   404   404   404   404   200   404  401
docx    403   200   403   403   200   403   403   404   404   404   404   403   404  401
decide  403   403   403   403   403   403   403   404   404   404   404   201   404  401
batch   200no 200no 200no 200no 200no 200no 200no 200no 200no 200no 200no 403   403  401
revise  403   409   403   403   409   403   403   404   404   404   404   403   403  401
chsi    403   409   403   403   403   403   403   403   403   403   403   403   403  401
inbox   200   200   200   200   200   200   200   200   200   200   200   403   403  401
code    200   200   200   200   200   200   200   200   200   200   200   200   200  200
ident   200   200   200   200   200   200   200   200   200   200   200   200   200  200
openapi 200   200   200   200   200   200   200   200   200   200   200   200   200  200
unlock  403   200   403   403   200   403   403   404   404   404   404   403   403  401
"""


def _parse(table: str) -> dict[tuple[str, str], str]:
    lines = [line.split() for line in table.strip().splitlines()]
    header = [COLUMNS[c] for c in lines[0][1:]]
    assert tuple(header) == ROLES
    return {(row[0], role): cell for row in lines[1:] for role, cell in zip(header, row[1:],
                                                                          strict=True)}


EXPECTED = _parse(MATRIX)
ENDPOINTS = tuple(dict.fromkeys(endpoint for endpoint, _ in EXPECTED))
MUTATING = {"decide", "batch", "revise", "chsi"}


def _student(students: list[dict[str, Any]], class_no: str, index: int = 0) -> dict[str, Any]:
    return [s for s in students if s["class_no"] == class_no][index]


class Caller:
    """The API as one role sees it (a module-scoped stand-in for the ``api`` fixture)."""

    def __init__(self, app: Any, accounts: dict[str, Any]) -> None:
        self.client, self.accounts = app.test_client(), accounts

    def __call__(self, who: str | None, method: str, path: str, **kw: Any) -> Any:
        headers = {}
        if who is not None:
            token = self.accounts[who]["token"] if who in self.accounts else who
            headers["Authorization"] = f"Bearer {token}"
        return getattr(self.client, method)("/api/v1" + path, headers=headers, **kw)


def _issue(call: Any, student: dict[str, Any], who: str = "jy-issuer") -> dict[str, Any]:
    resp = call(who, "post", "/documents", json=_issue_body(student))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def _issue_body(student: dict[str, Any]) -> dict[str, Any]:
    return {"form_id": "verification_checklist", "student_no": student["student_no"],
            "data": {"registration_type": "新生学籍注册", "academic_year": fresh_academic_year()}}


def _token(call: Any, doc: dict[str, Any], student: dict[str, Any]) -> str:
    resp = call(None, "post", f"/codes/{doc['code']}/identity",
                json={"student_no": student["student_no"],
                      "id_last6": student["id_number"][-6:]})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["token"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def call(app: Any, accounts: dict[str, Any]) -> Caller:
    return Caller(app, accounts)


@pytest.fixture(scope="module")
def setting(call: Caller, students: list[dict[str, Any]]) -> dict[str, Any]:
    """The document under test, its student's token, and a token for another jy document."""
    student = _student(students, "交运2601", 0)
    doc = _issue(call, student)
    other_student = _student(students, "交运2601", 1)
    other = _issue(call, other_student)
    return {"doc": doc, "student": student, "token": _token(call, doc, student),
            "other_token": _token(call, other, other_student)}


def _snapshot(runtime: Any, doc_id: str) -> tuple[Any, ...]:
    from doc_service.storage.models import ChainRecordRow, Document

    with runtime.sessions() as s:
        doc = s.get(Document, doc_id)
        records = s.scalar(select(func.count()).select_from(ChainRecordRow)
                           .where(ChainRecordRow.document_id == doc_id))
        return (doc.status, doc.lock_version, doc.current_sha256, doc.chsi_marked_at, records,
                tuple((st.state, st.decision) for st in doc.steps))


def _request(call: Caller, endpoint: str, who: str | None, doc: dict[str, Any],
             student: dict[str, Any]) -> Any:
    doc_path = f"/documents/{doc['id']}"
    return {
        "forms": lambda: call(who, "get", "/forms"),
        "issue": lambda: call(who, "post", "/documents", json=_issue_body(student)),
        "list": lambda: call(who, "get",
                             f"/documents?student_no={student['student_no']}&per_page=100"),
        "get": lambda: call(who, "get", doc_path),
        "pdf": lambda: call(who, "get", doc_path + "/pdf"),
        "docx": lambda: call(who, "get", doc_path + "/docx"),
        "decide": lambda: call(who, "post", doc_path + "/decisions",
                               json={"decision": "approve"}),
        "batch": lambda: call(who, "post", "/documents/batch-decisions",
                              json={"document_ids": [doc["id"]]}),
        "revise": lambda: call(who, "post", doc_path + "/revisions",
                               json={"data": {"ethnicity": "回族"}}),
        "chsi": lambda: call(who, "post", doc_path + "/chsi-marked", json={}),
        "inbox": lambda: call(who, "get", "/inbox"),
        "code": lambda: call(who, "get", f"/codes/{doc['code']}"),
        "ident": lambda: call(who, "post", f"/codes/{doc['code']}/identity",
                                 json={"student_no": student["student_no"],
                                       "id_last6": student["id_number"][-6:]}),
        "openapi": lambda: call(who, "get", "/openapi.json"),
        "unlock": lambda: call(who, "post", doc_path + "/identity-unlock"),
    }[endpoint]()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("role", ROLES)
def test_role_gets_the_expected_answer_from_each_endpoint(
        role: str, endpoint: str, call: Caller, setting: dict[str, Any], runtime: Any) -> None:
    expected = EXPECTED[(endpoint, role)]
    status, flag = int(expected[:3]), expected[3:]
    doc, student, token = setting["doc"], setting["student"], setting["token"]
    if endpoint in MUTATING and status < 300 and flag != "no":
        # A permitted decision changes the document: take a fresh one of the same kind.
        doc = _issue(call, student)
        token = _token(call, doc, student)
    who = {"student": token, "student-other": setting["other_token"],
           "anonymous": None}.get(role, role)
    before = _snapshot(runtime, doc["id"])

    resp = _request(call, endpoint, who, doc, student)

    body = resp.get_json(silent=True)
    assert resp.status_code == status, (role, endpoint, body)
    if status >= 400:
        assert set(body) >= {"error", "message"}, body
    if flag in ("+", "-"):
        listed = doc["id"] in [d["id"] for d in body["items"]]
        assert listed is (flag == "+"), (role, body["total"])
    if flag in ("ok", "no"):
        assert body["results"][0]["ok"] is (flag == "ok"), body
    if endpoint in MUTATING and (status >= 400 or flag == "no"):
        assert _snapshot(runtime, doc["id"]) == before


def test_matrix_covers_every_route_of_the_document_api(app: Any) -> None:
    # The archive's /api/v1 routes (another blueprint) have their own permission tests.
    routes = {(rule.rule, method) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert len(routes) == len(ENDPOINTS), sorted(routes)


# Who may sign the class teacher's step (after the student signed): only that class's teacher.
SIGN_MATRIX = {"jy-teacher1": 201, "jy-teacher2": 404, "jy-head": 403, "jy-issuer": 403,
               "registrar": 403, "xx-teacher1": 404, "xx-head": 404, "student": 403}


@pytest.fixture(scope="module")
def at_teacher_step(call: Caller, students: list[dict[str, Any]]) -> dict[str, Any]:
    student = _student(students, "交运2601", 2)
    doc = _issue(call, student)
    token = _token(call, doc, student)
    resp = call(token, "post", f"/documents/{doc['id']}/decisions", json={"decision": "approve"})
    assert resp.status_code == 201, resp.get_json()
    return {"doc": resp.get_json(), "student": student, "token": token}


@pytest.mark.parametrize("role", SIGN_MATRIX)
def test_only_the_class_teacher_signs_the_class_teacher_step(
        role: str, call: Caller, at_teacher_step: dict[str, Any], runtime: Any) -> None:
    doc = at_teacher_step["doc"]
    if SIGN_MATRIX[role] == 201:
        student = at_teacher_step["student"]
        doc = _issue(call, student)
        call(_token(call, doc, student), "post", f"/documents/{doc['id']}/decisions",
             json={"decision": "approve"})
    who = at_teacher_step["token"] if role == "student" else role
    before = _snapshot(runtime, doc["id"])
    resp = call(who, "post", f"/documents/{doc['id']}/decisions", json={"decision": "approve"})
    assert resp.status_code == SIGN_MATRIX[role], resp.get_json()
    if resp.status_code != 201:
        assert _snapshot(runtime, doc["id"]) == before
    else:
        assert [s["state"] for s in resp.get_json()["steps"]] == ["done", "done", "current",
                                                                 "waiting"]


@pytest.mark.parametrize("role, sees", [("registrar", True), ("archivist", True),
                                        ("jy-issuer", True), ("jy-head", False),
                                        ("jy-teacher1", False), ("admin", False),
                                        ("office", False), ("student", True)])
def test_id_numbers_are_shown_only_to_those_who_need_them(
        role: str, sees: bool, call: Caller, setting: dict[str, Any]) -> None:
    who = setting["token"] if role == "student" else role
    data = call(who, "get", f"/documents/{setting['doc']['id']}").get_json()["data"]
    assert (data["id_number"] == setting["student"]["id_number"]) is sees
    if not sees:
        assert "*" in data["id_number"] and "*" in data["exam_no"]


def test_the_public_code_page_masks_the_name(call: Caller, setting: dict[str, Any]) -> None:
    doc, student = setting["doc"], setting["student"]
    public = call(None, "get", f"/codes/{doc['code']}").get_json()
    assert public["student_name"] != student["name"] and "*" in public["student_name"]
    assert student["id_number"] not in str(public)
    own = call(setting["token"], "get", f"/codes/{doc['code']}").get_json()
    assert own["student_name"] == student["name"]
