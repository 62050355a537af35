"""``POST /fsapi``: the mod_xml_curl endpoint.

Open to FreeSWITCH only: the client address must be in the allow-list, and when
credentials are configured the request must carry them as HTTP basic auth (what
mod_xml_curl sends with ``gateway-credentials`` and ``auth-scheme`` basic). Any body
we cannot serve is answered with FreeSWITCH's "not found" document and logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import re
import time

from prometheus_client import Counter, Histogram
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from hibiki.common import dialstring
from hibiki.common.logging import get_logger
from hibiki.common.openapi import ApiRoute, Operation
from hibiki.common.net import AllowList
from hibiki.directory import dialplan, documents
from hibiki.directory.config import DirectoryConfig
from hibiki.directory.features import CONFIRM_TONE, REFUSE_TONE, SettingChange, setting_change
from hibiki.directory.fsapi import answer, claim_refusal
from hibiki.directory.guard import AuthGuard
from hibiki.directory.nats.notifier import ConfigNotifier
from hibiki.directory.view import DirectoryView
from hibiki.directory.storage.repository import ConfigRepository
from hibiki.directory.storage.tables import users
from hibiki.directory.xmlcurl import BadRequest, FsRequest, parse
from hibiki.common.digits import ascii_digits

log = get_logger("hibiki.directory.fsapi")
REQUESTS = Counter("hibiki_fsapi_requests_total", "mod_xml_curl requests", ["section", "outcome"])
LATENCY = Histogram(
    "hibiki_fsapi_seconds", "mod_xml_curl answer time",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)
XML = "text/xml"
_COUNTERS: dict[tuple[str, str], Counter] = {}


def _count(section: str, outcome: str) -> None:
    """``REQUESTS.labels(section, outcome).inc()``, with the labelled child looked up once."""
    child = _COUNTERS.get((section, outcome))
    if child is None:
        child = _COUNTERS[(section, outcome)] = REQUESTS.labels(section, outcome)
    child.inc()


class FsapiEndpoint:
    def __init__(self, config: DirectoryConfig, view: DirectoryView, guard: AuthGuard,
                 notifier: ConfigNotifier, repository: ConfigRepository | None = None) -> None:
        self._guard, self._notifier, self._repository = guard, notifier, repository
        self._callcontrol = config.callcontrol_address
        self._allow = AllowList(config.fsapi_allow)
        self._max_body = config.fsapi_max_body
        self._view = view
        self._credentials: bytes | None = None
        if config.fsapi_user and config.fsapi_password:
            self._credentials = f"{config.fsapi_user}:{config.fsapi_password}".encode()

    async def _feature_code(self, request: FsRequest) -> str | None:
        """Apply ``*72``/``*73`` for the calling user; the dialplan document confirms it."""
        tenant = self._view.by_id(request.get("variable_hibiki_tenant"))
        if tenant is None or self._repository is None:
            return None
        destination = request.get("Caller-Destination-Number")
        change = setting_change(destination, tenant, request.get("variable_hibiki_user"))
        if change is None:
            return None
        tone = REFUSE_TONE
        if isinstance(change, SettingChange):
            try:
                _, stored = await asyncio.to_thread(self._repository.patch, users, tenant.tenant_id, change.user_id,
                                                    {change.field: change.value})
            except Exception as exc:  # the store is down or refuses: the caller hears so
                log.warning("feature_code_failed", tenant=tenant.tenant_id, code=destination[:3], error=str(exc))
            else:
                await self._notifier.changed(stored)
                log.info("feature_code_applied", tenant=tenant.tenant_id, user=change.user_id, field=change.field)
                tone = CONFIRM_TONE
        return dialplan.tone_and_hangup(request.get("Caller-Context") or "default", destination, tone)

    def _authorized(self, request: Request) -> bool:
        if self._credentials is None:
            return True
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self._credentials)

    async def _read_body(self, request: Request) -> bytes | None:
        """The body, read up to the limit (None past it: nothing more is read or kept)."""
        declared = request.headers.get("content-length", "")
        if ascii_digits(declared) and int(declared) > self._max_body:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        client = request.scope.get("client")
        peer = client[0] if client else "?"
        if peer not in self._allow:
            log.warning("fsapi_refused", reason="address not in allow-list", peer=peer)
            _count("-", "refused")
            return PlainTextResponse(f"{peer} may not use /fsapi\n", status_code=403)
        if not self._authorized(request):
            log.warning("fsapi_refused", reason="bad or missing basic auth", peer=peer)
            _count("-", "refused")
            return PlainTextResponse("credentials required\n", status_code=401,
                                     headers={"www-authenticate": 'Basic realm="hibiki-fsapi"'})
        body = await self._read_body(request)
        if body is None:
            log.warning("fsapi_not_found", reason=f"body over the limit of {self._max_body} bytes", peer=peer)
            _count("-", "bad_request")
            return Response(documents.NOT_FOUND, media_type=XML)
        try:
            fs_request = parse(body)
        except BadRequest as exc:
            log.warning("fsapi_not_found", reason=f"malformed request: {exc}", peer=peer, call_uuid=_raw_call_uuid(body))
            _count("-", "bad_request")
            return Response(documents.NOT_FOUND, media_type=XML)
        try:
            return await self._answer(fs_request, peer, started)
        except (BadRequest, dialstring.UnsafeValue) as exc:  # a field read while answering was malformed
            # (NUL, not UTF-8), or a stored value that cannot go into a dial string (hibiki.common.dialstring)
            log.warning("fsapi_not_found", reason=f"malformed request: {exc}", peer=peer,
                        call_uuid=_call_uuid(fs_request))
            _count(fs_request.section, "bad_request")
        except Exception as exc:   # never a 500: FreeSWITCH falls back to its static XML
            log.error("fsapi_failed", error=f"{type(exc).__name__}: {exc}", peer=peer, call_uuid=_call_uuid(fs_request))
            _count(fs_request.section, "error")
        return Response(documents.NOT_FOUND, media_type=XML)

    async def _answer(self, fs_request: FsRequest, peer: str, started: float) -> Response:
        trusted = self._credentials is not None   # requests without them were refused above
        if fs_request.section == "dialplan" and fs_request.get("Caller-Destination-Number").startswith("*7") \
                and claim_refusal(fs_request, self._view, trusted) is None:
            changed = await self._feature_code(fs_request)
            if changed is not None:
                _count("dialplan", "found")
                return Response(changed, media_type=XML)
        result = answer(fs_request, self._view, self._guard, callcontrol=self._callcontrol, trusted=trusted)
        if result.block is not None:
            block = result.block
            log.warning("address_blocked", tenant=block.tenant, address=block.address, failures=block.failures,
                        username=block.username or None, address_wide=block.address_wide,
                        user=block.last_user, domain=block.last_domain)
            await self._notifier.address_blocked(block)
        if result.outcome != "found":
            log.info("fsapi_not_found", reason=result.reason, tenant=result.tenant or None, peer=peer,
                     section=fs_request.section, action=fs_request.action or None, call_uuid=_call_uuid(fs_request))
        _count(fs_request.section, result.outcome)
        LATENCY.observe(time.perf_counter() - started)
        return Response(result.document, media_type=XML)


_UUID_FIELD = re.compile(rb"(?:^|&)(?:Unique-ID|Channel-Call-UUID)=([0-9A-Za-z-]{1,64})(?=&|$)")


def _raw_call_uuid(body: bytes) -> str | None:
    """The call's UUID from a body that could not be parsed (for the log line), if it has a clean one."""
    found = _UUID_FIELD.search(body)
    return found.group(1).decode() if found else None


def _call_uuid(request: FsRequest) -> str | None:
    """The call's UUID for the log line (None when there is none or it cannot be read)."""
    for name in ("Unique-ID", "Channel-Call-UUID"):
        try:
            value = request.get(name)
        except BadRequest:
            continue
        if value:
            return value
    return None


def fsapi_route(endpoint: FsapiEndpoint) -> ApiRoute:
    """``POST /fsapi`` described: a form in, FreeSWITCH XML out (the not-found document for anything
    it cannot serve); no token, the allow-list and basic auth instead."""
    return ApiRoute("/fsapi", endpoint.handle, "POST", Operation(
        "mod_xml_curl: FreeSWITCH asks for a directory, dialplan or configuration section", media=XML,
        body=dict[str, str], body_media="application/x-www-form-urlencoded", open=True, tags=["freeswitch"],
        errors={401: "basic auth configured and missing or wrong", 403: "the client address is not in the allow-list",
                413: "a body over the HTTP layer's limit (one over /fsapi's own limit is the not-found document)"},
        error_bodies={401: "text/plain", 403: "text/plain"}))
