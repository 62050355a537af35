"""The report page (``GET /reports``) and the what-if page (``GET /planning``): plain HTML with a
little JS on the shared look (``/ui/hibiki.css``, :mod:`hibiki.common.ui`: header, navigation,
language switch), served without a token (they hold no data: the browser asks the API with the token
the user pastes, kept in sessionStorage for the tab). Japanese first, English selectable, every
control a labelled native form element (keyboard and screen reader usable)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from hibiki.analytics.web.messages import COLUMNS, PAGE
from hibiki.common.openapi import ApiRoute, Operation

PATHS = ("/reports", "/planning")
_DIR = Path(__file__).parent / "pages"
_HEADERS = {"Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; style-src 'self'; "
                                       "connect-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


@lru_cache(maxsize=4)
def render(name: str) -> str:
    catalogue = json.dumps({"page": PAGE, "columns": COLUMNS}, ensure_ascii=False).replace("</", "<\\/")
    html = (_DIR / f"{name}.html").read_text(encoding="utf-8")
    return (html.replace("{{catalogue}}", catalogue)
            .replace("{{common}}", (_DIR / "common.js").read_text(encoding="utf-8")))


def routes() -> list[ApiRoute]:
    def page(name: str) -> ApiRoute:
        async def serve(_: Request) -> Response:
            return HTMLResponse(render(name), headers=_HEADERS)
        return ApiRoute(f"/{name}", serve, "GET", Operation(
            f"The {name} page (HTML, no token: it asks the API with the user's)", media="text/html", open=True,
            tags=["pages"]))
    return [page("reports"), page("planning")]
