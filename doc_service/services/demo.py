"""Demo data: one school, two colleges with their staff and classes, ~60 students.

Loaded by ``make run`` (``doc-service demo``) when the database has no users.
Passwords and API tokens are random per instance and kept in
``instance/demo-accounts.json`` (mode 0600) so they can be printed again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, TypedDict

from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from doc_service.forms.idcard import make_id_number
from doc_service.services.runtime import Runtime
from doc_service.storage.models import College, Role, SchoolClass, Student, User


class _CollegeSpec(TypedDict):
    code: str
    head: str
    issuer: str
    classes: list[tuple[str, str, str]]
    """(class number, major, class teacher)"""


COLLEGES: dict[str, _CollegeSpec] = {
    "交通运输学院": {"code": "jy", "head": "周建国", "issuer": "孙丽",
                  "classes": [("交运2601", "交通运输", "陈明"), ("汽服2601", "汽车服务工程", "刘洋"),
                              ("物流2601", "物流管理", "黄静")]},
    "信息工程学院": {"code": "xx", "head": "吴振华", "issuer": "郑敏",
                  "classes": [("计科2601", "计算机科学与技术", "林涛"), ("软件2601", "软件工程", "何婷"),
                              ("电信2601", "电子信息工程", "罗斌")]},
}
OFFICE_STAFF = [
    ("registrar", "赵红梅", Role.REGISTRAR),
    ("registrar2", "钱志强", Role.REGISTRAR),
    ("office", "冯雪", Role.APPROVING_OFFICE),
    ("archivist", "许文华", Role.ARCHIVIST),
    ("admin", "系统管理员", Role.ADMIN),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = ["子涵", "浩然", "欣怡", "雨桐", "梓萱", "一诺", "宇轩", "思彤", "俊杰", "佳怡", "喆",
         "堃", "玥", "嘉懿", "晨曦", "明轩", "诗涵", "博文", "语嫣", "天佑", "若曦", "泽宇",
         "可馨", "子墨", "雅琪", "皓轩", "梦瑶", "志远", "静怡", "昊天"]
REGIONS = ["610113", "610402", "610502", "610104", "410105", "510107", "140105", "620102"]
ETHNIC = ["汉族"] * 8 + ["回族", "满族"]
ADDRESSES = ["陕西省西安市雁塔区科技路", "陕西省咸阳市秦都区人民路", "河南省郑州市金水区花园路",
             "四川省成都市武侯区人民南路", "甘肃省兰州市城关区东岗西路"]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def accounts_file(rt: Runtime) -> Path:
    return rt.instance / "demo-accounts.json"


def load_demo(rt: Runtime) -> bool:
    """Load the demo data if the database has no users; True when it loaded."""
    with rt.sessions() as session:
        if session.scalar(select(func.count(User.id))):
            return False
    accounts: list[dict[str, Any]] = []

    def add_user(session: Any, username: str, name: str, role: str,
                 college: College | None) -> User:
        password = secrets.token_urlsafe(9)
        token = "ds_" + secrets.token_urlsafe(24)
        user = User(username=username, name=name, role=role,
                    college_id=college.id if college else None,
                    password_hash=generate_password_hash(password),
                    api_token_hash=_token_hash(token))
        session.add(user)
        session.flush()
        accounts.append({"username": username, "password": password, "token": token,
                         "name": name, "role": role, "college": college.name if college else None,
                         "classes": []})
        return user

    rng = secrets.SystemRandom()
    with rt.sessions.begin() as session:
        for username, name, role in OFFICE_STAFF:
            add_user(session, username, name, role, None)
        serial = 0
        for college_name, spec in COLLEGES.items():
            college = College(name=college_name)
            session.add(college)
            session.flush()
            add_user(session, f"{spec['code']}-issuer", spec["issuer"], Role.ISSUER, college)
            head = add_user(session, f"{spec['code']}-head", spec["head"], Role.COLLEGE_HEAD,
                            college)
            college.head_id = head.id
            for i, (class_no, major, teacher_name) in enumerate(spec["classes"], start=1):
                teacher = add_user(session, f"{spec['code']}-teacher{i}", teacher_name,
                                   Role.CLASS_TEACHER, college)
                accounts[-1]["classes"].append(class_no)
                klass = SchoolClass(class_no=class_no, college_id=college.id, major=major,
                                    grade=2026, teacher_id=teacher.id)
                session.add(klass)
                session.flush()
                for k in range(10):
                    serial += 1
                    gender = "男" if serial % 2 else "女"
                    birth = dt.date(2007, 1, 1) + dt.timedelta(days=rng.randrange(0, 700))
                    region = REGIONS[serial % len(REGIONS)]
                    session.add(Student(
                        student_no=f"2026{spec['code'] == 'jy' and '01' or '02'}{i:02d}{k + 1:02d}",
                        name=SURNAMES[serial % len(SURNAMES)] + GIVEN[serial % len(GIVEN)],
                        gender=gender, id_number=make_id_number(region, birth, serial, gender),
                        exam_no=f"26{region[:4]}{rng.randrange(10**7, 10**8)}",
                        ethnicity=ETHNIC[serial % len(ETHNIC)], birth_date=birth.isoformat(),
                        enrollment_month="2026-09", school=rt.institution.name, major=major,
                        duration_years=4, level="本科", admission_type="普通高考",
                        study_mode="普通全日制", phone=f"138{rng.randrange(10**7, 10**8)}",
                        address=f"{ADDRESSES[serial % len(ADDRESSES)]}{rng.randrange(1, 300)}号",
                        grade=2026, college_id=college.id, class_id=klass.id))
    path = accounts_file(rt)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(accounts, f, ensure_ascii=False, indent=2)
    return True


def ensure_keys(rt: Runtime) -> bool:
    """Create the institution's PKI (root, TSA, seals) if absent."""
    ks = rt.keystore
    if ks.initialized:
        return False
    with rt.sessions() as session:
        colleges = list(session.scalars(select(College.name).order_by(College.id)))
    ks.init_institution(rt.institution.name, colleges or list(rt.institution.colleges))
    return True


def demo_accounts(rt: Runtime) -> list[dict[str, Any]]:
    path = accounts_file(rt)
    if not path.exists():
        return []
    accounts: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return accounts


def demo_students(rt: Runtime) -> list[dict[str, Any]]:
    with rt.sessions() as session:
        return [s.form_data() for s in session.scalars(select(Student).order_by(Student.id))]
