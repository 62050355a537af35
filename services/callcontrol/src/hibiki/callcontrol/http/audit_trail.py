"""Callcontrol's entries in the tenant's hash-chained audit trail (ADM-05), kept by the directory
(``POST /api/v1/tenants/{tenant}/audit`` with callcontrol's service token, at
``HIBIKI_CALLCONTROL_DIRECTORY_HTTP``): who listened in on which call, in which mode, from where.

Security fails closed: a start or a switch the trail cannot record is refused (503
``audit-unavailable``) before FreeSWITCH is asked; a stop always hangs up and logs a trail it
could not write (``supervision_audit_lost``)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from hibiki.common.auth import Claims


class AuditUnavailable(Exception):
    """The directory did not record the entry (unreachable, slow, or refused it)."""


class DirectoryAudit:
    def __init__(self, base_url: str, bearer: Callable[[], str], timeout: float = 2.0) -> None:
        self.base_url, self._bearer, self.timeout = base_url.rstrip("/"), bearer, timeout

    async def append(self, tenant: str, claims: Claims, action: str, resource_id: str, after: dict[str, str],
                     address: str) -> int:
        """Append one entry; its sequence number. Raises :class:`AuditUnavailable`."""
        if not self.base_url:
            raise AuditUnavailable("no directory is configured for the audit trail (HIBIKI_CALLCONTROL_DIRECTORY_HTTP)")
        body = {"actor": claims.subject or "unknown", "roles": sorted(claims.roles)[:32], "action": action,
                "resource": "supervision", "resource_id": resource_id, "after": after, "address": address[:64]}
        try:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout) as client:
                reply = await client.post(f"/api/v1/tenants/{tenant}/audit", json=body,
                                          headers={"authorization": f"Bearer {self._bearer()}"})
        except httpx.HTTPError as exc:
            raise AuditUnavailable(f"the directory did not answer: {type(exc).__name__}") from None
        if reply.status_code != 201:
            raise AuditUnavailable(f"the directory refused the entry: HTTP {reply.status_code} {reply.text[:120]}")
        return int(reply.json()["seq"])
