"""``doc-service archive ...``: Chinese for people, JSON for programs, exit 0 only when well."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding

from archive.index import install
from archive.service import archive_document
from archive.store import FileContentStore
from doc_service.db import database_url, make_engine


@pytest.fixture
def instance(tmp_path, monkeypatch, make_input, seal_document, keystore):
    """An instance folder whose archive holds one sealed document, as the CLI sees it."""
    inst = tmp_path / "instance"
    inst.mkdir()
    monkeypatch.setenv("DOC_SERVICE_INSTANCE", str(inst))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (inst / "keys" / "root").mkdir(parents=True)
    (inst / "keys" / "root" / "cert.pem").write_bytes(keystore.root_cert().public_bytes(
        Encoding.PEM))
    engine = make_engine(database_url(inst))
    install(engine)
    pdf, chain = seal_document("CLI-1")
    archive_document(engine, FileContentStore(inst / "archive"),
                     make_input("CLI-1", final_pdf=pdf, chain_json=chain))
    engine.dispose()
    return inst


def run(cli, *args):
    return CliRunner().invoke(cli, ["archive", *args], catch_exceptions=False)


def test_fixity_and_scan_pass_on_an_intact_archive(cli, instance):
    r = run(cli, "fixity")
    assert r.exit_code == 0 and "固定性检查通过" in r.output
    data = json.loads(run(cli, "fixity", "--json").output)
    assert data["ok"] and data["files_checked"] == 2
    r = run(cli, "scan")
    assert r.exit_code == 0 and "档案库完整" in r.output


def test_fixity_fails_on_a_changed_file(cli, instance):
    store = FileContentStore(instance / "archive")
    sha = next(s for s in store.iter_all() if store.get(s).startswith(b"%PDF"))
    p = store.path_of(sha)
    p.chmod(0o644)
    p.write_bytes(p.read_bytes()[:-10] + b"0123456789")
    r = run(cli, "fixity")
    assert r.exit_code == 1 and "已被改动" in r.output and sha in r.output
    assert run(cli, "scan", "--deep", "--json").exit_code == 1


def test_export_then_check_elsewhere(cli, instance, tmp_path):
    out = tmp_path / "pkg.zip"
    r = run(cli, "export", "--out", str(out), "--student-no", "20240001", "--from",
            "2024-01-01", "--to", "2024-12-31")
    assert r.exit_code == 0, r.output
    assert "已导出 1 条档案记录" in r.output
    r = run(cli, "check", str(out))
    assert r.exit_code == 0 and "签名有效" in r.output and "校验通过" in r.output
    data = json.loads(run(cli, "check", str(out), "--json").output)
    assert data["ok"] and data["trust_root_source"] == "package"
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"junk")
    assert run(cli, "check", str(bad)).exit_code == 1
    assert run(cli, "export", "--out", str(out), "--from", "2024-13-01").exit_code == 2


def test_backup_and_restore_commands(cli, instance, tmp_path, monkeypatch):
    r = run(cli, "backup", "--out", str(tmp_path / "bk"))
    assert r.exit_code == 0 and "1 条档案记录" in r.output
    assert run(cli, "backup", "--out", str(tmp_path / "bk")).exit_code == 2
    other = tmp_path / "other-instance"
    monkeypatch.setenv("DOC_SERVICE_INSTANCE", str(other))
    r = run(cli, "restore", str(tmp_path / "bk"), "--json")
    assert r.exit_code == 0 and json.loads(r.output)["rows"]["archive_records"] == 1
    assert run(cli, "fixity").exit_code == 0
