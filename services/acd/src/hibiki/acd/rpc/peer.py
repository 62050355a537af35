"""Forwarding between replicas: ``/hibiki.acd.internal.Peer/Execute`` on the same gRPC server.

A replica that does not own a tenant sends the operation (``{"tenant", "op", "args"}`` as JSON,
see ``runtime.ops``) to the owner with the caller's own bearer token; the owner runs it only if
it still owns the tenant (no second hop), after the same role check (``access``) and device
resolution (``rpc.devices``) as the AcdService, and answers the result as JSON, or the same status
the AcdService would (domain errors keep their id, UNAVAILABLE when it is not the owner).
Internal: not part of the published contract, so it is plain JSON over a generic method.
"""

from __future__ import annotations

import json
from typing import Any

import grpc

from hibiki.acd import access
from hibiki.acd.domain import AcdError
from hibiki.acd.rpc.devices import DirectoryDevices, DirectoryUnavailable, admitted
from hibiki.acd.runtime.replica import NotOwner, Replica
from hibiki.acd.runtime.tenant import TenantLost
from hibiki.acd.runtime.views import Json
from hibiki.acd.rpc.status import abort_with, error_from
from hibiki.common.auth import InvalidToken, TokenAuthority

SERVICE, METHOD = "hibiki.acd.internal.Peer", "Execute"
TIMEOUT_SECONDS = 15.0


def peer_handler(replica: Replica, authority: TokenAuthority, devices: DirectoryDevices) -> grpc.GenericRpcHandler:
    async def execute(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            data = json.loads(request)
            tenant, op, args = str(data["tenant"]), str(data["op"]), dict(data["args"])
        except (ValueError, KeyError, TypeError):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a peer request is {tenant, op, args} as JSON")
            raise   # unreachable: abort raises
        header = dict(context.invocation_metadata() or ()).get("authorization")
        try:
            claims = authority.verify_header(header if isinstance(header, str) else None)
        except InvalidToken as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
            raise
        refused = access.refusal(claims, tenant, op, args)   # the forwarded caller's token, checked again
        if refused is not None:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{refused} (tenant {tenant!r}, {op})")
        try:
            args = await admitted(devices, tenant, op, args)   # a login never skips the directory
            result = await replica.execute(tenant, op, args)
        except DirectoryUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            raise
        except AcdError as exc:
            await abort_with(context, exc)
            raise
        except (NotOwner, TenantLost) as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            raise
        return json.dumps(result).encode()

    return grpc.method_handlers_generic_handler(SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(execute)})


class PeerClient:
    """Forwards operations to the owner's address (one channel per address, kept)."""

    def __init__(self) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _call(self, address: str) -> Any:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = grpc.aio.insecure_channel(address)
        return channel.unary_unary(f"/{SERVICE}/{METHOD}")

    async def forward(self, address: str, tenant: str, op: str, args: Json, authorization: str | None) -> Json:
        metadata = (("authorization", authorization),) if authorization else ()
        payload = json.dumps({"tenant": tenant, "op": op, "args": args}).encode()
        try:
            reply = await self._call(address)(payload, metadata=metadata, timeout=TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            domain = error_from(exc)
            if domain is not None:
                raise domain from None
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise NotOwner(f"the owner of tenant {tenant} at {address} did not answer: {exc.details()}") from None
            raise NotOwner(f"the owner of tenant {tenant} at {address} refused: "
                           f"{exc.code().name} {exc.details()}") from None
        result: Json = json.loads(reply)
        return result

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
