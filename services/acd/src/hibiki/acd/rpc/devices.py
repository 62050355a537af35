"""The devices agents log in with, resolved through the directory (``DirectoryService.ResolveDevice``).

A device ends up in ``bridge user/<device>@<domain>`` when a queue call rings the agent, so
the ACD keeps only what the directory answers for the tenant (its own spelling), never the
text a phone, a browser or an API client sent. Fails closed: an unknown or malformed device
is ``UnknownDevice`` (INVALID_ARGUMENT / 400), a directory that cannot be asked is
``DirectoryUnavailable`` (UNAVAILABLE / 503) and the login does not happen.
"""

from __future__ import annotations

import time
from typing import Any

import grpc

from hibiki.acd.domain import UnknownDevice
from hibiki.acd.runtime.views import Json
from hibiki.common import dialstring
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.logging import get_logger
from hibiki.common.rpc import token_metadata
from hibiki.directory.v1 import directory_pb2, directory_pb2_grpc

log = get_logger("hibiki.acd.devices")
TOKEN_TTL_SECONDS = 3600


class DirectoryUnavailable(Exception):
    """The directory could not be asked (down, slow, refusing our token)."""


class DirectoryDevices:
    """A component (start/stop on the service's loop) resolving devices with the ACD's own service token."""

    def __init__(self, address: str, authority: TokenAuthority, timeout: float = 2.0) -> None:
        self.address, self._authority, self._timeout = address, authority, timeout
        self._channel: Any = None
        self._stub: Any = None
        self._token, self._expires = "", 0.0

    async def start(self) -> None:
        self._channel = grpc.aio.insecure_channel(self.address)
        self._stub = directory_pb2_grpc.DirectoryServiceStub(self._channel)

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None

    def _current_token(self) -> str:
        now = time.time()
        if now >= self._expires - 300:
            self._token = self._authority.issue(Claims("acd", "service"), TOKEN_TTL_SECONDS)
            self._expires = now + TOKEN_TTL_SECONDS
        return self._token

    async def resolve(self, tenant: str, device: str) -> str:
        """The directory's name of ``device`` in ``tenant``."""
        return (await self.describe(tenant, device))[0]

    async def describe(self, tenant: str, device: str) -> tuple[str, str]:
        """The directory's name of ``device`` in ``tenant`` and the tenant's SIP domain."""
        try:
            dialstring.device(device)    # not worth asking: it cannot be a device
        except dialstring.UnsafeValue:
            log.info("device_refused", tenant=tenant, reason="malformed", device=device[:80])
            raise UnknownDevice("a device is 1-64 letters, digits, '.', '-' or '_' (a SIP username or "
                                "extension the directory has)") from None
        if self._stub is None:
            raise DirectoryUnavailable("the directory client is not started")
        request = directory_pb2.ResolveDeviceRequest(tenant=tenant, device=device)
        try:
            found: directory_pb2.Device = await self._stub.ResolveDevice(
                request, metadata=token_metadata(self._current_token()), timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                log.info("device_refused", tenant=tenant, reason="unknown", device=device)
                raise UnknownDevice(f"device {device!r} is not a device of tenant {tenant} in the directory") from None
            log.warning("directory_unavailable", tenant=tenant, address=self.address, code=code.name,
                        details=exc.details())
            raise DirectoryUnavailable(f"the directory at {self.address} could not resolve the device: "
                                       f"{code.name}") from None
        try:
            name = dialstring.device(found.device)   # checked again: it goes into a dial string
            domain = dialstring.domain(found.domain) if found.domain else ""
        except dialstring.UnsafeValue:
            raise UnknownDevice(f"the directory's name for device {device!r} cannot be dialled") from None
        return name, domain


async def admitted(devices: DirectoryDevices, tenant: str, op: str, args: Json) -> Json:
    """``args`` with a login's device replaced by the directory's name for it."""
    if op != "login":
        return args
    device = args.get("device", "")
    if not isinstance(device, str) or not device:
        raise UnknownDevice("login needs a device")
    return {**args, "device": await devices.resolve(tenant, device)}
