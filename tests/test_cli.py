"""The doc-service command line, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from doc_service.config import FORMS_ROOT
from tests.conftest import example


def cli(*args: str, instance: Path) -> subprocess.CompletedProcess[str]:
    # The CLI numbers documents in the instance's own database: keep it on SQLite here even
    # when the suite runs against PostgreSQL, so each test starts from a fresh sequence.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DOC_SERVICE_INSTANCE"] = str(instance)
    return subprocess.run([sys.executable, "-m", "doc_service", *args], capture_output=True,
                          text=True, env=env, timeout=180, check=False)


def test_forms_json_lists_the_five_forms_and_their_fields(tmp_path: Path) -> None:
    result = cli("forms", "--json", instance=tmp_path)
    assert result.returncode == 0, result.stderr
    forms = json.loads(result.stdout)
    assert [f["id"] for f in forms] == ["withdrawal_notice", "deferment_application",
                                        "verification_checklist", "status_change_notice",
                                        "enrollment_certificate"]
    fields = {f["key"]: f for f in forms[2]["fields"]}
    assert fields["id_number"]["label"] == "身份证号" and fields["id_number"]["required"]


def test_forms_plain_listing_is_chinese(tmp_path: Path) -> None:
    result = cli("forms", instance=tmp_path)
    assert result.returncode == 0
    assert "学籍电子注册信息核对表" in result.stdout and "签批流程" in result.stdout


def test_render_writes_pdf_and_docx_and_numbers_in_sequence(tmp_path: Path) -> None:
    data = FORMS_ROOT / "status_change_notice" / "example.json"
    first = cli("render", "status_change_notice", str(data), "--out", str(tmp_path / "a.pdf"),
                "--docx", str(tmp_path / "a.docx"), instance=tmp_path / "inst")
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF-")
    assert (tmp_path / "a.docx").read_bytes().startswith(b"PK")
    second = cli("render", "status_change_notice", str(data), "--out", str(tmp_path / "b.pdf"),
                 instance=tmp_path / "inst")
    assert second.returncode == 0, second.stderr
    assert "学籍异动〔" in first.stdout
    n1 = first.stdout.split("文号 ")[1].split("，")[0]
    n2 = second.stdout.split("文号 ")[1].split("，")[0]
    assert n1.endswith("〕1号") and n2.endswith("〕2号")


def test_bad_data_exits_non_zero_with_field_errors_and_writes_nothing(tmp_path: Path) -> None:
    bad = example("verification_checklist")
    bad["id_number"] = bad["id_number"][:-1] + ("1" if bad["id_number"][-1] != "1" else "2")
    bad["birth_date"] = "2007-02-30"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out.pdf"
    result = cli("render", "verification_checklist", str(path), "--out", str(out),
                 "--docx", str(tmp_path / "out.docx"), instance=tmp_path / "inst")
    assert result.returncode == 2
    assert "id_number: 身份证号校验位错误" in result.stderr
    assert "birth_date:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not (tmp_path / "out.docx").exists()
    assert list(tmp_path.glob(".out*")) == []


def test_bad_data_errors_as_json_for_programs(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"name": ""}', encoding="utf-8")
    result = cli("render", "enrollment_certificate", str(path), "--out", str(tmp_path / "o.pdf"),
                 "--json", instance=tmp_path / "inst")
    assert result.returncode == 2
    payload = json.loads(result.stderr)
    assert payload["error"] == "validation_failed"
    assert {"key": "name", "message": "请填写姓名", "code": "required"} in payload["fields"]


def test_unreadable_data_file_and_unknown_form_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(b"{not json")
    result = cli("render", "withdrawal_notice", str(path), "--out", str(tmp_path / "o.pdf"),
                 instance=tmp_path / "inst")
    assert result.returncode == 2 and "无法读取数据文件" in result.stderr
    path.write_text("{}", encoding="utf-8")
    result = cli("render", "no_such_form", str(path), "--out", str(tmp_path / "o.pdf"),
                 instance=tmp_path / "inst")
    assert result.returncode == 1 and "没有这种表单" in result.stderr
    assert "Traceback" not in result.stderr
