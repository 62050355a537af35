"""OpenAPI 3.1 documents generated from a service's own starlette routes and pydantic models.

Every route of an API is an :class:`ApiRoute`: the route and its :class:`Operation` (request and
response models, query parameters, every status it answers) are one object, so the document
cannot drift from what is served. :func:`document` walks the live route table and refuses a
route that is not described (:class:`Undocumented`; a running service lists it as
``x-hibiki-undocumented`` and logs it instead); :func:`dangling_refs` lists every ``$ref``
that does not resolve. ``build_app`` (``hibiki.common.http``) serves the document at
``GET /api/v1/openapi.json`` for every service that has an API route.

A model is any type pydantic can describe (a ``BaseModel``, ``list[Model]``, ...): request
bodies are described as pydantic validates them, responses as it serialises them.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter
from pydantic.json_schema import JsonSchemaMode
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from hibiki.common.logging import get_logger

PATH = "/api/v1/openapi.json"
Endpoint = Callable[[Request], Awaitable[Response]]
REF = "#/components/schemas/{model}"
_CONVERTOR = re.compile(r"{([^}:]+)(:[^}]+)?}")
_PARAMETER = re.compile(r"{([^}:]+)")


class Error(BaseModel):
    """The one error shape of every Hibiki HTTP API (``hibiki.common.http.error_response``)."""

    error_id: str
    message: str
    details: dict[str, Any]


STATUS = {400: "malformed request (error_id and details.field name it)", 401: "no valid bearer token",
          403: "the token's role or tenant does not allow this", 404: "no such resource",
          409: "conflicts with stored data", 413: "body too large", 415: "unsupported media type",
          422: "invalid field (error_id and details.field name it)", 503: "a backing store is unavailable"}


@dataclass(frozen=True)
class Operation:
    """What one method of one path takes and answers.

    ``ok``: the success status (or statuses, e.g. ``(200, 201)`` for a PUT that may create);
    ``response``: the JSON model of the success answer (``None``: no body, or ``media``);
    ``media``: a non-JSON success body (``text/csv``, ``audio/wav``, ...);
    ``body``: the request model (sent as ``body_media``, JSON unless told);
    ``upload``: instead, a raw request body's media type;
    ``query``: a model whose fields are the query parameters;
    ``path``: a model whose fields describe path parameters (a non-empty string when not named);
    ``errors``: every other status it answers, with when (401 is added for routes behind the token
    check), each with the :class:`Error` body unless ``error_bodies`` names another model (or a
    media type, for a plain body) for it;
    ``open``: no token needed (probes, FreeSWITCH's ``/fsapi``)."""

    summary: str
    ok: int | tuple[int, ...] = 200
    response: Any = None
    media: str | None = None
    body: Any = None
    body_media: str = "application/json"
    upload: str | None = None
    query: type[BaseModel] | None = None
    path: type[BaseModel] | None = None
    errors: Mapping[int, str] = field(default_factory=dict)
    error_bodies: Mapping[int, Any] = field(default_factory=dict)
    open: bool = False
    tags: Sequence[str] = ()


class ApiRoute(Route):
    """A starlette route for one method, carrying its OpenAPI description."""

    def __init__(self, path: str, endpoint: Endpoint, method: str, operation: Operation) -> None:
        super().__init__(path, endpoint, methods=[method])
        self.method = method.upper()
        self.operation = operation


class Undocumented(Exception):
    """Routes without an :class:`Operation`: the document would not show them."""


def errors(*statuses: int, **when: str) -> dict[int, str]:
    """``errors(403, 404, s409="extension taken")``: the common texts, or a route's own."""
    table = {status: STATUS[status] for status in statuses}
    table.update({int(key.lstrip("s")): text for key, text in when.items()})
    return table


def walk(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str, BaseRoute]]:
    """Every (path, method, route) a router serves, mounts included, HEAD left out."""
    for route in routes:
        if isinstance(route, Mount):
            yield from walk(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    yield _CONVERTOR.sub(r"{\1}", prefix + route.path), method, route


def starlette_of(app: Any) -> Any:
    """The starlette application inside ``build_app``'s middleware (whatever wraps it)."""
    while not hasattr(app, "routes"):
        app = app.app
    return app


def undocumented(routes: Iterable[BaseRoute]) -> list[str]:
    """``METHOD /path`` of every route without an operation (cheap: no schemas)."""
    return [f"{method} {path}" for path, method, route in walk(routes) if not isinstance(route, ApiRoute)]


def check_documented(routes: Iterable[BaseRoute]) -> None:
    """Raises :class:`Undocumented` naming every route without an operation."""
    missing = undocumented(routes)
    if missing:
        raise Undocumented("routes without an OpenAPI operation (describe each with "
                           "hibiki.common.openapi.ApiRoute): " + ", ".join(missing))


def document(title: str, routes: Iterable[BaseRoute], version: str = "1", strict: bool = True) -> dict[str, Any]:
    """The OpenAPI document of ``routes``. A route without an operation raises :class:`Undocumented`
    naming it; with ``strict=False`` it is listed as ``x-hibiki-undocumented`` instead (what a
    running service serves, so a route merged without its description shows up, not a 500)."""
    routes = list(routes)
    if strict:
        check_documented(routes)
    described = [(path, route) for path, _, route in walk(routes) if isinstance(route, ApiRoute)]
    keyed: list[tuple[tuple[int, str], JsonSchemaMode, TypeAdapter[Any]]] = [((-1, "Error"), "serialization", TypeAdapter(Error))]
    for n, (_, route) in enumerate(described):
        op = route.operation
        if op.response is not None:
            keyed.append(((n, "response"), "serialization", TypeAdapter(op.response)))
        if op.body is not None:
            keyed.append(((n, "body"), "validation", TypeAdapter(op.body)))
        for status, model in op.error_bodies.items():
            if not isinstance(model, str):
                keyed.append(((n, str(status)), "serialization", TypeAdapter(model)))
    schemas, defs = TypeAdapter.json_schemas(keyed, ref_template=REF)
    components = dict(defs.get("$defs", {}))
    components["Error"] = schemas[((-1, "Error"), "serialization")]
    paths: dict[str, dict[str, Any]] = {}
    for n, (path, route) in enumerate(described):
        mine = {part: value for ((key, part), _), value in schemas.items() if key == n}
        paths.setdefault(path, {})[route.method.lower()] = _operation(path, route.operation, mine)
    for path, method, plain in walk(routes):
        if not isinstance(plain, ApiRoute):
            paths.setdefault(path, {})[method.lower()] = {
                "summary": "not described yet (no hibiki.common.openapi.Operation)", "x-hibiki-undocumented": True,
                "responses": {"default": {"description": "anything"}}}
    return {"openapi": "3.1.0", "info": {"title": title, "version": version}, "paths": paths,
            "components": {"schemas": components,
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}}}


def _operation(path: str, op: Operation, schema: Mapping[str, Any]) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}
    ok: dict[str, Any] = {"description": "OK"}
    if "response" in schema:
        ok["content"] = {"application/json": {"schema": schema["response"]}}
    elif op.media:
        ok["content"] = {op.media: {"schema": {"type": "string", "format": "binary"}}}
    responses: dict[str, Any] = {str(status): ok for status in (op.ok if isinstance(op.ok, tuple) else (op.ok,))}
    statuses = dict(op.errors) if op.open else {401: STATUS[401], **op.errors}
    for status, when in sorted(statuses.items()):
        content = {"application/json": {"schema": schema[str(status)]}} if str(status) in schema else error
        if isinstance(op.error_bodies.get(status), str):
            content = {op.error_bodies[status]: {"schema": {"type": "string"}}}
        responses[str(status)] = {"description": when, "content": content}
    named = op.path.model_json_schema(ref_template=REF).get("properties", {}) if op.path is not None else {}
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": named.get(name, {"type": "string", "minLength": 1})}
        for name in _PARAMETER.findall(path)]
    if op.query is not None:
        described = op.query.model_json_schema(ref_template=REF)
        required = set(described.get("required", ()))
        for name, prop in described.get("properties", {}).items():
            parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    out: dict[str, Any] = {"summary": op.summary, "responses": responses}
    if op.tags:
        out["tags"] = list(op.tags)
    if parameters:
        out["parameters"] = parameters
    if not op.open:
        out["security"] = [{"bearer": []}]
    if "body" in schema:
        out["requestBody"] = {"required": True, "content": {op.body_media: {"schema": schema["body"]}}}
    elif op.upload:
        out["requestBody"] = {"required": True, "content": {op.upload: {"schema": {"type": "string", "format": "binary"}}}}
    return out


def dangling_refs(doc: Mapping[str, Any]) -> list[str]:
    """Every local ``$ref`` in ``doc`` that does not resolve (an empty list when all do)."""
    found: list[str] = []

    def resolves(ref: str) -> bool:
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                return False
            node = node[part]
        return True

    def visit(node: Any) -> None:
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if isinstance(ref, str) and (not ref.startswith("#/") or not resolves(ref)):
                found.append(ref)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(doc)
    return found


class Health(BaseModel):
    service: str
    status: str = Field(description='"ok", or "failing" (503) when a liveness check fails')
    checks: dict[str, bool] | None = Field(default=None, description="the service's own liveness checks, if any")


class Readiness(BaseModel):
    service: str
    ready: bool
    checks: dict[str, bool]


def probe_routes(healthz: Endpoint, readyz: Endpoint, metrics: Endpoint) -> list[ApiRoute]:
    """The routes ``build_app`` gives every service, described."""
    return [
        ApiRoute("/healthz", healthz, "GET", Operation(
            "Liveness (no token): 503 when one of the service's own checks fails", response=Health, open=True,
            tags=["probes"], errors={503: "not alive: checks says what stopped"}, error_bodies={503: Health})),
        ApiRoute("/readyz", readyz, "GET", Operation(
            "Readiness (no token): 503 while a dependency is down", response=Readiness, open=True, tags=["probes"],
            errors={503: "not ready: checks says which dependency"}, error_bodies={503: Readiness})),
        ApiRoute("/metrics", metrics, "GET", Operation("Prometheus metrics", media="text/plain", tags=["probes"])),
    ]


def document_route(title: str, routes: Sequence[BaseRoute]) -> ApiRoute:
    """``GET /api/v1/openapi.json``: the document of the router that serves it (``request.app``),
    built on the first request and kept (~0.1 s for the directory: not at every start). A route
    of ``routes`` (the table the app is built from) without an operation is logged at start and
    marked ``x-hibiki-undocumented`` in the document; ``tests/test_openapi_documents.py`` fails on it."""
    cache: dict[str, bytes] = {}

    def build(routes: Sequence[BaseRoute]) -> bytes:
        return json.dumps(document(title, routes, strict=False), ensure_ascii=False).encode()

    async def serve(request: Request) -> Response:
        if "doc" not in cache:   # off the event loop: calls are not held up while it is built
            cache["doc"] = await asyncio.to_thread(build, list(request.app.routes))
        return Response(cache["doc"], media_type="application/json")

    route = ApiRoute(PATH, serve, "GET", Operation("This document (OpenAPI 3.1)", response=dict[str, Any],
                                                   tags=["meta"]))
    missing = undocumented(routes)
    if missing:
        get_logger("hibiki.openapi").error("routes_undocumented", routes=missing,
                                           fix="describe each with hibiki.common.openapi.ApiRoute")
    return route
