"""The supervisor page's files: ``GET /supervisor`` (the page, an open route of the API document)
and ``/supervisor/supervisor.js``, ``/supervisor/supervisor.css`` (served ahead of the token check,
as the desktop's assets). The page is built on the shared look (``/ui/hibiki.css``,
``/ui/hibiki.js``) and loads JsSIP from ``/desktop/jssip.min.js``. They hold no data: the page asks
the API with the console session (cookie) or a token given in the address's fragment. A strict
Content-Security-Policy: scripts and styles from this service only, connections to this service
and the configured SIP WebSocket.
"""

from __future__ import annotations

import json
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hibiki.acd.desktop.page import softphone_page_headers
from hibiki.acd.supervisor.messages import CATALOGUE
from hibiki.common.openapi import ApiRoute, Operation

FILES = resources.files("hibiki.acd.supervisor").joinpath("static")
PATHS = ("/supervisor",)


class SupervisorPages:
    def __init__(self, sip_ws: str) -> None:
        catalogue = json.dumps(CATALOGUE, ensure_ascii=False).replace("</", "<\\/")
        self._html = FILES.joinpath("supervisor.html").read_text("utf-8").replace("{{catalogue}}", catalogue).encode()
        self._files = {"/supervisor/supervisor.js": (FILES.joinpath("supervisor.js").read_bytes(), "text/javascript"),
                       "/supervisor/supervisor.css": (FILES.joinpath("supervisor.css").read_bytes(), "text/css")}
        self._headers = softphone_page_headers(sip_ws)

    async def page(self, _: Request) -> Response:
        return Response(self._html, media_type="text/html; charset=utf-8", headers=self._headers)

    def routes(self) -> list[ApiRoute]:
        return [ApiRoute("/supervisor", self.page, "GET", Operation(
            "The supervisor page (HTML, no token: it asks the API with the supervisor's)", media="text/html",
            open=True, tags=["supervisor"]))]

    def assets(self, app: ASGIApp) -> ASGIApp:
        pages = self

        async def serve(scope: Scope, receive: Receive, send: Send) -> None:
            found = pages._files.get(scope["path"]) if scope["type"] == "http" else None
            if found is None or scope["method"] not in ("GET", "HEAD"):
                await app(scope, receive, send)
                return
            body, kind = found
            await Response(body, media_type=f"{kind}; charset=utf-8", headers=pages._headers)(scope, receive, send)
        return serve
