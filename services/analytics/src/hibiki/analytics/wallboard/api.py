"""The wallboard's HTTP API (CC-07):

    GET /api/v1/tenants/{tenant}/wallboard[?queue=]          the board now (JSON)
    GET /api/v1/tenants/{tenant}/wallboard/stream[?queue=]   Server-Sent Events: ``event: snapshot``
                                                             with the same JSON after every change

Who may read: the tenant's ``admin``, ``supervisor`` and ``wallboard`` (the long-lived read-only
token of a wall display: it opens nothing else) roles, service tokens and platform admins. Ids
are checked before anything is looked up (400 ``invalid-id`` with the field).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from hibiki.analytics.wallboard.hub import Wallboards
from hibiki.common import roles as role_rule
from hibiki.common.auth import Claims
from hibiki.common.http import error_response
from hibiki.common.openapi import ApiRoute, Operation, errors

ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
READER_ROLES = frozenset({"admin", "supervisor", "wallboard"})


class CallFigures(BaseModel):
    offered: int
    answered: int
    abandoned: int
    timed_out: int
    cancelled: int
    node_lost: int = Field(0, description="left when their FreeSWITCH node was lost (out of both rates)")
    overflowed: int
    waiting: int
    answered_in_target: int
    answer_rate: float | None = Field(description="answered out of the calls no longer waiting (node-lost calls "
                                                  "excepted); null before the first")
    service_level: float | None = Field(description="answered within the threshold (the ACD's definition)")
    average_handle_seconds: float | None = Field(description="talk plus after-call work of today's ended calls")
    oldest_waiting_since: float | None = Field(description="epoch seconds the longest-waiting call entered")
    longest_wait_seconds: float


class AgentCounts(BaseModel):
    logged_out: int
    ready: int
    ringing: int
    talking: int
    after_call_work: int
    not_ready: int
    # 'break' is a Python keyword
    break_: int = Field(alias="break")


class QueueBoard(BaseModel):
    queue: str
    service_level_seconds: float
    calls: CallFigures
    agents: AgentCounts


class Board(BaseModel):
    tenant: str
    queue: str | None
    generated_at: float
    timezone: str
    day_start: float
    service_level_seconds: float | None = Field(description="the queue's threshold; for the tenant, the one all "
                                                            "its queues share (null when they differ)")
    calls: CallFigures
    agents: AgentCounts
    queues: list[QueueBoard] | None = None


class BoardQuery(BaseModel):
    queue: str | None = Field(None, pattern=ID.pattern, description="one queue's board; the tenant's when absent")


def refusal(claims: Claims, tenant: str) -> str | None:
    """The one role rule (``hibiki.common.roles``), resource ``wallboard``."""
    if not claims.may_act_for(tenant):
        return "this token may not read this tenant's wallboard"
    if claims.refusal(tenant, False, role_rule.WALLBOARD) is None:
        return None
    return "the wallboard is for the tenant's supervisors, admins and wallboard tokens"


def _checked(request: Request) -> tuple[str, str | None] | Response:
    tenant = request.path_params["tenant"]
    if not ID.fullmatch(tenant):
        return error_response(400, "invalid-id", "a tenant id is 1-64 letters, digits, '-' or '_'", field="tenant")
    queue = request.query_params.get("queue")
    if queue is not None and not ID.fullmatch(queue):
        return error_response(400, "invalid-id", "a queue id is 1-64 letters, digits, '-' or '_'", field="queue")
    why = refusal(request.scope["hibiki.claims"], tenant)
    if why is not None:
        return error_response(403, "forbidden", why)
    return tenant, queue


def routes(boards: Wallboards) -> list[ApiRoute]:
    async def board(request: Request) -> Response:
        checked = _checked(request)
        if isinstance(checked, Response):
            return checked
        return JSONResponse(await boards.snapshot(*checked))

    async def stream(request: Request) -> Response:
        checked = _checked(request)
        if isinstance(checked, Response):
            return checked

        async def events() -> AsyncIterator[str]:
            yield "retry: 2000\n\n"
            async for snap in boards.watch(*checked):
                yield f"event: snapshot\ndata: {json.dumps(snap, ensure_ascii=False, separators=(',', ':'))}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    base, tags = "/api/v1/tenants/{tenant}/wallboard", ["wallboard"]
    return [
        ApiRoute(base, board, "GET", Operation(
            "The live wallboard now: today's calls, waiting calls and agents, for the tenant or one queue",
            response=Board, query=BoardQuery, errors=errors(400, 403), tags=tags)),
        ApiRoute(f"{base}/stream", stream, "GET", Operation(
            "The live wallboard as Server-Sent Events: `event: snapshot` with the board's JSON after every "
            "change (within 2 s) and every 15 s", media="text/event-stream", query=BoardQuery,
            errors=errors(400, 403), tags=tags)),
    ]
