"""The analytics service's HTTP API, described for its OpenAPI document."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.analytics.storage import tables
from hibiki.analytics.storage.base import Store
from hibiki.analytics.web.access import report_refusal
from hibiki.common.http import error_response
from hibiki.common.openapi import ApiRoute, Operation, errors


class CdrCount(BaseModel):
    tenant: str
    cdr_count: int


def routes(store: Store) -> list[ApiRoute]:
    async def cdr_count(request: Request) -> Response:
        claims = request.scope["hibiki.claims"]
        tenant = request.path_params["tenant"]
        refusal = report_refusal(claims, tenant)
        if refusal is not None:
            return error_response(403, "forbidden", refusal)
        return JSONResponse({"tenant": tenant, "cdr_count": await asyncio.to_thread(tables.count_calls, store, tenant)})

    return [ApiRoute("/api/v1/tenants/{tenant}/cdr/count", cdr_count, "GET", Operation(
        "How many call records the tenant has (one per call, test calls included)", response=CdrCount, errors=errors(403), tags=["cdr"]))]
