"""``GET /api/v1/info``: what this directory replica serves (token required)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.directory.view import DirectoryView


def info_endpoint(view: DirectoryView):  # type: ignore[no-untyped-def]
    async def info(request: Request) -> Response:
        claims = request.scope["hibiki.claims"]
        return JSONResponse({"service": "directory", "tenants": len(view), "caller": claims.subject})

    return info
