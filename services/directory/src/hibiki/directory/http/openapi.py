"""``GET /api/v1/openapi.json``: the admin API described from its routes and schemas."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.directory import schemas
from hibiki.directory.http.admin import RESOURCES
from hibiki.directory.http.csv_api import csv_paths

ERROR = {
    "type": "object", "required": ["error_id", "message"],
    "properties": {"error_id": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}},
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _op(summary: str, ok: int, response: dict[str, Any] | None, body: type[BaseModel] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "security": [{"bearer": []}], "responses": {
        str(ok): {"description": "OK"} if response is None else
        {"description": "OK", "content": {"application/json": {"schema": response}}},
        "401": {"description": "no valid token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "403": {"description": "role or tenant not allowed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    }}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
        op["responses"]["422"] = {"description": "invalid field (error_id names it)",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        op["responses"]["409"] = {"description": "conflict with stored data",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return op


def _listing(model: type[BaseModel]) -> dict[str, Any]:
    return {"type": "object", "properties": {"items": {"type": "array", "items": _ref(model)}}}


def document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [schemas.TenantIn, schemas.TenantPatch, schemas.TenantOut]
    tenant_param = {"name": "tenant", "in": "path", "required": True, "schema": {"type": "string"}}
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    paths: dict[str, Any] = {
        "/api/v1/tenants": {
            "get": _op("List tenants (platform-admin)", 200, _listing(schemas.TenantOut)),
            "post": _op("Create a tenant (platform-admin)", 201, _ref(schemas.TenantOut), schemas.TenantIn),
        },
        "/api/v1/tenants/{tenant}": {
            "parameters": [tenant_param],
            "get": _op("Read a tenant", 200, _ref(schemas.TenantOut)),
            "patch": _op("Change a tenant", 200, _ref(schemas.TenantOut), schemas.TenantPatch),
            "delete": _op("Delete a tenant and everything in it (platform-admin)", 204, None),
        },
    }
    for name, (_, create, patch, out) in RESOURCES.items():
        models += [create, patch, out]
        noun = name[:-1]
        paths[f"/api/v1/tenants/{{tenant}}/{name}"] = {
            "parameters": [tenant_param],
            "get": _op(f"List {name}", 200, _listing(out)),
            "post": _op(f"Create a {noun}", 201, _ref(out), create),
        }
        paths[f"/api/v1/tenants/{{tenant}}/{name}/{{id}}"] = {
            "parameters": [tenant_param, id_param],
            "get": _op(f"Read a {noun}", 200, _ref(out)),
            "patch": _op(f"Change a {noun}", 200, _ref(out), patch),
            "delete": _op(f"Delete a {noun}", 204, None),
        }
    paths.update(csv_paths())
    components = {m.__name__: m.model_json_schema(ref_template="#/components/schemas/{model}") for m in models}
    components["Error"] = ERROR
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hibiki directory admin API", "version": "1"},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }


async def openapi(_: Request) -> Response:
    return JSONResponse(document())
