"""Other services' APIs the console's pages use, reached through the directory's own origin.

The pages are served here and their session cookie is SameSite=Strict (one origin, no CORS), so
the directory passes a few paths on, unchanged, to the service that owns them:

- the ACD (``HIBIKI_DIRECTORY_ACD_HTTP``): ``/api/v1/tenants/{t}/queues[/{id}[/stats]]``,
  ``/api/v1/tenants/{t}/agents[/{id}]`` (the console's queues, agents and skills),
  ``/api/v1/tenants/{t}/queues/{id}/script``, ``/faq[/{id}]`` and ``/desk_settings`` (the desktop's
  talk scripts, FAQ articles, case types and reasons);
- analytics (``HIBIKI_DIRECTORY_ANALYTICS_HTTP``): ``/api/v1/tenants/{t}/calls/history[.csv]``
  (a user's call history);
- callcontrol (``HIBIKI_DIRECTORY_CALLCONTROL_HTTP``): ``/api/v1/tenants/{t}/prompts[/speak|/{id}[/audio]]``
  (the IVR test mode plays each greeting as callers hear it).

The request's own credentials go along (``Authorization``, the cookies, ``X-Hibiki-CSRF``) and
the owner checks them: the directory decides nothing about these paths. An ingress in front of
the services may route the same paths to their owners directly; the pages do not change. An
owner that does not answer is 502 ``peer-unavailable`` with the service as ``field``."""

from __future__ import annotations

import re

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hibiki.common.http import DEFAULT_MAX_BODY
from hibiki.common.logging import get_logger

log = get_logger("hibiki.directory.peers")
_T = r"/api/v1/tenants/[A-Za-z0-9_-]{1,64}"
ROUTES = ((re.compile(_T + r"/(queues|agents)(/[A-Za-z0-9_.-]{1,64}(/stats)?)?"), "acd"),
          (re.compile(_T + r"/queues/[A-Za-z0-9_.-]{1,64}/script"), "acd"),
          (re.compile(_T + r"/(faq(/[A-Za-z0-9_.-]{1,64})?|desk_settings)"), "acd"),
          (re.compile(_T + r"/calls/history(\.csv)?"), "analytics"),
          (re.compile(_T + r"/prompts(/speak|/[A-Za-z0-9_.-]{1,64}(/audio)?)?"), "callcontrol"))
REQUEST_HEADERS = (b"authorization", b"cookie", b"x-hibiki-csrf", b"content-type", b"accept", b"accept-language")
RESPONSE_HEADERS = ("content-type", "content-disposition", "retry-after", "www-authenticate", "cache-control")


async def _send_error(send: Send, status: int, error_id: str, message: str, service: str) -> None:
    body = ('{"error_id":"%s","message":"%s","details":{"field":"%s"}}' % (error_id, message, service)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class PeerProxy:
    def __init__(self, app: ASGIApp, bases: dict[str, str], timeout: float = 10.0) -> None:
        self.app, self.bases, self.timeout = app, bases, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = None
        if scope["type"] == "http":
            service = next((name for pattern, name in ROUTES if pattern.fullmatch(scope["path"])), None)
        if service is None:
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message: Message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > DEFAULT_MAX_BODY:
                await _send_error(send, 413, "too-large", "the request body is too large", service)
                return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k in REQUEST_HEADERS]
        query = scope.get("query_string", b"").decode("latin-1")
        url = self.bases[service] + scope["path"] + (f"?{query}" if query else "")
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                reply = await client.request(scope["method"], url, content=body or None, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("peer_unavailable", service=service, path=scope["path"], error=f"{type(exc).__name__}: {exc}"[:300])
            await _send_error(send, 502, "peer-unavailable", f"the {service} service did not answer", service)
            return
        out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items() if k.lower() in RESPONSE_HEADERS]
        await send({"type": "http.response.start", "status": reply.status_code,
                    "headers": [*out, (b"content-length", str(len(reply.content)).encode())]})
        await send({"type": "http.response.body", "body": reply.content})
