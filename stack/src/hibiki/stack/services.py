"""The five services and how each is started and probed (the stack's composition root)."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import asyncio


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str               # module with ``async def main(stop)``
    port_var: str             # env variable of its HTTP port
    default_port: int
    extra: tuple[tuple[str, str], ...] = ()   # (label, what) shown by `hibiki up`

    def main(self) -> Callable[[asyncio.Event], Awaitable[None]]:
        return importlib.import_module(self.module).main  # type: ignore[no-any-return]


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ServiceSpec("directory", "hibiki.directory.app", "HIBIKI_DIRECTORY_PORT", 8080,
                    (("mod_xml_curl", "POST http://{host}:{port}/fsapi"), ("gRPC", "{host}:{directory_grpc_port}"))),
        ServiceSpec("callcontrol", "hibiki.callcontrol.app", "HIBIKI_CALLCONTROL_PORT", 8085,
                    (("event socket", "{host}:{esl_port} (dialplan: socket {host}:{esl_port} async full)"),)),
        ServiceSpec("acd", "hibiki.acd.app", "HIBIKI_ACD_PORT", 8081, (("gRPC", "{host}:{grpc_port}"),)),
        ServiceSpec("recording", "hibiki.recording.app", "HIBIKI_RECORDING_PORT", 8082),
        ServiceSpec("analytics", "hibiki.analytics.app", "HIBIKI_ANALYTICS_PORT", 8083),
    )
}
