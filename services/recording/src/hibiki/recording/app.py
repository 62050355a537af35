"""Wiring of the recording service: audio storage directory, HTTP and NATS.

Storing, encrypting, indexing and retention land with the recording issue; this is
the service's frame: its storage location, health, metrics and token checks.
"""

from __future__ import annotations

import asyncio
import os

from hibiki.common import bus
from hibiki.common.auth import load_authority
from hibiki.common.config import Env
from hibiki.common.errors import StartupError
from hibiki.common.http import HttpServer, build_app
from hibiki.common.lifecycle import NatsComponent, run_until_stopped
from hibiki.common.net import bind_tcp
from hibiki.recording.config import RecordingConfig
from hibiki.recording.http import routes as http_routes


async def main(stop: asyncio.Event, config: RecordingConfig | None = None, ready: asyncio.Event | None = None) -> None:
    config = config or RecordingConfig.from_env()
    authority = load_authority(Env.load(), config.data_dir)
    sock = bind_tcp(config.host, config.port, "recording HTTP")
    try:
        config.storage_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"recording storage {config.storage_dir}: {exc.strerror}") from None
    if not os.access(config.storage_dir, os.W_OK):
        raise StartupError(f"recording storage {config.storage_dir} is not writable")
    nc = await bus.connect(config.nats_url, "hibiki-recording")

    async def readiness() -> dict[str, bool]:
        return {"nats": nc.is_connected, "storage": os.access(config.storage_dir, os.W_OK)}

    http = HttpServer(build_app("recording", authority, http_routes(), readiness=readiness), sock)
    await run_until_stopped(stop, [NatsComponent(nc), http], ready,
                            url=f"http://{config.host}:{http.port}", storage=str(config.storage_dir))
