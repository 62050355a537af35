"""``GET /api/v1/info``: what this directory replica serves (token required)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common.openapi import ApiRoute, Operation
from hibiki.directory.http.models import Info
from hibiki.directory.view import DirectoryView


def info_route(view: DirectoryView) -> ApiRoute:
    async def info(request: Request) -> Response:
        claims = request.scope["hibiki.claims"]
        return JSONResponse({"service": "directory", "tenants": len(view), "caller": claims.subject})

    return ApiRoute("/api/v1/info", info, "GET", Operation("What this replica serves, and who is asking",
                                                           response=Info, tags=["meta"]))
