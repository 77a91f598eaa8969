"""``doc-service holidays``: the working-day override table (years the calendar library lacks)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from doc_service.calendar.overrides import load_overrides
from doc_service.commands import cli_runtime
from doc_service.errors import DocServiceError
from doc_service.services.deadlines import import_overrides, list_overrides, set_override


@click.group("holidays")
def holidays_group() -> None:
    """节假日与调休补班的补充设置（用于日历库尚未收录的年份）。"""


@holidays_group.command("add")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--workday/--holiday", required=True, help="该日为补班工作日，或为放假日")
@click.option("--note", default="", help="说明，如 春节调休")
def add_cmd(day: dt.datetime, workday: bool, note: str) -> None:
    """设置某一天是工作日还是假日（覆盖日历库）。"""
    set_override(cli_runtime().sessions, day.date(), workday=workday, note=note)
    click.echo(f"已设置 {day.date().isoformat()} 为{'工作日' if workday else '假日'}")


@holidays_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_cmd(path: Path) -> None:
    """从 JSON/CSV 文件导入一整年的安排（格式见 doc_service/calendar/overrides.py）。"""
    try:
        source = load_overrides(path)
    except DocServiceError as e:
        raise click.ClickException(e.message) from e
    days = source.days()
    import_overrides(cli_runtime().sessions, days, source.complete_years())
    click.echo(f"已导入 {len(days)} 天的设置；完整年份：{sorted(source.complete_years()) or '无'}")


@holidays_group.command("list")
def list_cmd() -> None:
    """列出补充设置。"""
    for o in list_overrides(cli_runtime().sessions):
        click.echo(f"{o.day.isoformat()}  {'工作日' if o.is_workday else '假日'}  {o.note}")


def register(cli: click.Group) -> None:
    cli.add_command(holidays_group)
