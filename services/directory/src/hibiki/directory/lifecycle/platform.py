"""The services' HTTP APIs as the lifecycle commands use them, with a service token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.errors import HibikiError
from hibiki.directory.lifecycle.settings import Settings


class ServiceError(HibikiError):
    """A service refused or failed a request the lifecycle needs."""


class Platform:
    def __init__(self, settings: Settings, authority: TokenAuthority, timeout: float = 120.0,
                 subject: str = "hibiki-lifecycle") -> None:
        token = authority.issue(Claims(subject, "service"), 3600)   # the subject: who the audit trails name
        self.settings = settings
        self.http = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, url: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        try:
            answer = self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceError(f"{method} {url}: {exc.__class__.__name__}: {exc}") from None
        if answer.status_code not in ok:
            raise ServiceError(f"{method} {url}: {answer.status_code} {answer.text[:300]}")
        return answer

    def json(self, method: str, url: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        return self.request(method, url, ok, **kwargs).json()

    # -- directory ------------------------------------------------------------------------------
    def tenants(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.json("GET", f"{self.settings.directory_url}/api/v1/tenants")["items"]
        return items

    def tenant(self, tenant: str) -> dict[str, Any] | None:
        answer = self.request("GET", f"{self.settings.directory_url}/api/v1/tenants/{tenant}", (200, 404))
        found: dict[str, Any] | None = answer.json() if answer.status_code == 200 else None
        return found

    def listed(self, tenant: str, resource: str) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self.json("GET", f"{self.settings.directory_url}/api/v1/tenants/{tenant}/{resource}",
                             params={"limit": 500, "offset": offset})["items"]
            yield from page
            if len(page) < 500:
                return
            offset += len(page)

    # -- acd --------------------------------------------------------------------------------------
    def acd_config(self, tenant: str) -> dict[str, list[dict[str, Any]]]:
        base = f"{self.settings.acd_url}/api/v1/tenants/{tenant}"
        return {kind: self.json("GET", f"{base}/{kind}")["items"] for kind in ("queues", "agents")}
