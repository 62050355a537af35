"""What the ACD's HTTP resources share: the role check, JSON bodies, the error mapping.

    InvalidArgument (and a malformed body)            400
    UnknownQueue, UnknownAgent, UnknownCall           404
    CallExists, InvalidState and its kinds, in use    409
    no replica owns the tenant (NotOwner)             503

Errors are ``{"error_id", "message", "details"}`` (``hibiki.common.http.error_response``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hibiki.acd.domain import AcdError, CallExists, InvalidArgument, UnknownAgent, UnknownCall, UnknownQueue
from hibiki.acd.runtime.buckets import valid_id
from hibiki.acd.runtime.replica import NotOwner
from hibiki.acd.runtime.tenant import TenantLost
from hibiki.common.http import error_response
from hibiki.common.logging import get_logger

log = get_logger("hibiki.acd.http")
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


def guard(write: bool, work: Handler, *, agent_self: bool = False) -> Handler:
    """Check the token's roles for the tenant (``Claims.refusal``); with ``agent_self``, a user
    token with the role ``agent`` whose subject is the agent in the path may act too."""
    async def endpoint(request: Request) -> Response:
        params = request.path_params
        tenant = params["tenant"]
        claims = request.scope["hibiki.claims"]
        refusal = claims.refusal(tenant, write)
        if refusal is not None and agent_self and claims.may_act_for(tenant) and "agent" in claims.roles \
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


async def json_object(request: Request, allowed: frozenset[str]) -> dict[str, Any]:
    """The body as a JSON object with only ``allowed`` keys (a typo is an error, not ignored)."""
    try:
        data = await request.json()
    except ValueError:
        raise BadRequest("invalid-json", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("invalid-json", "the body must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequest("unknown-field", f"unknown field(s): {', '.join(unknown)}", field=unknown[0])
    return data


def authorization(request: Request) -> str | None:
    return request.headers.get("authorization")
