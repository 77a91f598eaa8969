from __future__ import annotations

import pytest

from doc_service.errors import FormNotFoundError, ValidationError
from doc_service.forms.spec import FORM_IDS, all_forms, load_form
from doc_service.forms.validation import validate
from tests.conftest import example


def errors_of(form_id: str, data: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        validate(load_form(form_id), data)
    return {e.key: e.code for e in info.value.errors}


def test_every_example_is_valid(form_id: str) -> None:
    cleaned = validate(load_form(form_id), example(form_id))
    assert cleaned


def test_all_five_forms_are_defined_with_shared_field_keys() -> None:
    assert [f.id for f in all_forms()] == list(FORM_IDS)
    checklist = load_form("verification_checklist")
    shared = {"exam_no", "student_no", "name", "gender", "ethnicity", "college", "class_no",
              "birth_date", "id_number", "enrollment_month", "school", "major",
              "duration_years", "level", "admission_type", "study_mode"}
    assert shared <= set(checklist.keys)
    assert checklist.field("exam_no").label == "考生号"


def test_unknown_form_is_reported_without_touching_the_filesystem() -> None:
    with pytest.raises(FormNotFoundError):
        load_form("../../etc/passwd")


def test_wrong_check_digit_is_refused() -> None:
    data = example("verification_checklist")
    data["id_number"] = data["id_number"][:-1] + ("0" if data["id_number"][-1] != "0" else "1")
    assert errors_of("verification_checklist", data) == {"id_number": "checksum"}


def test_id_number_must_agree_with_birth_date_and_gender() -> None:
    data = example("verification_checklist")
    data["birth_date"] = "2007-05-17"
    data["gender"] = "男"
    assert errors_of("verification_checklist", data) == {"birth_date": "id_mismatch",
                                                         "gender": "id_mismatch"}


def test_exam_number_must_have_14_digits() -> None:
    data = example("verification_checklist")
    data["exam_no"] = "2661011315023"
    assert errors_of("verification_checklist", data) == {"exam_no": "length"}
    data["exam_no"] = "2661011315023A"
    assert errors_of("verification_checklist", data) == {"exam_no": "format"}


@pytest.mark.parametrize("bad", ["2026-02-30", "2026-13-01", "26-09-01", "2026/09/01", "9999-01-01"])
def test_impossible_dates_are_refused(bad: str) -> None:
    data = example("withdrawal_notice")
    data["absent_from"] = bad
    assert errors_of("withdrawal_notice", data) == {"absent_from": "date"}


def test_dates_out_of_order_are_refused() -> None:
    data = example("withdrawal_notice")
    data["absent_from"], data["absent_to"] = data["absent_to"], data["absent_from"]
    assert errors_of("withdrawal_notice", data)["absent_to"] == "date_order"


def test_deferment_longer_than_two_weeks_is_refused() -> None:
    data = example("deferment_application")
    data["report_date"], data["defer_until"] = "2026-09-01", "2026-09-16"
    errs = errors_of("deferment_application", data)
    assert errs == {"defer_until": "too_long_span"}
    data["defer_until"] = "2026-09-15"
    assert validate(load_form("deferment_application"), data)["defer_until"] == "2026-09-15"


def test_enumerations_are_enforced() -> None:
    data = example("verification_checklist")
    data.update(gender="未知", level="硕士", study_mode="函授")
    assert errors_of("verification_checklist", data) == {
        "gender": "choice", "level": "choice", "study_mode": "choice"}
    notice = example("status_change_notice")
    notice["change_type"] = "开除"
    assert errors_of("status_change_notice", notice) == {"change_type": "choice"}


def test_status_change_types_cover_the_domain_list() -> None:
    choices = set(load_form("status_change_notice").field("change_type").choices)
    assert {"休学", "复学", "退学", "转专业", "降级", "留级", "保留学籍", "保留入学资格",
            "放弃入学资格", "转学", "取消学籍", "注销学籍"} <= choices


def test_overlong_values_and_control_characters_are_refused() -> None:
    data = example("withdrawal_notice")
    data["name"] = "张" * 31
    data["address"] = "西安\x00市"
    data["major"] = "汽车\u202e工程"  # bidi override: would print differently from storage
    assert errors_of("withdrawal_notice", data) == {
        "name": "too_long", "address": "control_char", "major": "control_char"}


def test_every_error_names_its_field_in_chinese() -> None:
    with pytest.raises(ValidationError) as info:
        validate(load_form("enrollment_certificate"), {"id_number": "123", "bogus": 1})
    payload = info.value.to_dict()
    assert payload["error"] == "validation_failed"
    keys = {f["key"] for f in payload["fields"]}
    assert {"id_number", "bogus", "name", "student_no"} <= keys
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in f["message"]) for f in payload["fields"])


def test_template_syntax_and_html_in_values_are_kept_as_text() -> None:
    data = example("withdrawal_notice")
    data["name"] = "{{ 7*7 }}<b>王</b>"
    assert validate(load_form("withdrawal_notice"), data)["name"] == "{{ 7*7 }}<b>王</b>"


def test_other_reason_requires_and_is_required_by_the_other_box() -> None:
    data = example("withdrawal_notice")
    data["reasons"] = ["其他"]
    assert errors_of("withdrawal_notice", data) == {"other_reason": "required"}
    data = example("withdrawal_notice")
    data["other_reason"] = "长期旷课"
    assert errors_of("withdrawal_notice", data) == {"other_reason": "not_applicable"}


def test_non_object_payload_is_refused() -> None:
    with pytest.raises(ValidationError):
        validate(load_form("withdrawal_notice"), ["not", "an", "object"])  # type: ignore[arg-type]
