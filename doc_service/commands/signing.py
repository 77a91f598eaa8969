"""CLI for the signing package: ``keys init``, ``keys root``, ``verify``, ``demo-chain``.

Thin on purpose: parse, call one function from ``signing``, shape the answer. Registered on
the main ``doc-service`` group with :func:`register`.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from signing.chain import ApprovalChain, ChainStep
from signing.errors import SigningError
from signing.keystore import KeyStore, resolve_passphrase
from signing.records import Decision
from signing.steps import ROLE_LABELS, record_and_sign
from signing.tsa import configured_timestamper
from signing.verify import verify_pdf

INSTANCE_ENV = "DOC_SERVICE_INSTANCE"
TSA_URL_ENV = "DOC_SERVICE_TSA_URL"
DEFAULT_FONT = "templates/fonts/DocSerif-Regular.otf"


def _instance() -> Path:
    return Path(os.environ.get(INSTANCE_ENV, "instance"))


def open_keystore() -> KeyStore:
    inst = _instance()
    return KeyStore(inst / "keys", resolve_passphrase(inst))


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
    """Verify a signed document; exit 0 only when every check holds."""
    from cryptography import x509

    try:
        roots = ([x509.load_pem_x509_certificate(root_pem.read_bytes())] if root_pem
                 else [open_keystore().root_cert()])
    except (SigningError, ValueError) as e:
        raise click.ClickException(f"no trust root: {e}") from e
    report = verify_pdf(pdf_file.read_bytes(), roots)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
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
@click.option("--font", "font_path", default=DEFAULT_FONT, show_default=True)
def demo_chain(form_id: str, data_json: Path, out_path: Path, font_path: str) -> None:
    """Render FORM_ID with DATA.json and run its default chain with demo signers.

    Depends on doc_service.forms.load_form and doc_service.rendering.pdf.render_pdf
    (interface agreed with the forms/rendering work; adapt here if it changes).
    """
    from doc_service.forms import load_form  # type: ignore[import-not-found]
    from doc_service.rendering.pdf import render_pdf  # type: ignore[import-not-found]

    data = json.loads(data_json.read_text("utf-8"))
    form = load_form(form_id)
    rendered = render_pdf(form, data)
    ks = open_keystore()
    inst = ks.institution()
    college = data.get("院系") or (inst["colleges"][0] if inst["colleges"] else None)
    spec = form.chain if hasattr(form, "chain") else form["chain"]
    steps, identities, seals = [], [], []
    for item in spec:
        role = item["role"]
        sid, name = DEMO_PEOPLE.get(role, (f"demo-{role}", role))
        if role == "student":
            sid, name = str(data.get("学号", sid)), str(data.get("姓名", name))
        steps.append(ChainStep(role, sid, name, Decision(item.get("decision", "approve"))))
        identities.append(ks.signer_identity(sid, name, role, college))
        seal = item.get("seal")
        seals.append(ks.seal_identity(college).png if seal == "college"
                     else ks.seal_identity().png if seal == "school" else None)
    doc_id = f"{form_id}-{datetime.now(UTC):%Y%m%d%H%M%S}"
    chain = ApprovalChain(doc_id, 1, steps)
    ts = configured_timestamper(ks, os.environ.get(TSA_URL_ENV))
    pdf = rendered.pdf
    try:
        for step, ident, seal in zip(steps, identities, seals, strict=True):
            box = rendered.signature_areas.get(step.role)
            pdf = record_and_sign(pdf, chain, ident, step.decision_kind, box=box,
                                  font_path=font_path, seal_png=seal, timestamper=ts,
                                  trust_roots=[ks.root_cert()]).pdf
    except SigningError as e:
        raise click.ClickException(str(e)) from e
    out_path.write_bytes(pdf)
    click.echo(f"{out_path}: {len(steps)} 签名 signatures, document {doc_id}, state {chain.state}")


def register(cli: click.Group) -> None:
    """Add the signing commands to the main ``doc-service`` group."""
    cli.add_command(keys_group)
    cli.add_command(verify_cmd)
    cli.add_command(demo_chain)
