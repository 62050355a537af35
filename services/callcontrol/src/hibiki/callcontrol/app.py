"""Wiring of the call controller: outbound event socket (8084), HTTP (8085), NATS."""

from __future__ import annotations

import asyncio

from hibiki.callcontrol.calls import HandBackApplication
from hibiki.callcontrol.config import CallControlConfig
from hibiki.callcontrol.esl.outbound import OutboundServer
from hibiki.callcontrol.publisher import CallEventPublisher
from hibiki.common import bus
from hibiki.common.auth import load_authority
from hibiki.common.config import Env
from hibiki.common.http import HttpServer, build_app
from hibiki.common.lifecycle import NatsComponent, run_until_stopped
from hibiki.common.net import bind_tcp


async def main(stop: asyncio.Event, config: CallControlConfig | None = None, ready: asyncio.Event | None = None) -> None:
    config = config or CallControlConfig.from_env()
    authority = load_authority(Env.load(), config.data_dir)
    http_sock = bind_tcp(config.host, config.port, "callcontrol HTTP")
    esl_sock = bind_tcp(config.host, config.esl_port, "callcontrol event socket")
    nc = await bus.connect(config.nats_url, "hibiki-callcontrol")
    js = nc.jetstream()
    await bus.ensure_events_stream(js)
    publisher = CallEventPublisher(js, asyncio.get_running_loop())
    esl = OutboundServer(esl_sock, lambda session: HandBackApplication(session, publisher), config.esl_allow)

    async def readiness() -> dict[str, bool]:
        return {"nats": nc.is_connected}

    http = HttpServer(build_app("callcontrol", authority, readiness=readiness), http_sock)
    await run_until_stopped(stop, [NatsComponent(nc), esl, http], ready,
                            url=f"http://{config.host}:{http.port}", esl=f"{config.host}:{esl.port}")
