"""Where a call's IVR comes from: ``DirectoryService.GetIvr`` over gRPC (asyncio).

The directory answers with every schedule switch's ``active_branch`` decided at the time
asked, so an admin's change applies to the next call. Requests carry a service token
(``kind=service``, tenant ``*``) issued from the shared secret and re-issued before it
expires. Each request has a deadline: a caller never waits longer than that for the IVR,
the call goes to the dialplan's fallback instead (CC-11).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import grpc

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.rpc import token_metadata
from hibiki.directory.v1 import directory_pb2, directory_pb2_grpc, ivr_pb2

TOKEN_TTL_SECONDS = 3600
REFRESH_BEFORE_SECONDS = 300


class IvrUnavailable(Exception):
    """No IVR for the call: ``ivr-not-found``, ``directory-refused`` (a token or argument
    the directory does not accept), ``directory-unavailable`` (down, slow or failing)."""

    def __init__(self, error_id: str, message: str) -> None:
        super().__init__(message)
        self.error_id = error_id


class ServiceToken:
    """callcontrol's own token, issued again ``refresh_before`` seconds before it expires."""

    def __init__(self, authority: TokenAuthority, subject: str = "callcontrol", *,
                 ttl_seconds: int = TOKEN_TTL_SECONDS, refresh_before: int = REFRESH_BEFORE_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        if refresh_before >= ttl_seconds:
            raise ValueError("a token must be refreshed before it expires")
        self._authority, self._subject = authority, subject
        self._ttl, self._refresh_before, self._clock = ttl_seconds, refresh_before, clock
        self._token = ""
        self._expires = 0.0
        self.issued = 0

    def current(self) -> str:
        now = self._clock()
        if now >= self._expires - self._refresh_before:
            self._token = self._authority.issue(Claims(self._subject, "service"), self._ttl)
            self._expires = now + self._ttl
            self.issued += 1
        return self._token


class DirectoryIvrSource:
    """A component (start/stop on the service's event loop) that fetches IVRs."""

    def __init__(self, address: str, token: ServiceToken, timeout: float = 2.0) -> None:
        self.address = address
        self._token = token
        self._timeout = timeout
        self._channel: Any = None
        self._stub: Any = None

    async def start(self) -> None:
        self._channel = grpc.aio.insecure_channel(self.address)
        self._stub = directory_pb2_grpc.DirectoryServiceStub(self._channel)

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None

    async def get(self, tenant: str, ivr_id: str, at: datetime | None = None) -> ivr_pb2.Ivr:
        if self._stub is None:
            raise IvrUnavailable("directory-unavailable", "the directory client is not started")
        request = directory_pb2.GetIvrRequest(tenant=tenant, ivr_id=ivr_id)
        if at is None:
            request.at.GetCurrentTime()
        else:
            request.at.FromDatetime(at)
        try:
            ivr: ivr_pb2.Ivr = await self._stub.GetIvr(request, metadata=token_metadata(self._token.current()),
                                                       timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            what = f"GetIvr {tenant}/{ivr_id} at {self.address}: {code.name} {exc.details() or ''}".rstrip()
            if code == grpc.StatusCode.NOT_FOUND:
                raise IvrUnavailable("ivr-not-found", what) from None
            if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED,
                        grpc.StatusCode.INVALID_ARGUMENT):
                raise IvrUnavailable("directory-refused", what) from None
            raise IvrUnavailable("directory-unavailable", what) from None
        return ivr
