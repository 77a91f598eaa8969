"""The OpenAPI 3.1 description of /api/v1 (kept beside the views it describes)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from doc_service import __version__

PREFIX = "/api/v1"
ERROR = {"$ref": "#/components/schemas/Error"}
DOC = {"$ref": "#/components/schemas/Document"}


def _op(summary: str, *, body: dict[str, Any] | None = None, ok: int = 200,
        result: dict[str, Any] | None = None, public: bool = False,
        params: list[dict[str, Any]] | None = None, media: str = "application/json"
        ) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            str(ok): {"description": "成功", "content": {media: {"schema": result or {}}}},
            "400": {"description": "请求有误", "content": {"application/json": {"schema": ERROR}}},
            "401": {"description": "未认证", "content": {"application/json": {"schema": ERROR}}},
            "403": {"description": "无权限", "content": {"application/json": {"schema": ERROR}}},
            "404": {"description": "不存在", "content": {"application/json": {"schema": ERROR}}},
            "409": {"description": "状态冲突", "content": {"application/json": {"schema": ERROR}}},
            "422": {"description": "数据校验失败",
                    "content": {"application/json": {"schema": ERROR}}},
            "429": {"description": "请求过于频繁或验证暂时锁定（Retry-After 秒后再试）",
                    "content": {"application/json": {"schema": ERROR}}},
        },
    }
    if public:
        op["security"] = []
    if body:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema or {"type": "string"}}


_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _routes_elsewhere(app: Flask, described: dict[str, Any]) -> dict[str, Any]:
    """Operations for /api/v1 routes that other parts (e.g. the archive) register.

    The document stays a true list of what the server answers: a route without a
    hand-written description still appears, summarized from its view's docstring.
    """
    paths: dict[str, Any] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/") or rule.endpoint.startswith("static"):
            continue
        path = _CONVERTER.sub(r"{\1}", rule.rule[len(PREFIX):])
        view = app.view_functions.get(rule.endpoint)
        doc = (view.__doc__ or "").strip().splitlines() if view else []
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method.lower() in described.get(path, {}) or method.lower() in paths.get(path, {}):
                continue
            params = [_path(name) for name in _CONVERTER.findall(rule.rule)]
            paths.setdefault(path, {})[method.lower()] = _op(
                doc[0] if doc else rule.endpoint, params=params or None, result={})
    return paths


def spec(app: Flask) -> dict[str, Any]:
    out = _described()
    for path, ops in _routes_elsewhere(app, out["paths"]).items():
        out["paths"].setdefault(path, {}).update(ops)
    return out


def _described() -> dict[str, Any]:
    obj = {"type": "object"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "doc-service API", "version": __version__,
                 "description": "学籍文书的填制、签批与归档。教职工使用 Bearer API 令牌；"
                                "学生通过文书二维码验证身份后获得仅限该文书的短期令牌。"},
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "paths": {
            "/forms": {"get": _op("表单及字段列表", public=True,
                                  result={"type": "array", "items": obj})},
            "/documents": {
                "post": _op("出具文书", ok=201, result=DOC, body={
                    "type": "object", "required": ["form_id"],
                    "properties": {"form_id": {"type": "string"},
                                   "student_no": {"type": "string"},
                                   "data": obj}}),
                "get": _op("文书列表（分页）", result=obj, params=[
                    _query("form_id"), _query("student_no"), _query("status"),
                    _query("page", {"type": "integer", "minimum": 1}),
                    _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100})]),
            },
            "/documents/{doc_id}": {"get": _op("文书详情", result=DOC, params=[_path("doc_id")])},
            "/documents/{doc_id}/pdf": {"get": _op("下载当前 PDF", params=[_path("doc_id")],
                                               media="application/pdf",
                                               result={"type": "string", "format": "binary"})},
            "/documents/{doc_id}/docx": {"get": _op("下载 DOCX", params=[_path("doc_id")],
                                                media="application/vnd.openxmlformats-"
                                                "officedocument.wordprocessingml.document",
                                                result={"type": "string", "format": "binary"})},
            "/documents/{doc_id}/decisions": {"post": _op(
                "签批：同意或退回", ok=201, result=DOC, params=[_path("doc_id")], body={
                    "type": "object", "required": ["decision"],
                    "properties": {"decision": {"enum": ["approve", "reject"]},
                                   "comment": {"type": "string", "maxLength": 500}}})},
            "/documents/batch-decisions": {"post": _op(
                "批量同意", result=obj, body={
                    "type": "object", "required": ["document_ids"],
                    "properties": {"document_ids": {"type": "array",
                                                    "items": {"type": "string"}}}})},
            "/documents/{doc_id}/revisions": {"post": _op(
                "退回后修改重出（新版本）", ok=201, result=DOC, params=[_path("doc_id")],
                body={"type": "object", "properties": {"data": obj}})},
            "/documents/{doc_id}/chsi-marked": {"post": _op("记录已在学信网标注",
                                                        params=[_path("doc_id")], result=obj)},
            "/documents/{doc_id}/identity-unlock": {"post": _op(
                "解除学生身份验证锁定（出具人或教务处）", params=[_path("doc_id")], result=obj)},
            "/inbox": {"get": _op("我的待办", result=obj)},
            "/openapi.json": {"get": _op("本接口的 OpenAPI 3.1 描述", public=True, result=obj)},
            "/codes/{code}": {"get": _op("按二维码查看文书状态（公开，无个人信息）", public=True,
                                         params=[_path("code")], result=obj)},
            "/codes/{code}/identity": {"post": _op(
                "学生身份验证，返回仅限该文书的短期令牌", public=True, params=[_path("code")],
                result=obj, body={"type": "object", "required": ["student_no", "id_last6"],
                                  "properties": {"student_no": {"type": "string"},
                                                 "id_last6": {"type": "string",
                                                              "minLength": 6, "maxLength": 6}}})},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"],
                          "properties": {"error": {"type": "string"},
                                         "message": {"type": "string"},
                                         "retry_after": {"type": "integer"},
                                         "fields": {"type": "array", "items": {
                                             "type": "object",
                                             "properties": {"key": {"type": "string"},
                                                            "message": {"type": "string"},
                                                            "code": {"type": "string"}}}}}},
                "Document": {"type": "object", "properties": {
                    "id": {"type": "string"}, "version": {"type": "integer"},
                    "form_id": {"type": "string"}, "number": {"type": "string"},
                    "code": {"type": "string"}, "status": {"type": "string"},
                    "steps": {"type": "array", "items": {"type": "object", "properties": {
                        "position": {"type": "integer"}, "role": {"type": "string"},
                        "signer": {"type": "string"}, "state": {"type": "string"}}}},
                    "data": obj}},
            },
        },
    }
