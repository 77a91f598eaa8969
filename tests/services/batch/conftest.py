"""A migrated database with the demo school and keys, and builders of generated rosters.

SQLite in a temporary instance, or PostgreSQL when ``DATABASE_URL`` is set (in a schema
of its own, dropped afterwards). Each test uses its own 学号 range and classes, so tests
share one database without seeing each other's students.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import secrets
from collections.abc import Iterator, Sequence
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from doc_service.bootstrap import build_runtime
from doc_service.commands.batch import staff_actor
from doc_service.forms.idcard import make_id_number
from doc_service.services.demo import ensure_keys, load_demo
from doc_service.services.roster_import import import_roster
from doc_service.storage.models import Role, SchoolClass, User
from tests.conftest import database_for_tests

HEADER = ["学号", "姓名", "性别", "证件号码", "考生号", "民族", "院系", "专业", "班级",
          "出生日期", "入学年月", "学制", "层次", "录取类型", "学习形式", "录取院校"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = ["子涵", "浩然", "欣怡", "雨桐", "梓萱", "一诺", "宇轩", "思彤", "俊杰", "佳怡", "喆",
         "堃", "玥", "嘉懿", "晨曦", "明轩", "诗涵", "博文", "语嫣", "天佑", "若曦", "泽宇"]
EXTRA = {"registration_type": "新生学籍注册", "academic_year": "2026-2027"}


def roster_student(serial: int, class_no: str, college: str = "信息工程学院",
                   major: str = "软件工程") -> dict[str, str]:
    """A valid roster row (Chinese headers), distinct for every ``serial`` < 210,000, and from
    every demo student."""
    gender = "男" if serial % 2 else "女"
    # Born 2005-2006: the demo school's own students (load_demo) are born 2007-2008 with
    # random dates, so an ID number made here could otherwise be one of theirs, and the
    # import would rightly refuse it as another student's.
    birth = dt.date(2005, 1, 1) + dt.timedelta(days=serial // 100 % 700)
    region = ("610113", "410105", "510107")[serial // 70_000 % 3]
    return {
        "学号": f"27{serial:08d}",
        "姓名": SURNAMES[serial % len(SURNAMES)] + GIVEN[serial // len(SURNAMES) % len(GIVEN)],
        "性别": gender, "证件号码": make_id_number(region, birth, serial % 100, gender),
        "考生号": f"26{region[:4]}{serial:08d}", "民族": "汉族", "院系": college,
        "专业": major, "班级": class_no, "出生日期": birth.isoformat(), "入学年月": "2026-09",
        "学制": "4", "层次": "本科", "录取类型": "普通高考", "学习形式": "普通全日制",
        "录取院校": "西安交通工程学院",
    }


def xlsx_bytes(rows: Sequence[dict[str, Any]], header: Sequence[str] = HEADER) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(header))
    for r in rows:
        ws.append([r.get(h) for h in header])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(rows: Sequence[dict[str, Any]], encoding: str = "utf-8-sig",
              header: Sequence[str] = HEADER) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in header])
    return out.getvalue().encode(encoding)


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from database_for_tests(tmp_path_factory, "batch")


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory, db_url: str) -> Iterator[Any]:
    instance = tmp_path_factory.mktemp("batch-svc")
    rt = build_runtime(instance, secret_key="test-secret", database_url=db_url, migrate=True)
    load_demo(rt)
    ensure_keys(rt)
    yield rt
    rt.engine.dispose()


def staff(rt: Any, username: str) -> Any:
    return staff_actor(rt, username)


@pytest.fixture(scope="session")
def registrar(runtime: Any) -> Any:
    return staff(runtime, "registrar")


def assign_teachers(rt: Any, class_nos: Sequence[str]) -> dict[str, str]:
    """Give each class a new class teacher account; class number → username."""
    out = {}
    with rt.sessions.begin() as session:
        for class_no in class_nos:
            klass = session.scalar(select(SchoolClass).where(SchoolClass.class_no == class_no))
            assert klass is not None
            username = f"t-{secrets.token_hex(4)}"
            user = User(username=username, name="班主任" + class_no[-2:], role=Role.CLASS_TEACHER,
                        college_id=klass.college_id, password_hash="!")
            session.add(user)
            session.flush()
            klass.teacher_id = user.id
            out[class_no] = username
    return out


def import_generated(rt: Any, actor: Any, classes: dict[str, range],
                     college: str = "信息工程学院") -> list[dict[str, str]]:
    """Import a generated roster: class number → serials of its students."""
    rows = [roster_student(i, class_no, college) for class_no, serials in classes.items()
            for i in serials]
    result = import_roster(rt, actor, xlsx_bytes(rows), "生成名册.xlsx", commit=True,
                           all_or_nothing=True)
    assert result.committed and result.report.error_count == 0, result.report.to_dict()
    return rows


def subprocess_env(rt: Any, db_url: str, **extra: str) -> dict[str, str]:
    """Environment for a CLI or worker process on the same instance and database."""
    env = {**os.environ, "DOC_SERVICE_INSTANCE": str(rt.instance), "DATABASE_URL": db_url,
           "DOC_SERVICE_SECRET_KEY": "test-secret", **extra}
    env.pop("REDIS_URL", None) if "REDIS_URL" not in extra else None
    return env
