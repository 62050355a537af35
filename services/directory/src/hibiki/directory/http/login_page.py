"""The ``/login`` page: tenant, login ID, password, then the TOTP code (or a recovery code, or
a TOTP enrolment with its QR code). Japanese first, English with ``?lang=en`` (the messages are
the catalogue ``login_messages.json``, not strings in code); a plain form with labels, an error
summary announced to screen readers (``role="alert"``) and focus moved to what comes next.
After the login it goes to ``?next=`` (a path on this host only) or shows who is logged in.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from hibiki.common.openapi import ApiRoute, Operation

HERE = Path(__file__).with_name("pages")
LANGUAGES = ("ja", "en")


def _messages() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads((HERE / "login_messages.json").read_text(encoding="utf-8"))
    return data


def _script_json(value: object) -> str:
    """JSON inside <script type="application/json">: the browser does not decode entities there,
    so it is left as JSON, with "<" escaped so no "</script>" can end the element."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class LoginPage:
    OPEN_PATHS = ("/login",)

    def __init__(self) -> None:
        self._template = (HERE / "login.html").read_text(encoding="utf-8")
        self._catalogue = _messages()

    async def page(self, request: Request) -> Response:
        lang = request.query_params.get("lang", "ja")
        lang = lang if lang in LANGUAGES else "ja"
        text = self._catalogue[lang]
        body = self._template
        for key, value in text.items():
            body = body.replace("{{" + key + "}}", html.escape(value))
        body = body.replace("{{lang}}", lang).replace("{{messages_json}}", _script_json(text))
        return HTMLResponse(body, headers={
            "Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
            "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                       "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"})

    def routes(self) -> list[ApiRoute]:
        return [ApiRoute("/login", self.page, "GET", Operation(
            "The console's login page (Japanese; ?lang=en for English)", media="text/html", tags=["auth"],
            open=True))]
