"""CLI of the batch part: ``roster import``, ``batch`` (issue, resume, cancel) and ``worker``.

The command line has no signed-in person, so it acts as a staff account: ``--as USERNAME``,
by default the first active registrar (教务处学籍科) account, which has school-wide scope.
Every action is audited under that account. Registered on the main group by
:func:`register`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from doc_service.commands import cli_runtime, fail
from doc_service.errors import DocServiceError
from doc_service.services import batch
from doc_service.services.access import Staff
from doc_service.services.roster_import import ImportResult, import_roster
from doc_service.services.runtime import Runtime
from doc_service.services.staff import acting_staff

as_option = click.option("--as", "username", metavar="USERNAME",
                         help="以该教职工账号的身份操作（默认：第一个教务处学籍科账号）")
json_option = click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（供脚本使用）")


def staff_actor(rt: Runtime, username: str | None) -> Staff:
    """The staff account the command acts as (see the module docstring)."""
    return acting_staff(rt, username)


# --- roster import ---------------------------------------------------------------------

@click.group("roster")
def roster_group() -> None:
    """学生名册：检查与导入。"""


@roster_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--commit", is_flag=True, help="导入有效行（不加此项只检查并报告，不写入）")
@click.option("--all-or-nothing", is_flag=True, help="有任何错误行时一行也不导入")
@as_option
@json_option
def roster_import_cmd(file: Path, commit: bool, all_or_nothing: bool, username: str | None,
                      as_json: bool) -> None:
    """检查名册 FILE（XLSX 或 CSV），逐行报告错误；加 --commit 时导入有效行。"""
    rt = cli_runtime()
    try:
        actor = staff_actor(rt, username)
        result = import_roster(rt, actor, file.read_bytes(), file.name, commit,
                               all_or_nothing=all_or_nothing)
    except DocServiceError as e:
        fail(e, as_json)
    report = result.report
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_import(result)
    failed = report.fatal is not None or result.refused is not None
    sys.exit(2 if failed else (1 if report.error_count and not commit else 0))


def _print_import(result: ImportResult) -> None:
    report = result.report
    if report.fatal:
        click.echo(f"错误：{report.fatal}", err=True)
        return
    fmt = (report.format or "") + (f"（{report.encoding}）" if report.encoding else "")
    click.echo(f"文件格式：{fmt}，共{len(report.rows)}行：有效{report.valid_count}行，"
               f"有误{report.error_count}行")
    for w in report.warnings:
        click.echo(f"提示：{w}")
    if report.unknown_headers:
        click.echo(f"未识别的列（已忽略）：{'、'.join(report.unknown_headers)}")
    for row in report.rows:
        for err in row.errors:
            where = row.location(err) + (f"（{err.header}）" if err.header else "")
            click.echo(f"  {where}：{err.message}")
    if result.refused:
        click.echo(f"未导入：{result.refused}", err=True)
    elif result.committed:
        click.echo(f"已导入：新增{result.created}人，更新{result.updated}人，"
                   f"无变化{result.unchanged}人；有误的{report.error_count}行未导入")
    else:
        click.echo("（仅检查，未写入；确认后加 --commit 导入有效行）")
    if result.new_colleges:
        click.echo(f"新建学院：{'、'.join(result.new_colleges)}")
    if result.new_classes:
        click.echo(f"新建班级：{'、'.join(result.new_classes)}")
    if result.classes_without_teacher:
        click.echo(f"注意：以下班级尚未设置班主任，设置前无法为其学生出具需班主任签批的文书："
                   f"{'、'.join(result.classes_without_teacher)}")
    if result.colleges_without_head:
        click.echo(f"注意：以下学院尚未设置院部负责人：{'、'.join(result.colleges_without_head)}")


# --- batch -----------------------------------------------------------------------------

@click.command("batch")
@click.argument("form_id", required=False)
@click.option("--grade", type=int, help="年级，如 2026")
@click.option("--college", "colleges", multiple=True, help="学院名称（可多次给出）")
@click.option("--class", "classes", multiple=True, help="班号（可多次给出）")
@click.option("--data", "data_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="所有学生共用的补充字段（JSON），如学年、注册类别")
@click.option("--resume", "resume_id", metavar="JOB_ID", help="继续一个中断的批次")
@click.option("--cancel", "cancel_id", metavar="JOB_ID", help="取消一个批次")
@click.option("--detach", is_flag=True, help="提交后立即返回，不等待完成")
@as_option
@json_option
def batch_cmd(form_id: str | None, grade: int | None, colleges: tuple[str, ...],
              classes: tuple[str, ...], data_file: Path | None, resume_id: str | None,
              cancel_id: str | None, detach: bool, username: str | None, as_json: bool) -> None:
    """为所选年级、学院或班级的每位学生出具表单 FORM_ID，显示进度。

    设置了 REDIS_URL 时，任务交给 Redis 队列，由 doc-service worker 进程处理；
    否则在本进程内处理。中断后用 --resume JOB_ID 继续，已出具的不会重复出具。
    """
    if sum(x is not None for x in (form_id, resume_id, cancel_id)) != 1:
        raise click.UsageError("请给出 FORM_ID，或 --resume JOB_ID，或 --cancel JOB_ID 之一")
    rt = cli_runtime()
    try:
        actor = staff_actor(rt, username)
        if cancel_id:
            progress = batch.cancel_batch(rt, actor, cancel_id)
            _print_progress(progress, as_json, "已取消")
            return
        if resume_id:
            progress = batch.resume_batch(rt, actor, resume_id)
        else:
            extra: dict[str, Any] = {}
            if data_file is not None:
                try:
                    extra = json.loads(data_file.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
                    raise click.BadParameter(f"无法读取 {data_file}：{e}") from e
                if not isinstance(extra, dict):
                    raise click.BadParameter("--data 应为 JSON 对象")
            assert form_id is not None
            progress = batch.start_batch(rt, actor, form_id, grade, colleges, classes, extra)
        if not as_json:
            click.echo(f"批次 {progress.job_id}：共{progress.total}人"
                       + ("（已交给 Redis 队列，由 doc-service worker 处理）"
                          if rt.redis_url else ""))
        if not detach:
            progress = _follow_until_stopped(rt, actor, progress, show_bar=not as_json)
    except DocServiceError as e:
        fail(e, as_json)
    _print_progress(progress, as_json)
    sys.exit(0 if progress.finished and not progress.failed else 1)


def _follow_until_stopped(rt: Runtime, actor: Staff, progress: batch.BatchProgress,
                          show_bar: bool) -> batch.BatchProgress:
    """Follow the job to its end; stopped (Ctrl-C, or SIGTERM, taken the same way), leave
    at once, as a kill would: the pool's processes end with this one (they watch it),
    and ``--resume`` issues what is left, under the numbers already reserved. (Leaving
    normally would first wait for every group already handed to the pool.)"""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return _follow(rt, actor, progress, show_bar)
    except KeyboardInterrupt:
        click.echo(f"\n已中断：批次 {progress.job_id} 未完成，用 --resume {progress.job_id} 继续",
                   err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _follow(rt: Runtime, actor: Staff, progress: batch.BatchProgress, show_bar: bool
            ) -> batch.BatchProgress:
    if not show_bar:
        while not progress.finished:
            time.sleep(0.5)
            progress = batch.batch_progress(rt, actor, progress.job_id)
        return progress
    with click.progressbar(length=progress.total, label="出具中", show_pos=True,
                           show_eta=True) as bar:
        bar.update(progress.processed)
        while not progress.finished:
            time.sleep(0.5)
            before = progress.processed
            progress = batch.batch_progress(rt, actor, progress.job_id)
            bar.update(progress.processed - before)
    return progress


def _print_progress(progress: batch.BatchProgress, as_json: bool, title: str = "") -> None:
    if as_json:
        click.echo(json.dumps(progress.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"{title or '批次'} {progress.job_id}：共{progress.total}，已出具{progress.done}，"
               f"失败{progress.failed}，跳过{progress.skipped}，取消{progress.cancelled}，"
               f"待处理{progress.pending}")
    for err in progress.errors:
        click.echo(f"  {err.class_no} {err.student_no} {err.name}：{err.message}")


# --- worker ----------------------------------------------------------------------------

@click.command("worker")
@click.option("--burst", is_flag=True, help="处理完队列中的任务后退出")
def worker_cmd(burst: bool) -> None:
    """处理 Redis 队列中的批量出具任务（需要 REDIS_URL）；可同时运行多个。"""
    url = os.environ.get("REDIS_URL")
    if not url:
        raise click.UsageError("未设置 REDIS_URL：没有队列时批量出具在发起它的进程内运行")
    # redis and rq only when there is a queue to serve (see services.batch.RqDispatcher).
    from redis import Redis
    from rq import Queue, SimpleWorker

    # Migrated once here; SimpleWorker runs tasks in this process (no fork per task), so the
    # runtime, its connection pool and the loaded fonts are reused from item to item.
    batch.set_worker_runtime(cli_runtime())
    conn = Redis.from_url(url)
    worker = SimpleWorker([Queue(batch.QUEUE_NAME, connection=conn)], connection=conn)
    worker.work(burst=burst, logging_level="WARNING")


def register(cli: click.Group) -> None:
    cli.add_command(roster_group)
    cli.add_command(batch_cmd)
    cli.add_command(worker_cmd)
