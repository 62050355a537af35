"""Callcontrol's supervision API on the ACD's origin, for the supervisor page (its session cookie
is SameSite=Strict and its CSP allows only its own origin): the directory's ``http/peers.py`` pattern.

    POST|PUT|DELETE /api/v1/tenants/{t}/calls/{call_uuid}/supervision[/{supervision_id}]

go on unchanged to ``HIBIKI_ACD_CALLCONTROL_HTTP`` with the request's own credentials
(``Authorization``, the cookies, ``X-Hibiki-CSRF``): callcontrol checks them (the role rule's
``supervision``) and writes the audit trail; the ACD decides nothing here. Unset: 503
``no-callcontrol``; callcontrol not answering: 502 ``peer-unavailable``.
"""

from __future__ import annotations

import json
import re

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hibiki.common.logging import get_logger

log = get_logger("hibiki.acd.supervisor.proxy")
PATH = re.compile(r"/api/v1/tenants/[A-Za-z0-9_-]{1,64}/calls/[0-9a-fA-F-]{36}/supervision(/[0-9a-fA-F-]{36})?")
METHODS = ("POST", "PUT", "DELETE")
MAX_BODY = 4096
REQUEST_HEADERS = (b"authorization", b"cookie", b"x-hibiki-csrf", b"content-type", b"accept")


async def _error(send: Send, status: int, error_id: str, message: str) -> None:
    body = json.dumps({"error_id": error_id, "message": message, "details": {"field": "callcontrol"}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class SupervisionProxy:
    def __init__(self, app: ASGIApp, callcontrol_url: str, timeout: float = 10.0) -> None:
        self.app, self.base, self.timeout = app, callcontrol_url.rstrip("/"), timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS or not PATH.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message: Message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                await _error(send, 413, "too-large", "the request body is too large")
                return
        if not self.base:
            await _error(send, 503, "no-callcontrol", "no callcontrol is configured (HIBIKI_ACD_CALLCONTROL_HTTP)")
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k in REQUEST_HEADERS]
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                reply = await client.request(scope["method"], self.base + scope["path"], content=body or None,
                                             headers=headers)
        except httpx.HTTPError as exc:
            log.warning("peer_unavailable", service="callcontrol", path=scope["path"],
                        error=f"{type(exc).__name__}: {exc}"[:300])
            await _error(send, 502, "peer-unavailable", "the callcontrol service did not answer")
            return
        kind = reply.headers.get("content-type", "application/json").encode("latin-1")
        await send({"type": "http.response.start", "status": reply.status_code,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(reply.content)).encode())]})
        await send({"type": "http.response.body", "body": reply.content})
