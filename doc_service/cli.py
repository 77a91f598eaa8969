"""The ``doc-service`` command line: parse arguments, call one use case, print.

Errors of our own hierarchy print their Chinese message (and per-field
problems) to stderr and exit non-zero; no traceback, no partial output file.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication

from archive.recovery import startup_check
from doc_service.bootstrap import build_runtime
from doc_service.commands import archive as archive_commands
from doc_service.commands import batch as batch_commands
from doc_service.commands import cli_runtime, fail
from doc_service.commands import holidays as holidays_commands
from doc_service.commands import signing as signing_commands
from doc_service.config import instance_path
from doc_service.db import metadata
from doc_service.errors import DocServiceError
from doc_service.forms.spec import all_forms
from doc_service.issuing import issue_standalone
from doc_service.services.archiving import archive_pending
from doc_service.services.demo import demo_accounts, demo_students, ensure_keys, load_demo
from doc_service.services.health import clock_problems
from doc_service.services.runtime import Runtime
from doc_service.web import create_app


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="doc-service")
@click.pass_context
def main(ctx: click.Context) -> None:
    """doc-service：学籍文书的填制、签批与归档。"""
    if ctx.invoked_subcommand != "serve":  # a server's log keeps them, for its operators
        signing_commands.quiet_library_logs()


@main.command("forms")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（供脚本使用）")
def forms_cmd(as_json: bool) -> None:
    """列出表单及其字段。"""
    forms = all_forms()
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in forms], ensure_ascii=False, indent=2))
        return
    for form in forms:
        click.echo(f"{form.id}  {form.title}  v{form.version}  文号：{form.numbering}")
        chain = " → ".join(s.label or s.role for s in form.chain)
        click.echo(f"  签批流程：{chain}")
        for f in form.fields:
            flag = "*" if f.required else " "
            click.echo(f"  {flag} {f.key:<20} {f.label}（{f.type}）")
        click.echo("")


@main.command("render")
@click.argument("form_id")
@click.argument("data_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="输出 PDF 路径")
@click.option("--docx", "docx_out", type=click.Path(dir_okay=False, path_type=Path),
              help="同时输出可编辑的 DOCX")
@click.option("--number", help="指定文号（重印时用）；默认按表单和年度自动取号")
@click.option("--json", "as_json", is_flag=True, help="错误以 JSON 输出")
def render_cmd(form_id: str, data_file: Path, out: Path, docx_out: Path | None,
               number: str | None, as_json: bool) -> None:
    """按 DATA_FILE（JSON）填制表单 FORM_ID，输出 PDF（及 DOCX）。"""
    try:
        raw: Any = json.loads(data_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        click.echo(f"错误：无法读取数据文件 {data_file}：{e}", err=True)
        sys.exit(2)
    rt = build_runtime(instance_path())
    try:
        metadata.create_all(rt.engine)
        doc = issue_standalone(rt.engine, form_id, raw, rt.institution,
                               with_docx=docx_out is not None, number=number)
    except DocServiceError as e:
        fail(e, as_json)
    finally:
        rt.engine.dispose()
    # Both outputs exist in memory before either is written: all or nothing.
    _write_atomic(out, doc.pdf.pdf)
    if docx_out is not None and doc.docx is not None:
        _write_atomic(docx_out, doc.docx)
    click.echo(f"已生成 {doc.form.title}，文号 {doc.meta.number}，核验网址 {doc.meta.verify_url}")


@main.group("db")
def db_group() -> None:
    """数据库管理。"""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """把数据库升级到最新结构（可重复执行）。"""
    cli_runtime().engine.dispose()
    click.echo("数据库已是最新结构")


@main.command("demo")
@click.option("--json", "as_json", is_flag=True,
              help="输出账号（角色、学院、班级、API 令牌）和演示学生的完整记录")
def demo_cmd(as_json: bool) -> None:
    """载入演示数据（若尚无数据）并打印演示账号。"""
    rt = cli_runtime()
    loaded = load_demo(rt)
    ensure_keys(rt)
    accounts = demo_accounts(rt)
    if as_json:
        click.echo(json.dumps({"accounts": accounts, "students": demo_students(rt)},
                              ensure_ascii=False, indent=2))
        return
    click.echo("已载入演示数据" if loaded else "演示数据已存在")
    _print_accounts(accounts)


def _print_accounts(accounts: list[dict[str, Any]]) -> None:
    if not accounts:
        click.echo("（没有演示账号：数据库不是由 doc-service demo 创建的）")
        return
    click.echo("演示账号（用户名 / 密码 / 角色 / 学院）：")
    for a in accounts:
        extra = f" 班级 {','.join(a['classes'])}" if a.get("classes") else ""
        click.echo(f"  {a['username']:<14} {a['password']:<14} {a['name']} "
                   f"{a['role']} {a.get('college') or '全校'}{extra}")


def _announce_demo(rt: Runtime) -> None:
    """Say that demo data was just created. The accounts' passwords go to a terminal only,
    this once: a server's output usually ends up in its log, readable by more people."""
    click.echo("已载入演示数据")
    if sys.stdout.isatty():
        _print_accounts(demo_accounts(rt))
    else:
        click.echo("演示账号及密码不写入日志：请在终端运行 doc-service demo 查看")


def _archive_startup(rt: Runtime) -> None:
    """Report anything a crash left half-done in the archive; archive sealed stragglers."""
    problems = startup_check(rt.engine, rt.archive)
    for p in problems:
        click.secho(f"档案检查：{p}", fg="yellow", err=True)
    done = archive_pending(rt)
    if done:
        click.echo(f"已补充归档 {done} 份已办结文书")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=0, type=int, help="进程数（默认等于 CPU 核数）")
@click.option("--threads", default=4, show_default=True, type=int, help="每个进程的线程数")
@click.option("--demo", is_flag=True, help="若数据库为空，先载入演示数据")
def serve_cmd(host: str, port: int, workers: int, threads: int, demo: bool) -> None:
    """以生产用 WSGI 服务器（gunicorn，多进程）启动服务。"""
    rt = cli_runtime()
    created = demo and load_demo(rt)
    ensure_keys(rt)
    _archive_startup(rt)
    for problem in clock_problems(rt):  # sealing would fail, or date documents wrongly
        click.echo(f"警告：{problem}", err=True)
    if created:
        _announce_demo(rt)
    rt.engine.dispose()  # workers open their own connections after the fork
    # Signing is CPU-bound: one process per core lets approvals use every core.
    options = {"bind": f"{host}:{port}", "workers": workers or os.cpu_count() or 2,
               "worker_class": "gthread", "threads": threads, "timeout": 120,
               "accesslog": None, "errorlog": "-", "loglevel": "warning"}

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return create_app()

    click.echo(f"doc-service 正在运行：http://{host}:{port}/  （实例目录 {instance_path()}，"
               f"{options['workers']} 个进程）")
    _Server().run()


# Every command group, by name (each module's ``register`` adds its commands).
signing_commands.register(main)
holidays_commands.register(main)
archive_commands.register(main)
batch_commands.register(main)


if __name__ == "__main__":  # python -m doc_service.cli, as well as python -m doc_service
    main()
