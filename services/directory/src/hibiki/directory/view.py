"""The in-memory, per-tenant view FreeSWITCH is answered from.

Lookups never touch the database: a change commits there first, then the tenant is
recompiled here (on a NATS notification), so a database outage does not stop calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SipUser:
    user_id: str              # SIP username (the part before @domain)
    a1_hash: str              # md5(user:domain:password), never the password itself
    display_name: str = ""
    extension: str = ""
    context: str = "default"


@dataclass(frozen=True)
class TenantView:
    tenant_id: str
    domain: str
    version: int
    users: dict[str, SipUser] = field(default_factory=dict)


class DirectoryView:
    """All tenants, indexed by SIP domain; replaced one tenant at a time."""

    def __init__(self) -> None:
        self._by_domain: dict[str, TenantView] = {}
        self._domain_of: dict[str, str] = {}

    def replace(self, tenant: TenantView) -> None:
        old_domain = self._domain_of.get(tenant.tenant_id)
        if old_domain and old_domain != tenant.domain:
            self._by_domain.pop(old_domain, None)
        self._by_domain[tenant.domain.lower()] = tenant
        self._domain_of[tenant.tenant_id] = tenant.domain.lower()

    def remove(self, tenant_id: str) -> None:
        domain = self._domain_of.pop(tenant_id, None)
        if domain:
            self._by_domain.pop(domain, None)

    def tenant(self, domain: str) -> TenantView | None:
        return self._by_domain.get(domain.lower())

    def user(self, domain: str, user_id: str) -> tuple[TenantView, SipUser] | None:
        tenant = self.tenant(domain)
        if tenant is None:
            return None
        found = tenant.users.get(user_id)
        return (tenant, found) if found else None

    def version(self, tenant_id: str) -> int | None:
        domain = self._domain_of.get(tenant_id)
        return self._by_domain[domain].version if domain else None

    def __len__(self) -> int:
        return len(self._by_domain)
