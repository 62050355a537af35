"""The agent desktop's files: ``GET /desktop`` (the page, an open route of the API document),
and its assets ``/desktop/desktop.js``, ``/desktop/desktop.css`` and ``/desktop/jssip.min.js`` (the
SIP library ``./dev`` fetched from npm into the vendor directory; 404 ``no-sip-library`` when it is
missing: the page then says the softphone is unavailable and everything else still works). The
assets are served ahead of the token check by ``DesktopAssets`` (as every service serves ``/ui/``),
not as API routes.

They hold no data and are served without a token: the page asks the API with the agent's token,
given in the address's fragment (``#token=...``: never sent to a server nor logged) or typed into
the sign-in form, kept in the tab's session storage. A strict Content-Security-Policy: scripts
and styles only from this service, connections to this service and the configured SIP WebSocket.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hibiki.acd.desktop.api import LIBRARY
from hibiki.acd.desktop.messages import CATALOGUE
from hibiki.common.http import error_response
from hibiki.common.openapi import ApiRoute, Operation

FILES = resources.files("hibiki.acd.desktop").joinpath("static")
PATHS = ("/desktop",)


def _text(name: str) -> str:
    return FILES.joinpath(name).read_text("utf-8")



def softphone_page_headers(sip_ws: str) -> dict[str, str]:
    """The headers of a page with a softphone (the desktop, the supervisor's page): own scripts and
    styles only, connections to this origin and the SIP WebSocket, media from the microphone."""
    connect = " ".join(["'self'", sip_ws] if sip_ws else ["'self'"])
    return {
        "Content-Security-Policy": f"default-src 'none'; script-src 'self'; style-src 'self'; connect-src {connect}; "
                                   "media-src 'self' blob: mediastream:; img-src 'self' data:; base-uri 'none'; "
                                   "form-action 'none'; frame-ancestors 'none'",
        "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}

class DesktopPages:
    def __init__(self, sip_ws: str, vendor_dir: Path) -> None:
        self._vendor = vendor_dir
        catalogue = json.dumps(CATALOGUE, ensure_ascii=False).replace("</", "<\\/")
        self._html = _text("desktop.html").replace("{{catalogue}}", catalogue).encode()
        self._js, self._css = _text("desktop.js").encode(), _text("desktop.css").encode()
        self._headers = softphone_page_headers(sip_ws)

    def _reply(self, body: bytes, media: str) -> Response:
        return Response(body, media_type=media, headers=self._headers)

    async def page(self, _: Request) -> Response:
        return self._reply(self._html, "text/html; charset=utf-8")

    async def script(self, _: Request) -> Response:
        return self._reply(self._js, "text/javascript; charset=utf-8")

    async def style(self, _: Request) -> Response:
        return self._reply(self._css, "text/css; charset=utf-8")

    async def library(self, _: Request) -> Response:
        path = self._vendor / LIBRARY
        try:
            body = path.read_bytes()
        except OSError:
            return error_response(404, "no-sip-library", f"{LIBRARY} is not installed (./dev fetches it from npm)")
        return self._reply(body, "text/javascript; charset=utf-8")

    def routes(self) -> list[ApiRoute]:
        return [ApiRoute("/desktop", self.page, "GET", Operation(
            "The agent desktop page (HTML, no token: it asks the API with the agent's)", media="text/html", open=True,
            tags=["agent desktop"]))]

    def assets(self, app: ASGIApp) -> ASGIApp:
        return DesktopAssets(app, self)


class DesktopAssets:
    """``GET|HEAD /desktop/<asset>`` ahead of the token check; everything else goes to ``app``."""

    def __init__(self, app: ASGIApp, pages: DesktopPages) -> None:
        self.app = app
        self.served = {"/desktop/desktop.js": pages.script, "/desktop/desktop.css": pages.style,
                       f"/desktop/{LIBRARY}": pages.library}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.served.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        response = await handler(Request(scope, receive))
        await response(scope, receive, send)
