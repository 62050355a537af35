"""The directory service run for a test, with its admin API at hand: every change made through
it waits for ``hibiki.<tenant>.config.applied``, so the next call sees it."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from nats.aio.client import Client
from nats.aio.subscription import Subscription

from fsemu.xml_curl import XmlCurlClient, XmlCurlResponse, digest_response
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.app import main
from hibiki.directory.config import DirectoryConfig
from support.servers import NatsServer, free_port, running

ACCEPTED = {"POST": 201, "PUT": 200, "PATCH": 200, "DELETE": 204}


# What FreeSWITCH sends to /fsapi in the tests (``hibiki up`` generates its own): the directory
# believes ``ip`` and ``variable_hibiki_tenant`` and serves secrets only to a client that has them.
FSAPI_USER, FSAPI_PASSWORD = "freeswitch", "test fsapi password"
FSAPI_CREDENTIALS = {"HIBIKI_DIRECTORY_FSAPI_USER": FSAPI_USER, "HIBIKI_DIRECTORY_FSAPI_PASSWORD": FSAPI_PASSWORD}


def directory_config(tmp_path: Path, nats_server: NatsServer, env: Mapping[str, str] | None = None,
                     **overrides: Any) -> DirectoryConfig:
    """Settings for a directory on free ports with its data in ``tmp_path``; ``env`` adds variables
    read as the service reads them (``{"HIBIKI_DIRECTORY_DATABASE_URL": ...}``), ``overrides``
    replace fields (``callcontrol_address=...``). /fsapi wants :data:`FSAPI_CREDENTIALS` unless
    ``env`` says otherwise (``fsapi_url`` carries them)."""
    environ = {"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url, **FSAPI_CREDENTIALS, **(env or {})}
    return dataclasses.replace(DirectoryConfig.from_env(environ), port=free_port(), grpc_port=free_port(), **overrides)


def fsapi_url(config: DirectoryConfig, host: str = "127.0.0.1") -> str:
    """The directory's /fsapi with its credentials in the URL (as libcurl takes them; the emulator too)."""
    credentials = ""
    if config.fsapi_user and config.fsapi_password:
        credentials = f"{quote(config.fsapi_user, safe='')}:{quote(config.fsapi_password, safe='')}@"
    return f"http://{credentials}{host}:{config.port}/fsapi"


def sip_auth_body(client: XmlCurlClient, user: str, domain: str, password: str, ip: str = "127.0.0.1",
                  method: str = "REGISTER") -> bytes:
    """A ``sip_auth`` request as mod_sofia sends it for a phone that knows ``password`` (the
    directory returns the a1-hash only for a digest that verifies against it)."""
    a1 = hashlib.md5(f"{user}:{domain}:{password}".encode()).hexdigest()
    nonce, cnonce, uri = "nonce-1", "cnonce-1", f"sip:{domain}"
    response = digest_response(a1, method, uri, nonce, qop="auth", nc="00000001", cnonce=cnonce)
    return client.directory_body(user=user, domain=domain, action="sip_auth", sip_auth_method=method,
                                 sip_auth_response=response, sip_auth_nonce=nonce, sip_auth_cnonce=cnonce,
                                 sip_auth_nc="00000001", sip_auth_qop="auth", sip_auth_uri=uri, ip=ip)


async def sip_auth(client: XmlCurlClient, user: str, domain: str, password: str, ip: str = "127.0.0.1") -> XmlCurlResponse:
    """Post :func:`sip_auth_body`; the reply carries the device's a1-hash when the password is right."""
    return await client.post(sip_auth_body(client, user, domain, password, ip))


@dataclasses.dataclass
class Directory:
    """A running directory and its admin API (``api``: paths from the root, a service token)."""

    config: DirectoryConfig
    authority: TokenAuthority
    token: str
    api: httpx.AsyncClient
    applied: Subscription

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    @property
    def fsapi(self) -> str:
        """/fsapi with the credentials FreeSWITCH sends (see :func:`fsapi_url`)."""
        return fsapi_url(self.config)

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.config.grpc_port}"

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """A change that may be refused: waits for config.applied only if it was accepted."""
        reply = await self.api.request(method, path, json=body)
        if reply.status_code < 300:
            await self.applied.next_msg(timeout=5)   # every change reaches the view before we go on
        return reply

    async def change(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """A change that must be accepted (201 for POST, 200 for PUT/PATCH, 204 for DELETE)."""
        reply = await self.call(method, path, body)
        assert reply.status_code == ACCEPTED[method], reply.text
        return dict(reply.json()) if reply.content else {}

    async def post(self, path: str, body: Any) -> dict[str, Any]:
        return await self.change("POST", path, body)

    async def put(self, path: str, body: Any) -> dict[str, Any]:
        return await self.change("PUT", path, body)

    async def patch(self, path: str, body: Any) -> dict[str, Any]:
        return await self.change("PATCH", path, body)

    async def delete(self, path: str) -> None:
        await self.change("DELETE", path)


@contextlib.asynccontextmanager
async def running_directory(config: DirectoryConfig, nats_client: Client, authority: TokenAuthority,
                            tenant: str = "*", claims: Claims | None = None) -> AsyncIterator[Directory]:
    """The directory (``hibiki.directory.app.main``) until the block ends, changes confirmed on
    ``hibiki.<tenant>.config.applied`` (``*``: any tenant); ``api`` carries a token for ``claims``
    (a service for every tenant unless told)."""
    token = authority.issue(claims or Claims("setup", "service"))
    applied = await nats_client.subscribe(f"hibiki.{tenant}.config.applied")
    await nats_client.flush()  # the server knows the subscription before we act
    try:
        async with running(main, config), httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{config.port}", headers={"Authorization": f"Bearer {token}"}) as api:
            yield Directory(config, authority, token, api, applied)
    finally:
        await applied.unsubscribe()


CALL_MARKS = ("hibiki_call_id", "hibiki_direction", "hibiki_tenant")


def routed(executed: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The applications a call ran after the dialplan's ``hibiki-call`` marks (the exports of
    ``CALL_MARKS`` each routing of the channel starts with), i.e. what routed it."""
    steps = list(executed)
    while steps and steps[0][0] == "export" and steps[0][1].partition("=")[0] in CALL_MARKS:
        steps.pop(0)
    return steps
