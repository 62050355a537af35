"""What the ACD's HTTP resources share: the role check, JSON bodies, the error mapping.

    InvalidArgument (and a malformed body)            400
    UnknownQueue, UnknownAgent, UnknownCall           404
    CallExists, InvalidState and its kinds, in use    409
    no replica owns the tenant (NotOwner)             503

Errors are ``{"error_id", "message", "details"}`` (``hibiki.common.http.error_response``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from starlette.requests import Request
from starlette.responses import Response

from hibiki.acd.domain import AcdError, CallExists, InvalidArgument, UnknownAgent, UnknownCall, UnknownQueue
from hibiki.acd.http.responses import Ids
from hibiki.acd.runtime.buckets import valid_id
from hibiki.acd.runtime.replica import NotOwner
from hibiki.acd.runtime.tenant import TenantLost
from hibiki.common import roles as role_rule
from hibiki.common.http import error_response
from hibiki.common.logging import get_logger
from hibiki.common.openapi import Operation, errors

log = get_logger("hibiki.acd.http")
READ = errors(400, 403, 404, 409, 503)            # what guard and the domain answer on every route
WRITE = errors(400, 403, 404, 409, 413, 503)      # and a body that is too large


def operation(summary: str, ok: int | tuple[int, ...] = 200, response: Any = None, **more: Any) -> Operation:
    """An ``Operation`` whose path ids are described as ``guard`` checks them."""
    return Operation(summary, ok, response, path=Ids, **more)
Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    def __init__(self, error_id: str, message: str, status: int = 400, **details: Any) -> None:
        super().__init__(message)
        self.error_id, self.message, self.status, self.details = error_id, message, status, details


def status_of(error: AcdError) -> int:
    if isinstance(error, InvalidArgument):
        return 400
    if isinstance(error, (UnknownQueue, UnknownAgent, UnknownCall)):
        return 404
    if isinstance(error, CallExists):
        return 409
    return 409


def guard(write: bool, work: Handler, *, agent_self: bool = False, resource: str = role_rule.ACD) -> Handler:
    """Check the token's roles for the tenant (``Claims.refusal`` on ``resource``); with
    ``agent_self``, a user token with the role ``agent`` whose subject is the agent in the path may act too."""
    async def endpoint(request: Request) -> Response:
        params = request.path_params
        tenant = params["tenant"]
        claims = request.scope["hibiki.claims"]
        refusal = claims.refusal(tenant, write, resource)
        if refusal is not None and agent_self and claims.refusal(tenant, write, role_rule.AGENT_DESK) is None \
                and claims.subject == params.get("agent_id"):
            refusal = None
        if refusal is not None:
            return error_response(403, "forbidden", refusal)
        for name in ("tenant", "queue_id", "agent_id"):
            if name in params and not valid_id(params[name]):
                return error_response(400, "invalid-id", f"{name} must be 1-64 letters, digits, '-' or '_'",
                                      field=name)
        try:
            return await work(request)
        except BadRequest as exc:
            return error_response(exc.status, exc.error_id, exc.message, **exc.details)
        except AcdError as exc:
            log.info("acd_refused", tenant=tenant, error_id=exc.error_id, reason=exc.message)
            return error_response(status_of(exc), exc.error_id, exc.message)
        except (NotOwner, TenantLost) as exc:
            return error_response(503, "no-owner", str(exc))
    return endpoint


MAX_DEPTH = 8     # the deepest body the API takes (a queue's profiles' bands' weekdays: 5)


def _depth(value: Any) -> int:
    """How deeply ``value`` nests (iterative: a hostile body cannot exhaust the stack here)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


async def json_object(request: Request, allowed: frozenset[str] | None = None) -> dict[str, Any]:
    """The body as a JSON object (with only ``allowed`` keys when given: a typo is an error).
    Not JSON, nested deeper than ``MAX_DEPTH`` (or than the parser's stack): 400 ``invalid-json``."""
    try:
        data = await request.json()
    except (ValueError, RecursionError):
        raise BadRequest("invalid-json", "the body is not JSON (or nests too deeply)") from None
    if not isinstance(data, dict):
        raise BadRequest("invalid-json", "the body must be a JSON object")
    if _depth(data) > MAX_DEPTH:
        raise BadRequest("invalid-json", f"the body nests deeper than {MAX_DEPTH} levels")
    unknown = sorted(set(data) - allowed) if allowed is not None else []
    if unknown:
        raise BadRequest("unknown-field", f"unknown field(s): {', '.join(unknown)}", field=unknown[0])
    return data


M = TypeVar("M", bound=BaseModel)


async def parsed(request: Request, model: type[M]) -> tuple[M, dict[str, Any]]:
    """The body checked by ``model`` (``http.schemas``), and the JSON object as sent. A refusal
    is 400 ``invalid-<field>`` (``unknown-field`` for a field the model does not have) with
    ``field`` and every problem in ``errors``."""
    data = await json_object(request)
    try:
        return model.model_validate(data), data
    except ValidationError as exc:
        problems = exc.errors(include_url=False, include_input=False)
        first = problems[0]
        field = ".".join(str(p) for p in first["loc"])[:100] or "body"   # a key may be huge
        error_id = "unknown-field" if first["type"] == "extra_forbidden" else \
            f"invalid-{str(first['loc'][0]).replace('_', '-')}" if first["loc"] else "invalid-body"
        raise BadRequest(error_id, f"{field}: {first['msg']}", field=field,
                         errors=[{"field": ".".join(str(p) for p in e["loc"])[:100], "message": e["msg"]}
                                 for e in problems[:20]]) from None


def authorization(request: Request) -> str | None:
    return request.headers.get("authorization")
