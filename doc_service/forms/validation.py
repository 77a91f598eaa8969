"""Validation of form data against a :class:`FormSpec`.

Returns the cleaned data (trimmed, normalized, typed) or raises one
:class:`ValidationError` listing every field problem at once, so a registrar
fixes a row in one pass. Nothing is rendered or stored when this fails.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from doc_service.errors import FieldError, ValidationError
from doc_service.forms.idcard import IdNumberError, parse_id_number
from doc_service.forms.spec import FieldSpec, FieldType, FormSpec

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_PHONE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8}(-\d{1,6})?)$")
_MIN_YEAR, _MAX_YEAR = 1900, 2100
# Hard ceiling on any single value, whatever a schema says (keeps layouts sane).
_ABSOLUTE_MAX = 2000


def has_control(value: str, *, multiline: bool) -> bool:
    """Whether ``value`` holds a character no one should type into a document: controls
    (newline and tab allowed when ``multiline``), invisible format characters, surrogates
    and private-use code points. Field values and decision comments share this rule."""
    for ch in value:
        if multiline and ch in "\n\t":
            continue
        cat = unicodedata.category(ch)
        # Cc: C0/C1 controls; Cf: invisible format chars (bidi overrides, zero-width)
        # that can make a printed name differ from the stored one; Cs/Co: surrogates
        # and private-use code points no font draws.
        if cat in ("Cc", "Cs", "Co") or (cat == "Cf" and ch != "\u200d"):
            return True
    return False


def parse_date(value: str) -> dt.date | None:
    m = _DATE.match(value)
    if not m:
        return None
    try:
        d = dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return d if _MIN_YEAR <= d.year <= _MAX_YEAR else None


def parse_month(value: str) -> dt.date | None:
    m = _MONTH.match(value)
    if not m or not 1 <= int(m[2]) <= 12:
        return None
    d = dt.date(int(m[1]), int(m[2]), 1)
    return d if _MIN_YEAR <= d.year <= _MAX_YEAR else None


def _as_date(spec: FieldSpec, value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if spec.type is FieldType.MONTH:
        return parse_month(str(value))
    return parse_date(str(value))


def _clean_field(spec: FieldSpec, raw: Any, errors: list[FieldError]) -> Any:
    """One field: normalize and check; append to ``errors`` and return None on failure."""
    key, label = spec.key, spec.label

    def fail(code: str, message: str) -> None:
        errors.append(FieldError(key, message, code))

    if spec.type is FieldType.MULTI:
        if raw in (None, "", []):
            values: list[str] = []
        elif isinstance(raw, list) and all(isinstance(v, str) for v in raw):
            values = [v.strip() for v in raw]
        else:
            fail("type", f"{label}应为选项列表")
            return None
        bad = [v for v in values if v not in spec.choices]
        if bad:
            fail("choice", f"{label}包含无效选项「{bad[0][:20]}」，可选：{'、'.join(spec.choices)}")
            return None
        if len(set(values)) != len(values):
            fail("duplicate", f"{label}有重复选项")
            return None
        if spec.required and not values:
            fail("required", f"请选择{label}")
            return None
        # Keep the schema's order so printed tick boxes read the same everywhere.
        return [c for c in spec.choices if c in values]

    if raw is None:
        value = ""
    elif isinstance(raw, bool):
        fail("type", f"{label}格式不正确")
        return None
    elif isinstance(raw, int | float) and spec.type in (FieldType.INTEGER, FieldType.DIGITS,
                                                        FieldType.TEXT, FieldType.ENUM):
        value = str(int(raw)) if float(raw).is_integer() else str(raw)
    elif isinstance(raw, str):
        value = unicodedata.normalize("NFC", raw).strip()
    else:
        fail("type", f"{label}应为文本")
        return None

    if value == "":
        if spec.required:
            fail("required", f"请填写{label}")
        return None
    if len(value) > _ABSOLUTE_MAX or (spec.max_length and len(value) > spec.max_length):
        limit = min(spec.max_length or _ABSOLUTE_MAX, _ABSOLUTE_MAX)
        fail("too_long", f"{label}过长（最多{limit}个字符，现有{len(value)}个）")
        return None
    if has_control(value, multiline=spec.type is FieldType.TEXTAREA):
        fail("control_char", f"{label}含有不可见的控制字符，请删除后重新输入")
        return None
    if spec.min_length and len(value) < spec.min_length:
        fail("too_short", f"{label}至少需要{spec.min_length}个字符")
        return None

    t = spec.type
    if t is FieldType.ID_NUMBER:
        try:
            return parse_id_number(value).value
        except IdNumberError as e:
            fail(e.code, e.message)
            return None
    if t is FieldType.DIGITS:
        value = value.translate(_FULLWIDTH_DIGITS)
        if not value.isascii() or not value.isdigit():
            fail("format", f"{label}只能由数字组成")
            return None
        if spec.length and len(value) != spec.length:
            fail("length", f"{label}应为{spec.length}位数字（现有{len(value)}位）")
            return None
        return value
    if t is FieldType.DATE:
        d = parse_date(value)
        if d is None:
            fail("date", f"{label}不是有效日期（格式 2026-09-01，且日期须真实存在）")
            return None
        return d.isoformat()
    if t is FieldType.MONTH:
        d = parse_month(value)
        if d is None:
            fail("month", f"{label}不是有效年月（格式 2026-09）")
            return None
        return f"{d:%Y-%m}"
    if t is FieldType.ENUM:
        if value not in spec.choices:
            fail("choice", f"{label}应为以下之一：{'、'.join(spec.choices)}")
            return None
        return value
    if t is FieldType.INTEGER:
        value = value.translate(_FULLWIDTH_DIGITS)
        if not re.fullmatch(r"-?\d{1,9}", value):
            fail("integer", f"{label}应为整数")
            return None
        n = int(value)
        if (spec.minimum is not None and n < spec.minimum) or (
            spec.maximum is not None and n > spec.maximum
        ):
            fail("range", f"{label}应在{spec.minimum}到{spec.maximum}之间")
            return None
        return n
    if t is FieldType.PHONE:
        compact = value.translate(_FULLWIDTH_DIGITS).replace(" ", "")
        if not _PHONE.match(compact):
            fail("phone", f"{label}不是有效的电话号码（手机11位，或区号-号码）")
            return None
        return compact
    if spec.pattern and not re.fullmatch(spec.pattern, value):
        fail("format", spec.pattern_message or f"{label}格式不正确")
        return None
    return value


_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def _apply_rules(form: FormSpec, data: dict[str, Any], errors: list[FieldError]) -> None:
    failed = {e.key for e in errors}
    keys = set(form.keys)

    def usable(*names: str) -> bool:
        return all(n in keys and n not in failed and data.get(n) not in (None, "") for n in names)

    # The ID number encodes birth date and gender (GB 11643): they must agree.
    if usable("id_number"):
        parsed = parse_id_number(data["id_number"])
        if usable("birth_date") and parse_date(data["birth_date"]) != parsed.birth_date:
            errors.append(FieldError("birth_date", "出生日期与身份证号不一致", "id_mismatch"))
        if usable("gender") and data["gender"] != parsed.gender:
            errors.append(FieldError("gender", "性别与身份证号不一致", "id_mismatch"))

    for rule in form.rules:
        kind = rule["rule"]
        if kind == "date_order":
            a, b = rule["fields"]
            if usable(a, b):
                da, db = _as_date(form.field(a), data[a]), _as_date(form.field(b), data[b])
                if da and db and (da > db or (rule.get("strict") and da == db)):
                    msg = rule.get("message") or (
                        f"{form.field(a).label}不能晚于{form.field(b).label}")
                    errors.append(FieldError(b, msg, "date_order"))
        elif kind == "max_span_days":
            a, b = rule["fields"]
            if usable(a, b):
                da, db = _as_date(form.field(a), data[a]), _as_date(form.field(b), data[b])
                if da and db and (db - da).days > rule["days"]:
                    msg = rule.get("message") or (
                        f"{form.field(a).label}至{form.field(b).label}不得超过{rule['days']}天")
                    errors.append(FieldError(b, msg, "too_long_span"))
        elif kind == "required_if":
            target, when, value = rule["field"], rule["when"], rule["value"]
            if when in failed:
                continue
            current = data.get(when)
            hit = value in current if isinstance(current, list) else current == value
            if hit and data.get(target) in (None, "") and target not in failed:
                label = form.field(target).label
                errors.append(FieldError(target, rule.get("message") or f"请填写{label}",
                                         "required"))
        elif kind == "allowed_if":
            # A field that only makes sense for some values of another (e.g. 转入专业 for 转专业).
            target, when, values = rule["field"], rule["when"], rule["values"]
            if when in failed:
                continue
            current = data.get(when)
            ok = (any(v in current for v in values) if isinstance(current, list)
                  else current in values)
            if data.get(target) not in (None, "", []) and not ok:
                label = form.field(target).label
                errors.append(FieldError(target, rule.get("message") or f"{label}不适用于此情形",
                                         "not_applicable"))
        else:  # pragma: no cover - schemas are part of the code base
            raise ValueError(f"unknown rule {kind!r} in form {form.id}")


def validate(form: FormSpec, data: Mapping[str, Any]) -> dict[str, Any]:
    """Clean ``data`` for ``form`` or raise :class:`ValidationError` with every problem."""
    if not isinstance(data, Mapping):
        raise ValidationError([FieldError("*", "表单数据应为对象（JSON object）", "type")])
    errors: list[FieldError] = []
    known = set(form.keys)
    for key in data:
        if key not in known:
            shown = str(key)[:40]
            errors.append(FieldError(shown, f"此表单没有字段「{shown}」", "unknown_field"))
    cleaned: dict[str, Any] = {}
    for spec in form.fields:
        value = _clean_field(spec, data.get(spec.key), errors)
        if value not in (None, ""):
            cleaned[spec.key] = value
    _apply_rules(form, cleaned, errors)
    if errors:
        raise ValidationError(errors)
    return cleaned
