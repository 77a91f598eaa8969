"""A decision comment is held to the same character rule as a field value."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("comment", ["同意\u202e意同", "同\u200b意", "同意\x00"])
def test_invisible_characters_in_a_comment_are_refused(api: Any, comment: str) -> None:
    resp = api("registrar", "post", "/documents/no-such-document/decisions",
               json={"decision": "reject", "comment": comment})
    assert resp.status_code == 422, resp.get_json()
    [error] = resp.get_json()["fields"]
    assert error["key"] == "comment" and error["code"] == "control_char"


def test_a_multiline_comment_is_still_accepted(api: Any) -> None:
    resp = api("registrar", "post", "/documents/no-such-document/decisions",
               json={"decision": "reject", "comment": "材料不全：\n\t缺少户籍证明"})
    assert resp.status_code == 404, resp.get_json()
