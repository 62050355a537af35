"""The console (``/console``) and a user's own page (``/me``): plain HTML and small ES modules
from ``hibiki/directory/web`` (served at ``/console/static/<file>``) on the shared look
(``/ui/``, :mod:`hibiki.common.ui`). They hold no data and are served without a token, with a
strict Content-Security-Policy (own scripts and styles only, no inline code, connect only to
this origin); the pages read and change everything through the admin API with the signed-in
user's credentials."""

from __future__ import annotations

from importlib import resources

from starlette.types import ASGIApp

from hibiki.common.ui import StaticPages, load

PACKAGE, FOLDER = "hibiki.directory", "web"
STATIC = "/console/static/"


def _page(name: str) -> bytes:
    return resources.files(PACKAGE).joinpath(FOLDER).joinpath(name).read_bytes()


def pages(app: ASGIApp) -> StaticPages:
    console, me = _page("console.html"), _page("me.html")
    return StaticPages(app, STATIC, load(PACKAGE, FOLDER), {"/console": console, "/console/": console, "/me": me})
