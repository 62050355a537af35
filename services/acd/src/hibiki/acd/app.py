"""Wiring of the ACD service: gRPC (hibiki.acd.v1, health), HTTP and NATS.

The queue and agent domain lands with the ACD issue; until then the gRPC server
serves health and refuses unauthenticated calls, and AcdService methods answer
UNIMPLEMENTED.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hibiki.acd.config import AcdConfig
from hibiki.common import bus
from hibiki.common.auth import load_authority
from hibiki.common.config import Env
from hibiki.common.http import HttpServer, build_app
from hibiki.common.lifecycle import NatsComponent, run_until_stopped
from hibiki.common.net import bind_tcp
from hibiki.common.rpc import GrpcServer


async def main(stop: asyncio.Event, config: AcdConfig | None = None, ready: asyncio.Event | None = None) -> None:
    config = config or AcdConfig.from_env()
    authority = load_authority(Env.load(), config.data_dir)
    sock = bind_tcp(config.host, config.port, "acd HTTP")
    grpc_server = GrpcServer(authority, config.host, config.grpc_port, "acd gRPC")
    nc = await bus.connect(config.nats_url, "hibiki-acd")
    await bus.ensure_events_stream(nc.jetstream())

    async def info(request: Request) -> Response:
        return JSONResponse({"service": "acd", "grpc_port": grpc_server.port, "caller": request.scope["hibiki.claims"].subject})

    async def readiness() -> dict[str, bool]:
        return {"nats": nc.is_connected}

    http = HttpServer(build_app("acd", authority, [Route("/api/v1/info", info)], readiness=readiness), sock)
    await run_until_stopped(stop, [NatsComponent(nc), grpc_server, http], ready,
                            url=f"http://{config.host}:{http.port}", grpc=f"{config.host}:{config.grpc_port}")
