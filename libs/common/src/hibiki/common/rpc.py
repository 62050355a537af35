"""The gRPC bootstrap: an asyncio server that checks tokens and serves gRPC health.

Every call needs ``authorization: Bearer <token>`` metadata except the standard
``grpc.health.v1.Health`` service (for Kubernetes probes). Clients attach their
token with :func:`token_metadata`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from hibiki.common.auth import InvalidToken, TokenAuthority
from hibiki.common.errors import StartupError

OPEN_SERVICES = ("/grpc.health.v1.Health/",)


class TokenAuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, authority: TokenAuthority) -> None:
        self._authority = authority

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]], details: grpc.HandlerCallDetails
    ) -> Any:
        method: str = details.method
        if method.startswith(OPEN_SERVICES):
            return await continuation(details)
        header = dict(details.invocation_metadata or ()).get("authorization")
        try:
            self._authority.verify_header(header if isinstance(header, str) else None)
        except InvalidToken as exc:
            message = f"a valid bearer token is required: {exc}"

            async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

            async def refuse_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
                yield  # pragma: no cover

            handler = await continuation(details)
            if handler is not None and handler.response_streaming:
                return grpc.unary_stream_rpc_method_handler(refuse_stream)
            return grpc.unary_unary_rpc_method_handler(refuse)
        return await continuation(details)


class GrpcServer:
    """A grpc.aio server with token checks and the health service, bound with a clear error."""

    def __init__(self, authority: TokenAuthority, host: str, port: int, what: str) -> None:
        # so_reuseport off: a second server on a busy port must fail, not share it.
        self.server = grpc.aio.server(interceptors=[TokenAuthInterceptor(authority)], options=[("grpc.so_reuseport", 0)])
        self.health = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._what = what
        self.port = 0

    async def start(self) -> None:
        try:
            self.port = self.server.add_insecure_port(self._address)
        except RuntimeError as exc:
            raise StartupError(f"{self._what}: cannot listen on {self._address}: {exc}") from None
        if self.port == 0:
            raise StartupError(f"{self._what}: cannot listen on {self._address}: address already in use")
        await self.server.start()
        await _set_serving(self.health, "", True)

    async def stop(self, grace: float = 5.0) -> None:
        await _set_serving(self.health, "", False)
        await self.server.stop(grace)


async def _set_serving(servicer: Any, service: str, serving: bool) -> None:
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    result = servicer.set(service, status)
    if hasattr(result, "__await__"):
        await result


def token_metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)
