"""What the reports, history and planning resources share: the role check, the tenant id check,
bad input as 400 with ``error_id`` and ``field``, an unavailable store as 503."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from hibiki.analytics.planning.erlang import PlanningError
from hibiki.analytics.reports.query import InvalidParameter
from hibiki.analytics.storage.report_store import BadTenant
from hibiki.analytics.web.access import report_refusal
from hibiki.common.auth import Claims
from hibiki.common.http import error_response
from hibiki.common.logging import get_logger

log = get_logger("hibiki.analytics.web")
Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")
TENANT = re.compile(r"[A-Za-z0-9_-]{1,64}")


class StoreDown(Exception):
    pass


async def blocking(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a store call off the event loop; any failure of the engine becomes :class:`StoreDown`."""
    try:
        return await asyncio.to_thread(work, *args, **kwargs)
    except (InvalidParameter, PlanningError, BadTenant):
        raise
    except Exception as exc:
        log.error("analytics_store_failed", error=f"{type(exc).__name__}: {exc}"[:500])
        raise StoreDown(str(exc)) from None


def claims_of(request: Request) -> Claims:
    claims: Claims = request.scope["hibiki.claims"]
    return claims


def params_of(request: Request) -> dict[str, str]:
    """The query parameters; one given twice is refused (which one would count?)."""
    seen: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in seen:
            raise InvalidParameter(name[:64] or "query", f"{name[:64]} is given more than once", "repeated-parameter")
        seen[name] = value
    return seen


def only(params: dict[str, str], known: set[str]) -> dict[str, str]:
    """``params`` when each is one the resource takes (a typo is refused, not ignored)."""
    for name in params:
        if name not in known:
            raise InvalidParameter(name[:64] or "query", f"unknown parameter {name[:64]!r}", "unknown-parameter")
    return params


def guarded(work: Handler, *, write: bool = False, check_role: bool = True) -> Handler:
    """The tenant id checked, the role checked (unless the handler checks it itself, as the call
    history does), the domain's refusals mapped to 400 and the store's failures to 503."""
    async def endpoint(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if not TENANT.fullmatch(tenant):
            return error_response(400, "invalid-tenant", "tenant must be 1-64 letters, digits, '-' or '_'",
                                  field="tenant")
        if check_role:
            refusal = report_refusal(claims_of(request), tenant, write)
            if refusal is not None:
                return error_response(403, "forbidden", refusal)
        try:
            return await work(request)
        except InvalidParameter as exc:
            return error_response(400, exc.error_id, str(exc), field=exc.field)
        except PlanningError as exc:
            return error_response(400, f"invalid-{exc.field.replace('_', '-')}", str(exc), field=exc.field)
        except StoreDown:
            return error_response(503, "store-unavailable", "the analytics store did not answer; try again")
    return endpoint
