"""CLI for the signing package: ``keys init``, ``keys root``, ``verify``, ``demo-chain``.

Thin on purpose: parse, call one function from ``signing``, shape the answer. Registered on
the main ``doc-service`` group with :func:`register`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from cryptography import x509

from doc_service.bootstrap import build_runtime
from doc_service.commands import cli_runtime
from doc_service.config import instance_path
from doc_service.errors import DocServiceError
from doc_service.issuing import render_standalone
from doc_service.services.runtime import Runtime
from doc_service.services.staff import rotate_signing_key
from signing.box import SignatureBox
from signing.chain import ApprovalChain, ChainStep
from signing.errors import SigningError
from signing.keystore import KeyStore
from signing.records import Decision
from signing.roles import ROLE_LABELS
from signing.steps import record_and_sign
from signing.verify import verify_pdf


def keys_runtime() -> Runtime:
    """The instance's runtime for commands that use only its keys (no database access)."""
    return build_runtime(instance_path())


def open_keystore() -> KeyStore:
    return keys_runtime().keystore


@click.group("keys")
def keys_group() -> None:
    """The institution's keys and certificates."""


@keys_group.command("init")
@click.option("--school", required=True, help="学校全称, e.g. 江南理工职业技术学院")
@click.option("--college", "colleges", multiple=True, help="学院名称 (repeat for each)")
def keys_init(school: str, colleges: tuple[str, ...]) -> None:
    """Create root CA, TSA, school seal and college seals in the instance folder."""
    try:
        ks = open_keystore()
        ks.init_institution(school, list(colleges))
    except SigningError as e:
        raise click.ClickException(str(e)) from e
    if not os.environ.get("DOC_SERVICE_KEY_PASSPHRASE"):
        click.secho("警告 WARNING: DOC_SERVICE_KEY_PASSPHRASE is not set; keys are encrypted "
                    "under a development secret in the instance folder.", fg="red", err=True)
    click.echo(f"已创建 created: {ks.path} (root, tsa, {1 + len(colleges)} seals)")


@keys_group.command("rotate")
@click.argument("username")
def keys_rotate(username: str) -> None:
    """Issue a new signing key and certificate for a staff member (old ones stay valid)."""
    try:
        user, ident = rotate_signing_key(cli_runtime(), username)
    except DocServiceError as e:
        raise click.ClickException(e.message) from e
    name = user.name
    click.echo(f"已为 {name} 签发新证书，序列号 {ident.cert.serial_number:x}；旧证书保留，已签文书仍可核验")


@keys_group.command("root")
def keys_root() -> None:
    """Print the root certificate (PEM) for anyone who wants to trust it."""
    try:
        click.echo(open_keystore().root_pem(), nl=False)
    except SigningError as e:
        raise click.ClickException(str(e)) from e


@click.command("verify")
@click.argument("pdf_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option("--root", "root_pem", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="trust this root (PEM) instead of the instance's")
def verify_cmd(pdf_file: Path, as_json: bool, root_pem: Path | None) -> None:
    """Verify a signed document; exit 0 only when every check holds, 1 when the document is
    invalid or cannot be parsed as a PDF (the report says which)."""
    quiet_library_logs()
    try:
        roots = ([x509.load_pem_x509_certificate(root_pem.read_bytes())] if root_pem
                 else [open_keystore().root_cert()])
    except (SigningError, ValueError) as e:
        raise click.ClickException(f"no trust root: {e}") from e
    try:
        data = pdf_file.read_bytes()
    except OSError as e:
        raise click.ClickException(f"无法读取文件 {pdf_file}：{e.strerror}") from e
    report = verify_pdf(data, roots)
    unreadable = next((c for c in report.document_checks
                       if c.name == "readable" and not c.ok), None)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    elif unreadable is not None:
        click.echo(f"文件 {pdf_file}")
        click.echo(f"  ✘ 无法解析的 PDF：文件已损坏或结构异常（{unreadable.detail}）")
        click.echo("结论 RESULT: 无效 INVALID")
    else:
        mark = {True: "✔", False: "✘"}
        click.echo(f"文件 {pdf_file}  文档 {report.document_id} v{report.document_version}")
        for s in report.signers:
            role = ROLE_LABELS.get(s.role, s.role)
            click.echo(f"  {mark[s.ok]} #{s.position} {role} {s.signer_name} {s.decision} {s.at}")
            for c in s.all_checks():
                if not c.ok:
                    click.echo(f"      ✘ {c.name}: {c.detail}")
        for c in report.document_checks:
            click.echo(f"  {mark[c.ok]} {c.name}" + (f": {c.detail}" if c.detail else ""))
        click.echo("结论 RESULT: " + ("有效 VALID" if report.ok else "无效 INVALID"))
    sys.exit(0 if report.ok else 1)


LIBRARY_LOGGERS = ("pyhanko", "pyhanko_certvalidator")
"""Libraries that log (with tracebacks) what the verification report already says."""


def quiet_library_logs() -> None:
    """Keep the libraries' log output away from the terminal: a damaged file is a finding
    in the report, not a page of pyHanko's internal tracebacks."""
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


DEMO_PEOPLE = {
    "student": ("demo-student", "张三"),
    "class_teacher": ("demo-teacher", "李老师"),
    "college_head": ("demo-head", "王院长"),
    "approving_office": ("demo-office", "审批办"),
    "registrar": ("demo-registrar", "赵科长"),
}


@click.command("demo-chain")
@click.argument("form_id")
@click.argument("data_json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
def demo_chain(form_id: str, data_json: Path, out_path: Path) -> None:
    """Render FORM_ID with DATA.json and run its default chain with demo signers."""
    try:
        data = json.loads(data_json.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise click.ClickException(f"无法读取数据文件 {data_json}：{e}") from e
    rt = keys_runtime()
    institution = rt.institution
    ks = rt.keystore
    if not ks.initialized:
        ks.init_institution(institution.name, list(institution.colleges))
    doc_id = f"demo-{form_id}-{datetime.now(UTC):%Y%m%d%H%M%S}"
    try:
        rendered = render_standalone(form_id, data, institution,
                                     number=f"演示〔{datetime.now(UTC):%Y}〕1号",
                                     document_id=doc_id)
    except DocServiceError as e:
        raise click.ClickException(str(e)) from e
    college = rendered.data.get("college")
    if college not in ks.institution()["colleges"]:
        college = None
    steps, identities, seals = [], [], []
    for item in rendered.form.chain:
        sid, name = DEMO_PEOPLE.get(item.role, (f"demo-{item.role}", item.role))
        if item.role == "student":
            sid = f"student-{rendered.data.get('student_no', 'demo')}"
            name = str(rendered.data.get("name", name))
        steps.append(ChainStep(item.role, sid, name, Decision(item.decision)))
        identities.append(ks.signer_identity(sid, name, item.role, college))
        seals.append(ks.seal_identity(college).png if item.seal == "college"
                     else ks.seal_identity().png if item.seal == "school" else None)
    chain = ApprovalChain(doc_id, 1, steps)
    ts, font_path, roots = rt.timestamper, rt.font_path, rt.trust_roots
    pdf = rendered.pdf.pdf
    try:
        for spec, step, ident, seal in zip(rendered.form.chain, steps, identities, seals,
                                           strict=True):
            area = rendered.pdf.signature_areas.get(step.role) if spec.visible else None
            box = SignatureBox.of(area) if area is not None else None
            pdf = record_and_sign(pdf, chain, ident, step.decision_kind, box=box,
                                  font_path=font_path, seal_png=seal, timestamper=ts,
                                  trust_roots=roots).pdf
    except SigningError as e:
        raise click.ClickException(str(e)) from e
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(pdf)
    click.echo(f"{out_path}: {len(steps)} 个签名，文档 {doc_id}，状态 {chain.state}")


def register(cli: click.Group) -> None:
    """Add the signing commands to the main ``doc-service`` group."""
    cli.add_command(keys_group)
    cli.add_command(verify_cmd)
    cli.add_command(demo_chain)
