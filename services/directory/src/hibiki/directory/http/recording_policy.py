"""A tenant's call recording policy over the admin API (REC-01, REC-02, REC-06).

- ``GET /api/v1/tenants/{tenant}/recording_policy``: the policy (the tenant's ``recording-admin``,
  ``admin`` and ``viewer`` read it);
- ``PUT /api/v1/tenants/{tenant}/recording_policy``: replace it. Only a ``recording-admin`` of the
  tenant (or a platform administrator / service) changes it: the configuration administrator
  (``admin``) may not (REC-06, Shiojiri separates the two roles). Users, DIDs and queues named
  must be the tenant's (queues: an id, the ACD's). The change is compiled into the next call's
  dialplan (the tenant's version is bumped and every replica reloads it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common import dialstring
from hibiki.common import roles as role_rule
from hibiki.common.auth import Claims
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.directory import recording
from hibiki.directory.errors import ConfigStoreError, NotFound
from hibiki.directory.http.admin import _body, guarded
from hibiki.directory.nats.notifier import ConfigNotifier
from hibiki.directory.schemas import Strict
from hibiki.directory.storage.repository import ConfigRepository
from hibiki.directory.storage.tables import dids, users

RECORDING_ADMIN = "recording-admin"
ModeName = Literal["all", "none", "on_demand"]


class RuleModel(Strict):
    inbound: ModeName | None = Field(default=None, description="calls from a carrier; null: the next scope decides")
    outbound: ModeName | None = Field(default=None, description="calls to a carrier; null: the next scope decides")


class TenantRule(Strict):
    inbound: ModeName = "none"
    outbound: ModeName = "none"


def _keys(value: dict[str, RuleModel]) -> dict[str, RuleModel]:
    if len(value) > 10_000:
        raise ValueError("at most 10000 entries")
    for key in value:
        if not dialstring.TOKEN.fullmatch(key):
            raise ValueError(f"{key[:40]!r} is not an id (letters, digits, _ . -)")
    return value


class RecordingPolicyBody(Strict):
    tenant: TenantRule = Field(default_factory=TenantRule, description="every call of the tenant")
    users: dict[str, RuleModel] = Field(default_factory=dict, description="by user id (the user's calls)")
    dids: dict[str, RuleModel] = Field(default_factory=dict, description="by DID as stored (digits): calls on it")
    queues: dict[str, RuleModel] = Field(default_factory=dict, description="by ACD queue id: calls in it")
    notice: str = Field(default=recording.NOTICE_PROMPT, max_length=200,
                        description="the sound played to the caller before recording starts (REC-02)")

    _check_keys = field_validator("users", "dids", "queues")(_keys)

    @field_validator("notice")
    @classmethod
    def _sound(cls, value: str) -> str:
        if not dialstring.SOUND.fullmatch(value):
            raise ValueError("a sound file path (letters, digits, _ . / -; no ..)")
        return value


class RecordingPolicyOut(RecordingPolicyBody):
    version: int = Field(description="the tenant's configuration version that holds it")


def may_change(claims: Claims, tenant: str) -> str | None:
    """Why this token may not change the recording policy (None when it may): the one role rule."""
    why = claims.refusal(tenant, True, role_rule.RECORDING_POLICY)
    if why is not None and claims.may_act_for(tenant):
        return f"the recording policy is changed by a recording administrator ({RECORDING_ADMIN}), not the configuration one"
    return why


def may_read(claims: Claims, tenant: str) -> str | None:
    return claims.refusal(tenant, False, role_rule.RECORDING_POLICY)


class RecordingPolicyApi:
    def __init__(self, repository: ConfigRepository, notifier: ConfigNotifier,
                 audit: Callable[..., Awaitable[None]] | None = None) -> None:
        self.repo, self.notifier, self.audit = repository, notifier, audit

    async def get(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        row = await asyncio.to_thread(self.repo.get_tenant, tenant)
        return JSONResponse(self._out(row))

    async def put(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        body = await _body(request, RecordingPolicyBody)
        current = await asyncio.to_thread(self.repo.get_tenant, tenant)
        await self._check_targets(tenant, body)
        row, change = await asyncio.to_thread(self.repo.patch_tenant, current["id"], {"recording_policy": body})
        await self.notifier.changed(change)
        if self.audit is not None:
            await self.audit(request, "recording_policy.change", "recording_policy", tenant,
                             self._out(current), self._out(row))
        return JSONResponse(self._out(row))

    async def _check_targets(self, tenant: str, body: dict[str, object]) -> None:
        """Users by id, DIDs by number: the tenant's own (a typo would record nothing)."""
        named_users, named_dids = body.get("users"), body.get("dids")
        for key in named_users if isinstance(named_users, dict) else {}:
            try:
                await asyncio.to_thread(self.repo.get, users, tenant, key)
            except NotFound:
                raise ConfigStoreError("invalid-users", f"users: {key[:40]!r} is not the tenant's user",
                                       f"users.{key[:40]}") from None
        if isinstance(named_dids, dict) and named_dids:
            rows = await asyncio.to_thread(self.repo.list, dids, tenant, 100_000, 0)
            numbers = {str(r["number"]) for r in rows}
            for key in named_dids:
                if key not in numbers:
                    raise ConfigStoreError("invalid-dids", f"dids: {key[:40]!r} is not the tenant's number",
                                           f"dids.{key[:40]}")

    @staticmethod
    def _out(row: dict[str, object]) -> dict[str, object]:
        stored = recording.to_json(recording.RecordingPolicy.from_stored(row.get("recording_policy")))
        return RecordingPolicyOut.model_validate({**stored, "version": row["version"]}).model_dump(mode="json")

    def routes(self) -> list[ApiRoute]:
        path, tags = "/api/v1/tenants/{tenant}/recording_policy", ["recording policy"]
        return [ApiRoute(path, guarded(False, self.get, refusal=may_read), "GET", Operation(
                    "The tenant's recording policy (who and what is recorded)", response=RecordingPolicyOut,
                    errors=errors(400, 403, 404, 503), tags=tags)),
                ApiRoute(path, guarded(True, self.put, refusal=may_change), "PUT", Operation(
                    "Replace the recording policy (recording-admin only, REC-06)", response=RecordingPolicyOut,
                    body=RecordingPolicyBody, errors=errors(400, 403, 404, 413, 422, 503), tags=tags))]
