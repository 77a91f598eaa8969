"""CLI for the archive: ``archive fixity | scan | export | check | backup | restore``.

Thin on purpose: parse, call one function from ``archive``, shape the answer. Chinese for
people (worded by :mod:`archive.wording`), ``--json`` for programs; exit 0 only when all is
well (1: the check found problems, 2: the command could not run). Registered on the main
group with :func:`register`.

The commands work on the instance's archive (its database and ``archive`` folder), or on
the :class:`ArchiveAt` found in the click context's ``obj``, which is how a test hands them
an index and a store of its own (a store that fails, say) without patching anything.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import click
from cryptography import x509
from sqlalchemy import Engine

from archive import wording
from archive.backup import backup, restore
from archive.errors import ArchiveError, FixityInterruptedError
from archive.fixity import SCHEDULED, FixityReport, FixityRun, run_fixity, unfinished_before
from archive.index import install
from archive.package import ExportFilters, check_package, export_package
from archive.recovery import startup_check
from archive.store import ContentStore
from doc_service.bootstrap import build_runtime
from doc_service.config import instance_path


@dataclass(frozen=True)
class ArchiveAt:
    """An archive the commands work on instead of the instance's: its index and its store.

    Whoever passes it (as the click context's ``obj``) owns both; the commands neither
    install the index nor dispose of the engine.
    """

    engine: Engine
    store: ContentStore


@contextmanager
def _archive() -> Iterator[ArchiveAt]:
    """The archive of this invocation: the one in the context, else the instance's."""
    given = click.get_current_context().find_object(ArchiveAt)
    if given is not None:
        yield given
        return
    rt = build_runtime(instance_path())
    try:
        install(rt.engine)
        yield ArchiveAt(rt.engine, rt.archive)
    finally:
        rt.engine.dispose()


def _emit(as_json: bool, data: dict[str, Any], lines: list[str], ok: bool) -> NoReturn:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for line in lines:
            click.echo(line)
    sys.exit(0 if ok else 1)


def _error(e: ArchiveError, as_json: bool) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"ok": False, "error": type(e).__name__, "message": str(e)},
                              ensure_ascii=False), err=True)
    else:
        click.echo(f"错误：{e}", err=True)
    sys.exit(2)


def _date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise click.BadParameter("日期格式应为 YYYY-MM-DD") from e


json_option = click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（供脚本使用）")


@click.group("archive")
def archive_group() -> None:
    """档案：固定性检查、移交包导出与校验、备份与恢复。"""


@archive_group.command("fixity")
@click.option("--scheduled", is_flag=True,
              help="由定时任务运行：检查记录中的执行者记为 scheduled，而不是当前用户")
@json_option
def fixity_cmd(scheduled: bool, as_json: bool) -> None:
    """重新计算每个归档文件的 SHA-256，报告缺失或被改动的文件，并记入固定性检查记录。"""
    try:
        with _archive() as at:
            report = run_fixity(at.engine, at.store, run_by=SCHEDULED if scheduled else None)
            earlier = unfinished_before(at.engine, report.run) if report.run else []
    except FixityInterruptedError as e:
        _interrupted(e, as_json)
    except ArchiveError as e:
        _error(e, as_json)
    data = {**report.to_dict(), "earlier_unfinished": [r.to_dict() for r in earlier]}
    _emit(as_json, data, fixity_lines(report, earlier), report.ok)


def _interrupted(e: FixityInterruptedError, as_json: bool) -> NoReturn:
    """A run that failed after its start was recorded: name it, so it can be found again.

    Exit 2 like any run that could not be done; the trail shows the run as unfinished.
    """
    run, cause = e.run, e.__cause__ or e
    if as_json:
        click.echo(json.dumps({"ok": False, "error": type(e).__name__, "message": str(e),
                               "run": run.to_dict()}, ensure_ascii=False), err=True)
    else:
        click.echo(f"固定性检查 {run.id}：{wording.runner(run.run_by)}，"
                   f"{wording.beijing(run.started_at)}"
                   f"（北京时间）开始，未完成（已中断）。", err=True)
        click.echo(f"错误：{type(cause).__name__}: {cause}", err=True)
        click.echo("开始时间已记入固定性检查记录，该次检查在记录中显示为“未完成”；"
                   "请查明原因后重新运行 doc-service archive fixity。", err=True)
    sys.exit(2)


def run_line(run: FixityRun) -> str:
    """A fixity run's id, who ran it and when, in Chinese; an unfinished run says so."""
    who = f"固定性检查 {run.id}：{wording.runner(run.run_by)}，"
    start = wording.beijing(run.started_at)
    if run.ended_at is None:
        return f"{who}{start}（北京时间）开始，{wording.UNFINISHED}，没有检查结果。"
    return f"{who}{start} 至 {wording.beijing(run.ended_at)}（北京时间）。"


def fixity_lines(report: FixityReport,
                 earlier_unfinished: Sequence[FixityRun] = ()) -> list[str]:
    """A fixity run's summary and each failure, in Chinese.

    ``earlier_unfinished``: runs since the last finished one that never finished
    (:func:`archive.fixity.unfinished_before`), named at the end so that a run killed every
    night shows up in the next run's output.
    """
    run = report.run
    lines = []
    if run is not None:
        lines.append(run_line(run))
    lines.append(f"已检查 {report.records_checked} 条档案记录、{report.files_checked} 个文件，"
                 f"{report.bytes_read / 1e6:.1f} MB，用时 {report.seconds:.1f} 秒"
                 f"（{report.mb_per_s:.0f} MB/s）。")
    for f in report.failures:
        lines.append(f"  档案 {f.archival_ref}（记录 {f.record_id}）第 {f.position + 1} 个文件"
                     f"（{wording.file_role(f.role)}）：{wording.fixity_problem(f.problem)}")
        if f.found_sha256 is None:
            lines.append(f"      应为 SHA-256 {f.expected_sha256}，SM3 {f.expected_sm3}"
                         + (f"；{f.detail}" if f.detail else ""))
        else:
            lines.append(f"      SHA-256 应为 {f.expected_sha256}，实为 {f.found_sha256}")
            lines.append(f"      SM3     应为 {f.expected_sm3}，实为 {f.found_sm3}")
            lines.append(f"      大小    应为 {f.expected_size} 字节，实为 {f.found_size} 字节")
    if report.ok:
        lines.append("固定性检查通过。")
    else:
        lines.append(f"发现 {len(report.findings)} 个文件有问题，涉及 "
                     f"{len({f.record_id for f in report.failures})} 条档案记录。")
    if run is not None:
        lines.append("本次检查已记入固定性检查记录（只增不改）。")
    if earlier_unfinished:
        lines.append(f"注意：此前有 {len(earlier_unfinished)} 次固定性检查{wording.UNFINISHED}：")
        lines += [f"  {run_line(r)}" for r in earlier_unfinished]
    return lines


@archive_group.command("scan")
@click.option("--deep", is_flag=True, help="同时重新计算哈希（较慢）")
@json_option
def scan_cmd(deep: bool, as_json: bool) -> None:
    """启动检查：查找中断的写入留下的临时文件、孤立文件、缺失或改动的文件。"""
    try:
        with _archive() as at:
            problems = startup_check(at.engine, at.store, deep=deep)
    except ArchiveError as e:
        _error(e, as_json)
    lines = [f"  [{p.kind}] {p.detail}" for p in problems]
    lines.append("档案库完整，无未完成的写入。" if not problems
                 else f"发现 {len(problems)} 个问题（未做任何修改）。")
    _emit(as_json, {"ok": not problems, "problems": [p.to_dict() for p in problems]}, lines,
          not problems)


@archive_group.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="移交包路径（.zip）")
@click.option("--student-no", help="学号")
@click.option("--form", "form_id", help="表单编号，如 enrollment_certificate")
@click.option("--college", help="院系")
@click.option("--from", "date_from", callback=_date, help="开具日期起（YYYY-MM-DD）")
@click.option("--to", "date_to", callback=_date, help="开具日期止（YYYY-MM-DD）")
@click.option("--root", "root_pem", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="随包附上的根证书（默认：实例中的学校根证书）")
@click.option("--why", default="命令行导出移交包", show_default=True,
              help="导出事由（记入查档日志）")
@json_option
def export_cmd(out: Path, student_no: str | None, form_id: str | None, college: str | None,
               date_from: date | None, date_to: date | None, root_pem: Path | None, why: str,
               as_json: bool) -> None:
    """导出移交包：PDF、签批链、元数据和校验清单。"""
    if root_pem is None:
        default = instance_path() / "keys" / "root" / "cert.pem"
        root_pem = default if default.exists() else None
    filters = ExportFilters(student_no=student_no, form_id=form_id, college=college,
                            date_from=date_from, date_to=date_to)
    try:
        with _archive() as at:
            s = export_package(at.engine, at.store, out, filters,
                               root_cert_pem=root_pem.read_bytes() if root_pem else None,
                               who=getpass.getuser(), why=why)
    except (ArchiveError, OSError) as e:
        _error(e if isinstance(e, ArchiveError) else ArchiveError(str(e)), as_json)
    _emit(as_json, {"ok": True, "path": str(s.path), "records": s.records, "files": s.files,
                    "bytes": s.bytes, "root_certificate": bool(root_pem)},
          [f"已导出 {s.records} 条档案记录、{s.files} 个文件到 {s.path}"
           + ("" if root_pem else "（未附根证书，接收方需自备根证书才能核验签名）")], True)


@archive_group.command("check")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--root", "root_pem", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="信任此根证书（PEM），而不是包内附带的")
@json_option
def check_cmd(package: Path, root_pem: Path | None, as_json: bool) -> None:
    """校验移交包（无需数据库）：校验和、清单完整性、每个 PDF 的签名。"""
    roots = None
    if root_pem is not None:
        try:
            roots = [x509.load_pem_x509_certificate(root_pem.read_bytes())]
        except ValueError as e:
            _error(ArchiveError(f"无法读取根证书 {root_pem}：{e}"), as_json)
    report = check_package(package, trust_roots=roots)
    lines = [f"移交包 {package}：{report.files_checked} 个文件，{len(report.records)} 条记录；"
             f"{wording.trust_root_source(report.trust_root_source)}。"]
    lines += [f"  问题：{p}" for p in report.problems]
    for r in report.records:
        lines.append(f"  {r.archival_ref}  {wording.signature_check(r.signatures)}"
                     + ("" if r.ok else "  ✗"))
        lines += [f"      {p}" for p in r.problems]
    lines.append("校验通过。" if report.ok else "校验未通过。")
    _emit(as_json, report.to_dict(), lines, report.ok)


@archive_group.command("backup")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="备份目录（须为新目录或空目录）")
@json_option
def backup_cmd(out: Path, as_json: bool) -> None:
    """备份整个档案库：索引（JSON Lines）和全部文件。"""
    try:
        with _archive() as at:
            s = backup(at.engine, at.store, out)
    except ArchiveError as e:
        _error(e, as_json)
    _emit(as_json, {"ok": True, "path": str(s.path), "rows": s.rows, "blobs": s.blobs},
          [f"已备份到 {s.path}：{s.rows.get('archive_records', 0)} 条档案记录，"
           f"{s.blobs} 个文件，{s.rows.get('archive_access_log', 0)} 条查档日志。"], True)


@archive_group.command("restore")
@click.argument("backup_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@json_option
def restore_cmd(backup_dir: Path, as_json: bool) -> None:
    """从备份目录恢复档案库（已存在的记录先核对哈希，一致则跳过；可重复执行）。"""
    try:
        with _archive() as at:
            s = restore(at.engine, at.store, backup_dir)
    except ArchiveError as e:
        _error(e, as_json)
    if s.findings:
        lines = [f"未恢复：备份与档案库中已有的内容不一致，共 {len(s.findings)} 处。"
                 "档案只写一次，未覆盖也未写入任何内容；请先查明是备份还是档案库被改动。"]
        lines += [f"  {line}" for f in s.findings for line in wording.restore_finding(f)]
    else:
        lines = [f"已从 {s.path} 恢复：新增 {s.inserted.get('archive_records', 0)} 条档案记录，"
                 f"备份共 {s.rows.get('archive_records', 0)} 条档案记录、{s.blobs} 个文件。"]
    if s.unchanged:
        lines.append(f"{len(s.unchanged)} 条档案记录已存在，哈希（SHA-256、SM3）与备份一致，"
                     "未改动。")
    _emit(as_json, s.to_dict(), lines, s.ok)


def register(cli: click.Group) -> None:
    """Add the ``archive`` command group to the main ``doc-service`` group."""
    cli.add_command(archive_group)
