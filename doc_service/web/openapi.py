"""The OpenAPI 3.1 description of /api/v1 (kept beside the views it describes)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from doc_service import __version__

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


def spec(app: Flask) -> dict[str, Any]:
    obj = {"type": "object"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "doc-service API", "version": __version__,
                 "description": "学籍文书的填制、签批与归档。教职工使用 Bearer API 令牌；"
                                "学生通过文书二维码验证身份后获得仅限该文书的短期令牌。"},
        "servers": [{"url": "/api/v1"}],
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
            "/documents/{id}": {"get": _op("文书详情", result=DOC, params=[_path("id")])},
            "/documents/{id}/pdf": {"get": _op("下载当前 PDF", params=[_path("id")],
                                               media="application/pdf",
                                               result={"type": "string", "format": "binary"})},
            "/documents/{id}/docx": {"get": _op("下载 DOCX", params=[_path("id")],
                                                media="application/vnd.openxmlformats-"
                                                "officedocument.wordprocessingml.document",
                                                result={"type": "string", "format": "binary"})},
            "/documents/{id}/decisions": {"post": _op(
                "签批：同意或退回", ok=201, result=DOC, params=[_path("id")], body={
                    "type": "object", "required": ["decision"],
                    "properties": {"decision": {"enum": ["approve", "reject"]},
                                   "comment": {"type": "string", "maxLength": 500}}})},
            "/documents/batch-decisions": {"post": _op(
                "批量同意", result=obj, body={
                    "type": "object", "required": ["document_ids"],
                    "properties": {"document_ids": {"type": "array",
                                                    "items": {"type": "string"}}}})},
            "/documents/{id}/revisions": {"post": _op(
                "退回后修改重出（新版本）", ok=201, result=DOC, params=[_path("id")],
                body={"type": "object", "properties": {"data": obj}})},
            "/documents/{id}/chsi-marked": {"post": _op("记录已在学信网标注",
                                                        params=[_path("id")], result=obj)},
            "/inbox": {"get": _op("我的待办", result=obj)},
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
