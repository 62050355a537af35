"""The wallboard page: ``GET /wallboard/{tenant}`` and ``GET /wallboard/{tenant}/{queue}``.

The page holds no data, so it is served without a token (a wall display has no way to send
one with a page load); it reads the board from the token-protected stream with a bearer token
it was given in the address's fragment (``#token=...``: never sent to a server nor logged),
keeps it in the tab's session storage and drops it from the address bar. The shared look comes from
``/ui/hibiki.css`` (:mod:`hibiki.common.ui`); inline script and
style are allowed by their hashes in a strict Content-Security-Policy; the page only connects
to its own origin.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

from starlette.types import ASGIApp, Receive, Scope, Send

PATH = re.compile(r"/wallboard/[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64})?/?")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _inline(html: str, tag: str) -> str:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", html, re.S)
    assert match is not None, tag
    return match.group(1)


HTML = resources.files("hibiki.analytics.wallboard").joinpath("page.html").read_text("utf-8")
BODY = HTML.encode()
CSP = (f"default-src 'none'; script-src {_hash(_inline(HTML, 'script'))}; style-src 'self' {_hash(_inline(HTML, 'style'))}; "
       "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(BODY)).encode()),
           (b"content-security-policy", CSP.encode()), (b"referrer-policy", b"no-referrer"),
           (b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-cache")]


class WallboardPages:
    """Serves the page ahead of the token check; everything else goes to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and PATH.fullmatch(scope["path"]):
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else BODY})
            return
        await self.app(scope, receive, send)
