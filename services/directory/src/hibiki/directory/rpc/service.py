"""``hibiki.directory.v1.DirectoryService`` over gRPC, answered from the in-memory view.

Callers are other services (callcontrol asks for an IVR when a call enters it) and
integrators; the server's interceptor has checked the bearer token, and each method applies
the admin API's rule (``Claims.refusal``): every method reads, so service tokens, platform
admins and the tenant's ``admin`` and ``viewer`` may call it; any other token (an agent's, one
without roles, another tenant's) is PERMISSION_DENIED. Answers come from the view, so they
work while the database is down, and a change is visible as soon as the view has it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import grpc

from hibiki.common import dialstring
from hibiki.common.auth import InvalidToken, TokenAuthority
from hibiki.common.logging import get_logger
from hibiki.directory import ivrs
from hibiki.directory.numbers import InvalidNumber, classify
from hibiki.directory.v1 import directory_pb2, directory_pb2_grpc, ivr_pb2
from hibiki.directory.view import DirectoryView, TenantView, UserEntry

log = get_logger("hibiki.directory.rpc")
KINDS = {"user": directory_pb2.TARGET_KIND_USER, "ring_group": directory_pb2.TARGET_KIND_RING_GROUP,
         "ivr": directory_pb2.TARGET_KIND_IVR, "queue": directory_pb2.TARGET_KIND_QUEUE,
         "voicemail": directory_pb2.TARGET_KIND_VOICEMAIL}


class DirectoryService(directory_pb2_grpc.DirectoryServiceServicer):
    def __init__(self, view: DirectoryView, authority: TokenAuthority) -> None:
        self._view, self._authority = view, authority

    async def _tenant(self, tenant_id: str, context: grpc.aio.ServicerContext) -> TenantView:
        header = dict(context.invocation_metadata() or ()).get("authorization")
        try:
            claims = self._authority.verify_header(header if isinstance(header, str) else None)
        except InvalidToken as exc:   # the interceptor lets no such call through; be safe anyway
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
        refusal = claims.refusal(tenant_id, write=False)
        if refusal is not None:
            log.info("rpc_refused", tenant=tenant_id, subject=claims.subject, reason=refusal)
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{refusal} (tenant {tenant_id!r})")
        tenant = self._view.by_id(tenant_id)
        if tenant is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no tenant {tenant_id!r}")
        assert tenant is not None
        return tenant

    async def GetIvr(self, request: directory_pb2.GetIvrRequest,  # noqa: N802 (gRPC names)
                     context: grpc.aio.ServicerContext) -> ivr_pb2.Ivr:
        tenant = await self._tenant(request.tenant, context)
        stored = tenant.ivrs.get(request.ivr_id)
        if stored is None:
            log.info("ivr_not_found", tenant=request.tenant, ivr=request.ivr_id)
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no IVR {request.ivr_id!r} in tenant {request.tenant!r}")
        assert stored is not None
        at = request.at.ToDatetime(tzinfo=UTC) if request.HasField("at") else datetime.now(UTC)
        answer = ivrs.resolve(stored, tenant.schedules.get, at)
        answer.tenant, answer.version = tenant.tenant_id, tenant.version
        return answer

    async def GetUser(self, request: directory_pb2.GetUserRequest,  # noqa: N802
                      context: grpc.aio.ServicerContext) -> directory_pb2.User:
        tenant = await self._tenant(request.tenant, context)
        user = tenant.users.get(request.user_id) or tenant.user_by_number(request.user_id)
        if user is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no user {request.user_id!r} in tenant {request.tenant!r}")
        assert user is not None
        return directory_pb2.User(tenant=tenant.tenant_id, user_id=user.id, extension=user.extension,
                                  display_name=user.display_name, devices=list(user.devices),
                                  direct_number=user.direct_number)

    async def ResolveNumber(self, request: directory_pb2.ResolveNumberRequest,  # noqa: N802
                            context: grpc.aio.ServicerContext) -> directory_pb2.NumberRoute:
        """A DID (any notation) to its route now, or an extension to its user or ring group."""
        tenant = await self._tenant(request.tenant, context)
        if request.number in tenant.extensions:
            return directory_pb2.NumberRoute(normalized_number=request.number, kind=directory_pb2.TARGET_KIND_USER,
                                             target_id=tenant.extensions[request.number])
        if request.number in tenant.group_extensions:
            return directory_pb2.NumberRoute(normalized_number=request.number, kind=directory_pb2.TARGET_KIND_RING_GROUP,
                                             target_id=tenant.group_extensions[request.number])
        try:
            number = classify(request.number).destination
        except InvalidNumber as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        did = tenant.dids.get(number)
        if did is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{number} is not a number of tenant {request.tenant!r}")
        assert did is not None
        route, _ = did.route_at(datetime.now(UTC))
        return directory_pb2.NumberRoute(normalized_number=number, kind=KINDS.get(route.kind, directory_pb2.TARGET_KIND_UNSPECIFIED),
                                         target_id=route.target)

    async def ResolveDevice(self, request: directory_pb2.ResolveDeviceRequest,  # noqa: N802
                            context: grpc.aio.ServicerContext) -> directory_pb2.Device:
        """What ``user/<device>@<domain>`` would ring: a device's SIP username, a user's extension
        or username, answered in the directory's own spelling (never the text asked with)."""
        tenant = await self._tenant(request.tenant, context)
        try:
            dialstring.device(request.device)
        except dialstring.UnsafeValue:
            log.info("device_refused", tenant=request.tenant, reason="malformed", device=request.device[:80])
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                "a device is 1-64 letters, digits, '.', '-' or '_' (a SIP username or extension)")
        found = _device(tenant, request.device)
        if found is None:
            log.info("device_refused", tenant=request.tenant, reason="unknown", device=request.device)
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no device {request.device!r} in tenant {request.tenant!r}")
        assert found is not None
        name, user = found
        return directory_pb2.Device(tenant=tenant.tenant_id, device=name, user_id=user.id, extension=user.extension,
                                    domain=tenant.domain)

    async def GetTenantVersion(self, request: directory_pb2.GetTenantVersionRequest,  # noqa: N802
                               context: grpc.aio.ServicerContext) -> directory_pb2.TenantVersion:
        tenant = await self._tenant(request.tenant, context)
        return directory_pb2.TenantVersion(tenant=tenant.tenant_id, version=tenant.version)


def _device(tenant: TenantView, name: str) -> tuple[str, UserEntry] | None:
    """The stored name ``name`` matches and the user it rings (as the ``user_call`` lookup finds it)."""
    user = tenant.user_by_number(name)
    if user is not None:
        return (user.extension if user.extension == name else user.username), user
    owned = tenant.device(name)
    if owned is not None:
        return owned[0].sip_username, owned[1]
    return None
