"""The OpenAPI generator: a route the document would lack stops the app, a ``$ref`` that does not
resolve is found, and what a route declares (models, query, statuses) is what the document says."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from hibiki.common import openapi
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.http import build_app
from hibiki.common.openapi import ApiRoute, Operation, Undocumented, dangling_refs, document, errors, starlette_of

AUTHORITY = TokenAuthority(b"k" * 48)
TOKEN = {"Authorization": "Bearer " + AUTHORITY.issue(Claims("t", "service"))}


class Leaf(BaseModel):
    kind: str


class ThingIn(BaseModel):
    name: str = Field(max_length=8)
    leaves: dict[str, Leaf] = {}


class ThingOut(BaseModel):
    id: str
    name: str
    leaves: dict[str, Leaf]


class Paging(BaseModel):
    limit: int = Field(default=10, ge=1, le=100)


async def ok(_: Request) -> Response:
    return JSONResponse({"id": "1", "name": "x", "leaves": {}})


def described() -> list[ApiRoute]:
    return [
        ApiRoute("/api/v1/things", ok, "GET", Operation("List", response=list[ThingOut], query=Paging)),
        ApiRoute("/api/v1/things", ok, "POST", Operation("Create", 201, ThingOut, body=ThingIn,
                                                          errors=errors(403, 422, s409="name taken"))),
        ApiRoute("/api/v1/things/{id:int}", ok, "DELETE", Operation("Delete", 204, errors=errors(404))),
    ]


def test_a_route_without_an_operation_is_refused_naming_it() -> None:
    sneaky = Route("/api/v1/things/{id}", ok, methods=["PUT"])
    with pytest.raises(Undocumented, match=r"PUT /api/v1/things/\{id\}"):
        document("t", [*described(), sneaky])
    with pytest.raises(Undocumented, match=r"GET /api/v1/inner/x"):   # mounts are walked too
        document("t", [Mount("/api/v1/inner", routes=[Route("/x", ok)])])
    assert openapi.undocumented([*described(), sneaky]) == ["PUT /api/v1/things/{id}"]


async def test_a_running_service_marks_an_undocumented_route_instead_of_failing() -> None:
    app = build_app("t", AUTHORITY, [*described(), Route("/api/v1/later", ok, methods=["POST"])])
    starlette_of(app).add_route("/api/v1/sneaky", ok)   # added after the build
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        doc = (await client.get(openapi.PATH, headers=TOKEN)).json()
    marked = {(path, method) for path, item in doc["paths"].items() for method, op in item.items()
              if op.get("x-hibiki-undocumented")}
    assert marked == {("/api/v1/later", "post"), ("/api/v1/sneaky", "get")}


async def test_the_served_document_has_every_route_method_and_status() -> None:
    app = build_app("t", AUTHORITY, described())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get(openapi.PATH)).status_code == 401
        doc = (await client.get(openapi.PATH, headers=TOKEN)).json()
    served = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    assert served == {(path, method) for path, method, _ in openapi.walk(starlette_of(app).routes)}
    assert ("/api/v1/things/{id}", "DELETE") in served     # the convertor is not part of the path
    create = doc["paths"]["/api/v1/things"]["post"]
    assert set(create["responses"]) == {"201", "401", "403", "409", "422"}
    assert create["responses"]["409"]["description"] == "name taken"
    listing = doc["paths"]["/api/v1/things"]["get"]
    assert listing["parameters"] == [{"name": "limit", "in": "query", "required": False,
                                      "schema": {"default": 10, "maximum": 100, "minimum": 1, "title": "Limit",
                                                 "type": "integer"}}]
    assert "security" not in doc["paths"]["/healthz"]["get"] and "401" not in doc["paths"]["/healthz"]["get"]["responses"]
    assert doc["paths"]["/readyz"]["get"]["responses"]["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Readiness"}
    assert {"Leaf", "ThingIn", "ThingOut", "Error"} <= set(doc["components"]["schemas"])
    assert dangling_refs(doc) == []


def test_a_dangling_ref_is_found() -> None:
    doc = document("t", described())
    del doc["components"]["schemas"]["Leaf"]
    assert dangling_refs(doc) == ["#/components/schemas/Leaf", "#/components/schemas/Leaf"]
    doc["paths"]["/x"] = {"get": {"responses": {"200": {"$ref": "other.json#/Thing"}}}}
    assert "other.json#/Thing" in dangling_refs(doc)


@given(st.recursive(st.none() | st.text(max_size=5), lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["$ref", "a", "b"]), inner, max_size=3)))
def test_dangling_refs_never_fails_on_any_document(node: Any) -> None:
    found = dangling_refs({"root": node})
    assert all(isinstance(ref, str) for ref in found)
