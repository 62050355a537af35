"""The baseline: ``POST /fsapi`` answering FreeSWITCH's "not found" document without looking at it.

Same server stack as the directory (``run_service`` -> ``build_app`` with the token middleware
and the probes -> uvicorn through ``HttpServer`` on a socket from ``bind_tcp``), so the
difference between the two is the directory's own work. The body is received (as any
server must) but not parsed.

    python -m benchmarks._constant_app PORT
"""

from __future__ import annotations

import asyncio
import secrets
import sys

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hibiki.common.auth import TokenAuthority
from hibiki.common.http import HttpServer, build_app
from hibiki.common.lifecycle import run_until_stopped
from hibiki.common.net import bind_tcp
from hibiki.common.runner import run_service

NOT_FOUND = ('<document type="freeswitch/xml"><section name="result">'
             '<result status="not found"/></section></document>')


async def constant(request: Request) -> Response:
    await request.body()
    return Response(NOT_FOUND, media_type="text/xml")


def main(port: int) -> int:
    async def serve(stop: asyncio.Event) -> None:
        authority = TokenAuthority(secrets.token_bytes(48))
        app = build_app("bench-constant", authority, [Route("/fsapi", constant, methods=["POST"])],
                        open_paths=["/fsapi"])
        http = HttpServer(app, bind_tcp("127.0.0.1", port, "constant endpoint"))
        await run_until_stopped(stop, [http], url=f"http://127.0.0.1:{http.port}")

    return run_service("bench-constant", serve)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
