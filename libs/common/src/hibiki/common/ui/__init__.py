"""The shared look of every Hibiki page, served by every service under ``/ui/``.

``/ui/hibiki.css`` (one style sheet: layout, header, forms, tables, dialogs, a dark variant for
wall displays), ``/ui/hibiki.js`` (an ES module: the header with its navigation and the ja/en
language switch, the message dictionaries, ``api()`` — fetch that sends the session cookie and
the CSRF header ``X-Hibiki-CSRF`` copied from the cookie ``hibiki_csrf``), ``/ui/i18n.js`` (the
messages every page shares). No build step and nothing from a CDN: pages link these files from
their own origin, so a strict Content-Security-Policy (``PAGE_CSP``) allows them.

The files hold no data and are served without a token, ahead of the token check
(:class:`UiAssets`, wired by :func:`hibiki.common.http.build_app`). A service serves its own
pages and their files the same way with :class:`StaticPages` (the directory's ``/console``)."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

from starlette.types import ASGIApp, Receive, Scope, Send

PREFIX = "/ui/"
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\.(css|js)")
TYPES = {"css": b"text/css; charset=utf-8", "js": b"text/javascript; charset=utf-8"}
# What a page built on these files needs: its own scripts and styles, its own API, audio it fetched.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data: blob:; "
            "media-src 'self' blob:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


Asset = tuple[bytes, bytes, bytes]       # body, content type, ETag


def load(package: str, folder: str) -> dict[str, Asset]:
    """The ``.css`` and ``.js`` files of a package's folder (read once, at start)."""
    files: dict[str, Asset] = {}
    for entry in resources.files(package).joinpath(folder).iterdir():
        match = NAME.fullmatch(entry.name)
        if match is None:
            continue
        body = entry.read_bytes()
        files[entry.name] = (body, TYPES[match.group(1)], _etag(body))
    return files


def _etag(body: bytes) -> bytes:
    return ('"' + hashlib.sha256(body).hexdigest()[:32] + '"').encode()


ASSETS = load(__package__, "assets")
_NOT_FOUND = b'{"error_id":"not-found","message":"no such file","details":{"field":"path"}}'
_NOT_ALLOWED = b'{"error_id":"method-not-allowed","message":"GET or HEAD only","details":{"field":"method"}}'


class StaticPages:
    """A service's pages and their files, served ahead of the token check (they hold no data):
    ``pages`` by exact path (HTML with ``PAGE_HEADERS``), ``files`` under ``prefix``. Every other
    request goes to ``app``."""

    def __init__(self, app: ASGIApp, prefix: str, files: dict[str, Asset],
                 pages: dict[str, bytes] | None = None) -> None:
        self.app = app
        self.prefix = prefix
        self.files = files
        self.pages = {path: (body, b"text/html; charset=utf-8", _etag(body)) for path, body in (pages or {}).items()}
        self.page_headers = [(k.lower().encode(), v.encode()) for k, v in PAGE_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        page = self.pages.get(path)
        if page is None and not path.startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        asset = page or self.files.get(path[len(self.prefix):])
        headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
        if asset is None:
            status, body = 404, _NOT_FOUND
        elif scope["method"] not in ("GET", "HEAD"):
            status, body, headers = 405, _NOT_ALLOWED, [*headers, (b"allow", b"GET, HEAD")]
        else:
            body, kind, etag = asset
            status = 200
            headers = [(b"content-type", kind), (b"etag", etag), (b"x-content-type-options", b"nosniff")]
            headers += self.page_headers if page else [(b"cache-control", b"no-cache")]
            for name, value in scope["headers"]:
                if name == b"if-none-match" and value == etag and not page:
                    status, body = 304, b""
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


class UiAssets(StaticPages):
    """``GET|HEAD /ui/<file>``: the shared look, in every service (:func:`hibiki.common.http.build_app`)."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, PREFIX, ASSETS)
