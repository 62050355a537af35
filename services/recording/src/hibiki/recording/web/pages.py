"""The recordings page (``GET /recordings``): search, play with seeking, download, delete with a
confirmation, quality evaluation and scores per agent. Plain HTML with a little JS, served without
a token (it holds no data: the browser asks the API). Japanese first, English selectable, every
control a labelled native form element (keyboard and screen-reader usable)."""

from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from hibiki.common.openapi import ApiRoute, Operation
from hibiki.recording.web.messages import PAGE

PATHS = ("/recordings",)
_DIR = Path(__file__).parent / "pages"
_CSP = ("default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self' {directory}; "
        "media-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
DIRECTORY_PORT = 8080


def directory_origin(configured: str, request: Request) -> str:
    """Where the console's session is renewed (the directory): ``HIBIKI_RECORDING_DIRECTORY_URL``, else
    this page's scheme and host name on the directory's port (one host: cookies ignore ports)."""
    if configured:
        parsed = urlparse(configured)
        return f"{parsed.scheme}://{parsed.netloc}"
    host = request.url.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{request.url.scheme}://{host}:{DIRECTORY_PORT}"


@lru_cache(maxsize=2)
def render(name: str) -> str:
    catalogue = json.dumps({"page": PAGE}, ensure_ascii=False).replace("</", "<\\/")
    html = (_DIR / f"{name}.html").read_text(encoding="utf-8")
    return html.replace("{{style}}", (_DIR / "style.css").read_text(encoding="utf-8")).replace("{{catalogue}}", catalogue)


def routes(directory_url: str = "") -> list[ApiRoute]:
    async def serve(request: Request) -> Response:
        origin = directory_origin(directory_url, request)
        page = render("recordings").replace("{{directory}}", html.escape(origin, quote=True))
        return HTMLResponse(page, headers={**_HEADERS, "Content-Security-Policy": _CSP.format(directory=origin)})
    return [ApiRoute("/recordings", serve, "GET", Operation(
        "The recordings page (HTML, no token: it asks the API with the user's session or token)", media="text/html",
        open=True, tags=["pages"]))]
