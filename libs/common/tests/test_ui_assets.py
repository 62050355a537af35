"""The shared look (``/ui/``): served by every service's bootstrap without a token, nothing
else under the prefix, no file from elsewhere; in headless Chromium the page's ``api()`` sends
the CSRF cookie back as ``X-Hibiki-CSRF`` and the language switch translates the header."""

from __future__ import annotations

import re
import socket

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.http import HttpServer, build_app
from hibiki.common.ui import ASSETS, PAGE_HEADERS

from support.browser import BrowserPage

AUTHORITY = TokenAuthority(b"u" * 40)
PAGE = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>t</title>
<link rel="stylesheet" href="/ui/hibiki.css"><script type="module" src="/page.js"></script></head>
<body><main id="main"><p id="out" role="status"></p></main></body></html>"""
SCRIPT = """import {mountHeader, api, addMessages, t} from "/ui/hibiki.js";
addMessages({ja: {"p.title": "試験ページ"}, en: {"p.title": "Test page"}});
mountHeader({title: "p.title", nav: [{href: "/page", key: "hb.console"}]});
const seen = await api("/echo", {method: "POST", body: {x: 1}});
let refused = null;
try { await api("/refuse"); } catch (e) { refused = e.describe(); }
document.getElementById("out").textContent = JSON.stringify({seen, refused});
"""


async def echo(request: Request) -> Response:
    return JSONResponse({"csrf": request.headers.get("x-hibiki-csrf"), "auth": request.headers.get("authorization"),
                         "body": await request.json()})


async def refuse(_: Request) -> Response:
    return JSONResponse({"error_id": "invalid-extension", "message": "bad", "details": {"field": "extension"}},
                        status_code=400)


def app() -> object:
    async def page(_: Request) -> Response:
        return HTMLResponse(PAGE, headers=PAGE_HEADERS)

    async def script(_: Request) -> Response:
        return Response(SCRIPT, media_type="text/javascript")
    return build_app("t", AUTHORITY, [Route("/page", page), Route("/page.js", script),
                                      Route("/echo", echo, methods=["POST"]), Route("/refuse", refuse)],
                     open_paths=["/page", "/page.js"])


async def test_assets_are_served_without_a_token_and_nothing_else_is() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t") as client:   # type: ignore[arg-type]
        for name in ("hibiki.css", "hibiki.js", "i18n.js"):
            got = await client.get(f"/ui/{name}")
            assert got.status_code == 200 and got.content == ASSETS[name][0]
            assert got.headers["x-content-type-options"] == "nosniff"
            assert got.headers["content-type"].startswith("text/css" if name.endswith("css") else "text/javascript")
            again = await client.get(f"/ui/{name}", headers={"If-None-Match": got.headers["etag"]})
            assert again.status_code == 304 and again.content == b""
        for path in ("/ui/", "/ui/nope.js", "/ui/../http.py", "/ui/%2e%2e/http.py", "/ui/__init__.py", "/ui/HIBIKI.CSS"):
            refused = await client.get(path)       # (httpx itself folds "/ui/../x" to "/x": then the token is missing)
            assert refused.status_code in (401, 404) and refused.json()["error_id"] in ("not-found", "unauthenticated"), path
        post = await client.post("/ui/hibiki.js", content=b"x")
        assert post.status_code == 405 and post.json()["details"]["field"] == "method"
        assert (await client.get("/echo")).status_code == 401          # the rest still needs a token
    for body, _, _ in ASSETS.values():                                   # everything local: no CDN, no other origin
        assert not re.search(rb"https?://", body.replace(b"http://www.w3.org", b""))


async def test_the_page_sends_the_csrf_cookie_back_and_switches_language(browser_page: BrowserPage) -> None:
    sock = socket.socket()
    sock.bind(("127.16.0.9", 0))
    server = HttpServer(app(), sock)      # type: ignore[arg-type]
    await server.start()
    try:
        base = f"http://127.16.0.9:{server.port}"
        token = AUTHORITY.issue(Claims("u", "user", "t1", ("admin",)))
        await browser_page.context.add_cookies([{"name": "hibiki_csrf", "value": "c0ffee-42", "url": base}])
        page = browser_page.page
        await page.add_init_script(f"sessionStorage.setItem('hibiki.token', {token!r})")
        await page.goto(f"{base}/page")
        await page.wait_for_selector("#out:not(:empty)")
        out = await page.evaluate("JSON.parse(document.getElementById('out').textContent)")
        assert out["seen"] == {"csrf": "c0ffee-42", "auth": f"Bearer {token}", "body": {"x": 1}}
        assert out["refused"] == "エラー（extension）: bad [invalid-extension]"
        assert await page.inner_text("#hb-title") == "試験ページ"
        assert await page.get_attribute("a[href='/page']", "aria-current") == "page"
        await page.keyboard.press("Tab")                                  # the skip link comes first
        assert await page.evaluate("document.activeElement.className") == "hb-skip"
        await page.select_option("#lang", "en")
        assert await page.inner_text("#hb-title") == "Test page"
        assert await page.evaluate("document.documentElement.lang") == "en"
        assert await page.title() == "Test page — Hibiki"
        await browser_page.screenshot("ui-shared-header")
        assert not [line for line in browser_page.console if line.startswith("pageerror")], browser_page.console
    finally:
        await server.stop()
        sock.close()
