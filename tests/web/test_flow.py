"""A whole chain through the API: issue, student proves identity and signs, staff sign, seal."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from signing.verify import verify_pdf


def student_of(students: list[dict[str, Any]], class_no: str) -> dict[str, Any]:
    return next(s for s in students if s["class_no"] == class_no)


def issue_checklist(api: Any, student: dict[str, Any], who: str = "jy-issuer") -> dict[str, Any]:
    resp = api(who, "post", "/documents", json={
        "form_id": "verification_checklist", "student_no": student["student_no"],
        "data": {"registration_type": "新生学籍注册", "academic_year": "2026-2027"}})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def student_token(api: Any, doc: dict[str, Any], student: dict[str, Any]) -> str:
    resp = api(None, "post", f"/codes/{doc['code']}/identity",
               json={"student_no": student["student_no"], "id_last6": student["id_number"][-6:]})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["token"]


def test_checklist_runs_its_whole_chain_and_the_sealed_pdf_verifies(
        api: Any, students: list[dict[str, Any]], runtime: Any, tmp_path: Any) -> None:
    student = student_of(students, "交运2601")
    doc = issue_checklist(api, student)
    assert doc["number"].startswith("核〔") and doc["status"] == "in_progress"
    assert [s["role"] for s in doc["steps"]] == ["student", "class_teacher", "college_head",
                                                 "registrar"]
    assert doc["steps"][1]["signer"] == "陈明"
    token = student_token(api, doc, student)
    resp = api(token, "post", f"/documents/{doc['id']}/decisions", json={"decision": "approve"})
    assert resp.status_code == 201, resp.get_json()
    for who in ("jy-teacher1", "jy-head", "registrar"):
        inbox = api(who, "get", "/inbox").get_json()["items"]
        assert doc["id"] in [i["id"] for i in inbox]
        resp = api(who, "post", f"/documents/{doc['id']}/decisions", json={"decision": "approve"})
        assert resp.status_code == 201, resp.get_json()
    final = resp.get_json()
    assert final["status"] == "sealed"
    pdf = api("registrar", "get", f"/documents/{doc['id']}/pdf").data
    report = verify_pdf(pdf, runtime.trust_roots)
    assert report.ok, report.to_dict()
    assert len(report.signers) == 4
    path = tmp_path / "sealed.pdf"
    path.write_bytes(pdf)
    env_inst = str(runtime.instance)
    out = subprocess.run([sys.executable, "-m", "doc_service", "verify", str(path), "--json"],
                         capture_output=True, text=True, env={**__import__("os").environ,
                                                              "DOC_SERVICE_INSTANCE": env_inst})
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["ok"] is True


def test_rejection_returns_to_issuer_and_revision_restarts_the_chain(
        api: Any, students: list[dict[str, Any]]) -> None:
    student = student_of(students, "汽服2601")
    doc = issue_checklist(api, student)
    token = student_token(api, doc, student)
    resp = api(token, "post", f"/documents/{doc['id']}/decisions",
               json={"decision": "reject", "comment": "民族应为回族"})
    assert resp.status_code == 201
    assert resp.get_json()["status"] == "rejected"
    assert resp.get_json()["rejection_reason"] == "民族应为回族"
    resp = api("jy-issuer", "post", f"/documents/{doc['id']}/revisions",
               json={"data": {"ethnicity": "回族"}})
    assert resp.status_code == 201, resp.get_json()
    new = resp.get_json()
    assert new["version"] == 2 and new["number"] == doc["number"] and new["code"] != doc["code"]
    assert new["data"]["ethnicity"] == "回族"
    old = api("jy-issuer", "get", f"/documents/{doc['id']}").get_json()
    assert old["status"] == "superseded" and old["superseded_by"] == new["id"]
    assert old["steps"][0]["decision"] == "reject"
