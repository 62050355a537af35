"""``GET /api/v1/info``: what this service is, and who is asking."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common.openapi import ApiRoute, Operation


class Info(BaseModel):
    service: str
    caller: str


async def info(request: Request) -> Response:
    return JSONResponse({"service": "recording", "caller": request.scope["hibiki.claims"].subject})


def routes() -> list[ApiRoute]:
    return [ApiRoute("/api/v1/info", info, "GET", Operation("What this service is, and who is asking",
                                                            response=Info, tags=["meta"]))]
