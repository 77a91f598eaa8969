"""CLI for the archive: ``archive fixity | scan | export | check | backup | restore``.

Thin on purpose: parse, call one function from ``archive``, shape the answer. Chinese for
people, ``--json`` for programs; exit 0 only when all is well (1: the check found problems,
2: the command could not run). Registered on the main group with :func:`register`.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from archive.errors import ArchiveError
from archive.store import FileContentStore


@contextmanager
def _archive() -> Iterator[tuple[Engine, FileContentStore]]:
    from archive.index import install
    from doc_service.config import instance_path
    from doc_service.db import database_url, make_engine

    inst = instance_path()
    engine = make_engine(database_url(inst))
    try:
        install(engine)
        yield engine, FileContentStore(inst / "archive")
    finally:
        engine.dispose()


def _emit(as_json: bool, data: dict[str, Any], lines: list[str], ok: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for line in lines:
            click.echo(line)
    sys.exit(0 if ok else 1)


def _error(e: ArchiveError, as_json: bool) -> None:
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
    from archive.errors import FixityInterruptedError
    from archive.fixity import run_fixity, unfinished_before
    from archive.model import SCHEDULED

    try:
        with _archive() as (engine, store):
            report = run_fixity(engine, store,
                                run_by=SCHEDULED if scheduled else None)
            earlier = unfinished_before(engine, report.run) if report.run else []
    except FixityInterruptedError as e:
        _interrupted(e, as_json)
        return
    except ArchiveError as e:
        _error(e, as_json)
        return
    data = {**report.to_dict(), "earlier_unfinished": [r.to_dict() for r in earlier]}
    _emit(as_json, data, fixity_lines(report, earlier), report.ok)


def _interrupted(e: Any, as_json: bool) -> None:
    """A run that failed after its start was recorded: name it, so it can be found again.

    Exit 2 like any run that could not be done; the trail shows the run as unfinished.
    """
    run, cause = e.run, e.__cause__ or e
    if as_json:
        click.echo(json.dumps({"ok": False, "error": type(e).__name__, "message": str(e),
                               "run": run.to_dict()}, ensure_ascii=False), err=True)
    else:
        click.echo(f"固定性检查 {run.id}：{runner_name(run.run_by)}，{_beijing(run.started_at)}"
                   f"（北京时间）开始，未完成（已中断）。", err=True)
        click.echo(f"错误：{type(cause).__name__}: {cause}", err=True)
        click.echo("开始时间已记入固定性检查记录，该次检查在记录中显示为“未完成”；"
                   "请查明原因后重新运行 doc-service archive fixity。", err=True)
    sys.exit(2)


_PROBLEM_NAMES = {"missing": "缺失", "changed": "已被改动", "unreadable": "无法读取"}


def runner_name(run_by: str) -> str:
    """Who ran a fixity run, as people read it."""
    from archive.model import SCHEDULED

    return "定时任务" if run_by == SCHEDULED else f"用户 {run_by}"


def _beijing(at: Any) -> str:
    from archive.model import BEIJING, as_utc

    return as_utc(at).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


UNFINISHED = "未完成（可能已中断）"
"""How a run whose end was never recorded is named, here and on the pages."""


def run_line(run: Any) -> str:
    """A fixity run's id, who ran it and when, in Chinese; an unfinished run says so."""
    who = f"固定性检查 {run.id}：{runner_name(run.run_by)}，"
    if run.ended_at is None:
        return f"{who}{_beijing(run.started_at)}（北京时间）开始，{UNFINISHED}，没有检查结果。"
    return f"{who}{_beijing(run.started_at)} 至 {_beijing(run.ended_at)}（北京时间）。"


def fixity_lines(report: Any, earlier_unfinished: Any = ()) -> list[str]:
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
        what = _ROLE_NAMES.get(str(f.role), str(f.role))
        lines.append(f"  档案 {f.archival_ref}（记录 {f.record_id}）第 {f.position + 1} 个文件"
                     f"（{what}）：{_PROBLEM_NAMES.get(str(f.problem), str(f.problem))}")
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
        lines.append(f"注意：此前有 {len(earlier_unfinished)} 次固定性检查{UNFINISHED}：")
        lines += [f"  {run_line(r)}" for r in earlier_unfinished]
    return lines


@archive_group.command("scan")
@click.option("--deep", is_flag=True, help="同时重新计算哈希（较慢）")
@json_option
def scan_cmd(deep: bool, as_json: bool) -> None:
    """启动检查：查找中断的写入留下的临时文件、孤立文件、缺失或改动的文件。"""
    from archive.recovery import startup_check

    try:
        with _archive() as (engine, store):
            problems = startup_check(engine, store, deep=deep)
    except ArchiveError as e:
        _error(e, as_json)
        return
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
    from archive.package import ExportFilters, export_package
    from doc_service.config import instance_path

    if root_pem is None:
        default = instance_path() / "keys" / "root" / "cert.pem"
        root_pem = default if default.exists() else None
    filters = ExportFilters(student_no=student_no, form_id=form_id, college=college,
                            date_from=date_from, date_to=date_to)
    try:
        with _archive() as (engine, store):
            s = export_package(engine, store, out, filters,
                               root_cert_pem=root_pem.read_bytes() if root_pem else None,
                               who=getpass.getuser(), why=why)
    except (ArchiveError, OSError) as e:
        _error(e if isinstance(e, ArchiveError) else ArchiveError(str(e)), as_json)
        return
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
    from cryptography import x509

    from archive.package import check_package

    roots = None
    if root_pem is not None:
        try:
            roots = [x509.load_pem_x509_certificate(root_pem.read_bytes())]
        except ValueError as e:
            _error(ArchiveError(f"无法读取根证书 {root_pem}：{e}"), as_json)
            return
    report = check_package(package, trust_roots=roots)
    source = {"given": "使用指定的根证书", "package": "使用包内附带的根证书（自称，未经独立确认）",
              "none": "没有根证书，未核验签名"}[report.trust_root_source]
    sig = {"valid": "签名有效", "invalid": "签名无效", "not_checked": "签名未核验",
           "no_pdf": "无 PDF（作废记录）"}
    lines = [f"移交包 {package}：{report.files_checked} 个文件，{len(report.records)} 条记录；"
             f"{source}。"]
    lines += [f"  问题：{p}" for p in report.problems]
    for r in report.records:
        lines.append(f"  {r.archival_ref}  {sig.get(r.signatures, r.signatures)}"
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
    from archive.package import backup

    try:
        with _archive() as (engine, store):
            s = backup(engine, store, out)
    except ArchiveError as e:
        _error(e, as_json)
        return
    _emit(as_json, {"ok": True, "path": str(s.path), "rows": s.rows, "blobs": s.blobs},
          [f"已备份到 {s.path}：{s.rows.get('archive_records', 0)} 条档案记录，"
           f"{s.blobs} 个文件，{s.rows.get('archive_access_log', 0)} 条查档日志。"], True)


@archive_group.command("restore")
@click.argument("backup_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@json_option
def restore_cmd(backup_dir: Path, as_json: bool) -> None:
    """从备份目录恢复档案库（已存在的记录先核对哈希，一致则跳过；可重复执行）。"""
    from archive.package import restore

    try:
        with _archive() as (engine, store):
            s = restore(engine, store, backup_dir)
    except ArchiveError as e:
        _error(e, as_json)
        return
    if s.findings:
        lines = [f"未恢复：备份与档案库中已有的内容不一致，共 {len(s.findings)} 处。"
                 "档案只写一次，未覆盖也未写入任何内容；请先查明是备份还是档案库被改动。"]
        lines += [f"  {line}" for f in s.findings for line in _restore_finding(f)]
    else:
        lines = [f"已从 {s.path} 恢复：新增 {s.inserted.get('archive_records', 0)} 条档案记录，"
                 f"备份共 {s.rows.get('archive_records', 0)} 条档案记录、{s.blobs} 个文件。"]
    if s.unchanged:
        lines.append(f"{len(s.unchanged)} 条档案记录已存在，哈希（SHA-256、SM3）与备份一致，"
                     "未改动。")
    _emit(as_json, s.to_dict(), lines, s.ok)


_COLUMN_NAMES = {"sha256": "SHA-256", "sm3": "SM3", "size": "大小（字节）",
                 "chain_sha256": "签批链 SHA-256", "archival_ref": "档号", "number": "文号",
                 "student_no": "学号", "student_name": "姓名", "college": "院系",
                 "issued_on": "开具日期", "sealed_at": "盖章时间", "signers": "签批人",
                 "kind": "记录类型", "points_to": "指向的记录", "role": "文件用途",
                 "version": "版本", "who": "查档人", "why": "事由", "at": "时间",
                 "action": "操作",
                 # the fixity trail
                 "started_at": "开始时间", "ended_at": "结束时间", "run_by": "执行者",
                 "records_checked": "检查的档案记录数", "files_checked": "检查的文件数",
                 "bytes_checked": "检查的字节数", "failures": "问题数",
                 "covers_through": "覆盖的首次检查编号", "seq": "首次检查编号",
                 "run_id": "固定性检查", "record_id": "档案记录", "position": "文件序号",
                 "problem": "问题", "expected_sha256": "应有 SHA-256",
                 "expected_sm3": "应有 SM3", "expected_size": "应有大小（字节）",
                 "found_sha256": "实际 SHA-256", "found_sm3": "实际 SM3",
                 "found_size": "实际大小（字节）", "detail": "说明"}
_ROLE_NAMES = {"final_pdf": "最终 PDF", "chain_json": "签批链", "void_chain_json": "作废签批链",
               "superseded_version_pdf": "被更正版本 PDF"}
_SHOWN_VALUES = frozenset({"sha256", "sm3", "size", "chain_sha256"})
"""Columns of records and files whose two values are printed (the others: only named)."""
_TIMES = frozenset({"started_at", "ended_at", "at", "sealed_at", "created_at"})


def _value(column: str, value: Any) -> str:
    """One side of a difference as people read it: Beijing time, who ran a run, the problem."""
    if value is None or value == "":
        return "（无）"
    if column in _TIMES and isinstance(value, str):
        from datetime import datetime

        try:
            return f"{_beijing(datetime.fromisoformat(value))}（北京时间）"
        except ValueError:
            return value
    if column == "run_by":
        return runner_name(str(value))
    if column == "problem":
        return _PROBLEM_NAMES.get(str(value), str(value))
    return str(value)


def _differences(f: Any, found: str = "档案库", recorded: str = "备份",
                 shown: frozenset[str] | None = _SHOWN_VALUES) -> str:
    """Each differing column, with both values for those in ``shown`` (``None``: all)."""
    parts = []
    for d in f.differences:
        name = _COLUMN_NAMES.get(d.column, d.column)
        if shown is None or d.column in shown:
            parts.append(f"{name}：{found}为 {_value(d.column, d.archive)}，"
                         f"{recorded}为 {_value(d.column, d.backup)}")
        else:
            parts.append(f"{name}不同")
    return "；".join(parts)


def _file(f: Any) -> str:
    """The file a finding is about: 档号, record id, its ordinal and role."""
    return (f"档案 {f.archival_ref}（记录 {f.record_id}）第 {f.position + 1} 个文件"
            f"（{_ROLE_NAMES.get(f.role, f.role)}）")


def _pair(f: Any) -> tuple[str, str, str, str]:
    """(backup's record id, its 档号, the other record's id, its 档号) of a clash."""
    ids, refs = tuple(f.record_ids) + ("", ""), tuple(f.archival_refs) + ("", "")
    return ids[0], refs[0], ids[1], refs[1]


def _index_finding(f: Any) -> list[str]:
    """Records, files and log entries the archive holds otherwise than the backup."""
    record = f"档案记录 {f.archival_ref or f.record_id}"
    if f.kind == "record_mismatch":
        return [f"{record} 已在档案库中，但与备份不一致：{_differences(f)}"]
    if f.kind == "log_mismatch":
        return [f"查档日志（{record}）与备份不一致：{_differences(f)}"]
    where = {"archive_only": "只在档案库中，备份中没有",
             "backup_only": "只在备份中，档案库中该档案记录没有这个文件"}.get(f.check)
    if where:
        return [f"{_file(f)}{where}（SHA-256 {f.sha256}）"]
    return [f"{_file(f)}与备份不一致：{_differences(f)}"]


def _clash(f: Any) -> list[str]:
    """A new record of the backup whose 档号 or document version the archive gave another."""
    mine, my_ref, other, other_ref = _pair(f)
    if f.kind == "dedupe_key_clash":
        return [f"文书版本重复：备份中的档案记录 {mine}（档号 {my_ref}）不在档案库中，但档案库"
                f"已将同一文书的同一版本（或同一作废）归档为档案记录 {other}（档号 {other_ref}）"]
    if f.check == "archival_ref_parts":
        return [f"档号 {my_ref} 冲突：备份中的档案记录 {mine} 不在档案库中，档案库中的档案记录 "
                f"{other}（档号 {other_ref}）已占用相同的学校代码、年度、保管期限和顺序号"]
    return [f"档号 {my_ref} 冲突：备份中的档案记录 {mine} 不在档案库中，档案库已将该档号给了"
            f"档案记录 {other}"]


def _trail_finding(f: Any) -> list[str]:
    """A fixity run, its start, a failure or a first-check number told otherwise."""
    run = f"固定性检查 {f.run_id}"
    diffs = _differences(f, shown=None)
    if f.kind == "fixity_run_mismatch":
        return [f"{run} 已在档案库中，但与备份不一致：{diffs}"]
    if f.kind == "fixity_start_mismatch":
        what = {"start_vs_run": "备份中的开始记录与档案库中该次检查的完成记录不一致",
                "run_vs_start": "备份中的完成记录与档案库中该次检查的开始记录不一致"}
        return [f"{run}：{what.get(f.check, '开始记录与档案库中的不一致')}：{diffs}"]
    if f.kind == "fixity_failure_mismatch":
        side = {"archive_only": "只在档案库中，备份中没有",
                "backup_only": "只在备份中，档案库中没有"}.get(f.check)
        if side:
            problem = next((d.archive or d.backup for d in f.differences), "")
            return [f"{run} 对{_file(f)}记录的问题（{_value('problem', problem)}）{side}"]
        return [f"{run} 对{_file(f)}记录的问题与备份不一致：{diffs}"]
    record = f"档案 {f.archival_ref or '（备份中没有）'}（记录 {f.record_id}）"
    if f.check == "archive_only":
        seq = f.differences[0].archive if f.differences else ""
        return [f"档案库中 {run} 给{record}的首次检查编号 {seq} 在备份中没有"]
    return [f"{record}的首次检查编号与档案库不一致（备份中记为 {run}）：{diffs}"]


def _inconsistent(f: Any) -> list[str]:
    """What the backup says against itself (the backup, not the archive, was changed)."""
    head = "备份自身不一致："
    if f.check in ("archival_ref", "archival_ref_parts", "dedupe_key"):
        mine, my_ref, other, other_ref = _pair(f)
        same = {"archival_ref": f"使用同一档号 {my_ref}",
                "archival_ref_parts": "的学校代码、年度、保管期限和顺序号相同",
                "dedupe_key": "归档的是同一文书的同一版本（或同一作废）"}[f.check]
        return [f"{head}备份中的档案记录 {mine}（档号 {my_ref}）与档案记录 {other}"
                f"（档号 {other_ref}）{same}"]
    run, file = f"固定性检查 {f.run_id}", (_file(f) if f.position is not None else "")
    record = f"档案记录 {f.record_id}"
    lines = {
        "failure_without_run": f"{run} 对{file}记录了问题，但备份中没有这次检查",
        "failure_without_file": f"{run} 对{file}记录了问题，但备份中没有这个文件",
        "coverage_without_run": f"{record} 的首次检查记为 {run}，但备份中没有这次检查",
        "coverage_without_record": f"{run} 记有{record} 的首次检查，但备份中没有这条档案记录",
        "start_vs_run": f"{run} 的开始记录与完成记录不符："
                        f"{_differences(f, '开始记录', '完成记录', None)}",
        "record_files": f"备份中的档案记录 {f.archival_ref}（记录 {f.record_id}）与它自己的"
                        f"文件行不符：{_differences(f, '文件行', '档案记录')}",
    }
    if f.check == "failure_count":
        d = f.differences[0]
        held = (f"只有它的 {d.archive} 条问题记录（可能有问题记录被删去）" if d.archive < d.backup
                else f"却有它的 {d.archive} 条问题记录（可能有问题记录被添加）")
        return [f"{head}{run} 记录了 {d.backup} 处问题，但备份中{held}"]
    if f.check in lines:
        return [f"{head}{lines[f.check]}"]
    records = "、".join(f.archival_refs or f.record_ids)
    return [f"{head}备份中的文件 {f.sha256}（档案记录 {records}）与备份索引不符："
            f"{_differences(f, '实际', '备份索引记录')}"]


def _restore_finding(f: Any) -> list[str]:
    """One finding of ``restore`` in Chinese: what differs, where (ids and 档号), both values."""
    if f.kind in ("record_mismatch", "file_mismatch", "log_mismatch"):
        return _index_finding(f)
    if f.kind in ("archival_ref_clash", "dedupe_key_clash"):
        return _clash(f)
    if f.kind.startswith("fixity_"):
        return _trail_finding(f)
    if f.kind == "backup_inconsistent":
        return _inconsistent(f)
    records = "、".join(f.archival_refs or f.record_ids)
    if f.kind == "stored_copy_mismatch":
        return [f"档案库中保存的文件 {f.sha256} 已被改动或损坏（档案记录 {records}）：",
                f"    {_differences(f)}"]
    if f.kind == "stored_copy_unreadable":
        return [f"档案库中保存的文件 {f.sha256} 无法读取（档案记录 {records}）"]
    return [f"[{f.kind}] {f.detail}"]


def register(cli: click.Group) -> None:
    """Add the ``archive`` command group to the main ``doc-service`` group."""
    cli.add_command(archive_group)
