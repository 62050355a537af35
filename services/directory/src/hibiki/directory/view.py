"""The in-memory, per-tenant view FreeSWITCH is answered from.

Lookups never touch the database: a change commits there first, then the tenant is
recompiled here (on a NATS notification, with a version check as a safety net), so a
database outage does not stop calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class UserEntry:
    id: str
    username: str
    display_name: str = ""
    extension: str = ""
    direct_number: str = ""
    caller_id_policy: str = "representative"   # or "direct"
    context: str = "default"
    voicemail_enabled: bool = True
    voicemail_pin: str = ""
    devices: tuple[str, ...] = ()              # SIP usernames of the user's enabled devices


@dataclass(frozen=True)
class DeviceEntry:
    sip_username: str
    a1_hash: str              # md5(username:domain:password), never the password itself
    user_id: str
    kind: str = "desk_phone"


@dataclass(frozen=True)
class TenantView:
    tenant_id: str
    domain: str
    version: int
    representative_number: str = ""
    users: dict[str, UserEntry] = field(default_factory=dict)          # by id
    devices: dict[str, DeviceEntry] = field(default_factory=dict)      # by SIP username
    extensions: dict[str, str] = field(default_factory=dict)           # extension -> user id
    usernames: dict[str, str] = field(default_factory=dict)            # username -> user id

    def user_by_number(self, number: str) -> UserEntry | None:
        """A user by extension, else by username (how ``user/<x>@domain`` names one)."""
        user_id = self.extensions.get(number) or self.usernames.get(number)
        return self.users.get(user_id) if user_id else None

    def device(self, sip_username: str) -> tuple[DeviceEntry, UserEntry] | None:
        device = self.devices.get(sip_username)
        if device is None:
            return None
        user = self.users.get(device.user_id)
        return (device, user) if user else None


class DirectoryView:
    """All tenants, indexed by SIP domain; replaced one tenant at a time."""

    def __init__(self) -> None:
        self._by_domain: dict[str, TenantView] = {}
        self._domain_of: dict[str, str] = {}

    def replace(self, tenant: TenantView) -> None:
        old_domain = self._domain_of.get(tenant.tenant_id)
        if old_domain and old_domain != tenant.domain.lower():
            self._by_domain.pop(old_domain, None)
        self._by_domain[tenant.domain.lower()] = tenant
        self._domain_of[tenant.tenant_id] = tenant.domain.lower()

    def remove(self, tenant_id: str) -> None:
        domain = self._domain_of.pop(tenant_id, None)
        if domain:
            self._by_domain.pop(domain, None)

    def tenant(self, domain: str) -> TenantView | None:
        return self._by_domain.get(domain.lower())

    def by_id(self, tenant_id: str) -> TenantView | None:
        domain = self._domain_of.get(tenant_id)
        return self._by_domain.get(domain) if domain else None

    def version(self, tenant_id: str) -> int | None:
        domain = self._domain_of.get(tenant_id)
        return self._by_domain[domain].version if domain else None

    def versions(self) -> dict[str, int]:
        return {tid: self._by_domain[d].version for tid, d in self._domain_of.items()}

    def __len__(self) -> int:
        return len(self._by_domain)
