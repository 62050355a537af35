"""The in-memory, per-tenant view FreeSWITCH is answered from.

Lookups never touch the database: a change commits there first, then the tenant is
recompiled here (on a NATS notification, with a version check as a safety net), so a
database outage does not stop calls.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime

from hibiki.directory.gateways import GatewayEntry
from hibiki.directory.recording import RecordingPolicy
from hibiki.directory.schedules import Schedule
from hibiki.directory.v1 import ivr_pb2

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(stored: object) -> tuple[Network, ...]:
    """The stored list of CIDRs (checked on write; anything unreadable is skipped)."""
    networks: list[Network] = []
    for item in stored if isinstance(stored, list) else ():
        try:
            networks.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError:
            continue
    return tuple(networks)


@dataclass(frozen=True, slots=True)
class UserEntry:
    id: str
    username: str
    display_name: str = ""
    extension: str = ""
    direct_number: str = ""
    caller_id_policy: str = "representative"   # or "direct"
    outbound_classes: frozenset[str] = frozenset()
    context: str = "default"
    voicemail_enabled: bool = True
    voicemail_pin: str = ""
    devices: tuple[str, ...] = ()              # SIP usernames of the user's enabled devices
    forward_always: str = ""
    forward_busy: str = ""
    forward_no_answer: str = ""
    forward_no_answer_seconds: int = 20
    forward_unregistered: str = ""
    pickup_group: str = ""
    park_group: str = ""


@dataclass(frozen=True, slots=True)
class RingGroupEntry:
    id: str
    name: str
    extension: str
    strategy: str                              # simultaneous | sequential
    ring_seconds: int
    members: tuple[str, ...]                   # user ids, in order
    no_answer: Route | None = None


@dataclass(frozen=True, slots=True)
class Route:
    kind: str        # user | voicemail | announcement | ring_group | ivr | queue
    target: str      # user or ring group id, the prompt of an announcement, an IVR or queue id


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    sip_username: str
    a1_hash: str              # md5(username:domain:password), never the password itself
    user_id: str
    kind: str = "desk_phone"


@dataclass(frozen=True, slots=True)
class DidEntry:
    number: str
    route: Route
    schedule: Schedule | None = None
    closed: Route | None = None
    branches: dict[str, Route] = field(default_factory=dict)

    def route_at(self, at: datetime) -> tuple[Route, str]:
        """Where a call arriving at ``at`` goes, and the schedule branch that decided it."""
        if self.schedule is None:
            return self.route, "open"
        state = self.schedule.state(at)
        if state.branch in self.branches:
            return self.branches[state.branch], state.branch
        if state.open:
            return self.route, state.branch
        return (self.closed or self.route), state.branch


@dataclass(frozen=True)
class TenantView:
    tenant_id: str
    domain: str
    version: int
    representative_number: str = ""
    outbound_gateway: str = ""
    language: str = "ja"                                               # ja | en (sounds.LANGUAGES)
    trusted_networks: tuple[Network, ...] = ()                         # office addresses (the password guard)
    users: dict[str, UserEntry] = field(default_factory=dict)          # by id
    devices: dict[str, DeviceEntry] = field(default_factory=dict)      # by SIP username
    extensions: dict[str, str] = field(default_factory=dict)           # extension -> user id
    usernames: dict[str, str] = field(default_factory=dict)            # username -> user id
    dids: dict[str, DidEntry] = field(default_factory=dict)            # normalized number -> route
    ring_groups: dict[str, RingGroupEntry] = field(default_factory=dict)   # by id
    group_extensions: dict[str, str] = field(default_factory=dict)         # extension -> ring group id
    gateways: tuple[GatewayEntry, ...] = ()                                # enabled carrier gateways
    schedules: dict[str, Schedule] = field(default_factory=dict)           # by id
    ivrs: dict[str, ivr_pb2.Ivr] = field(default_factory=dict)             # by id, checked (ivrs.validate)
    recording: RecordingPolicy = RecordingPolicy()                         # REC-01: which calls are recorded
    # Answers rendered from this (immutable) version of the tenant, reused until it is replaced.
    answers: dict[tuple[str, ...], str] = field(default_factory=dict, compare=False, repr=False)

    def user_by_number(self, number: str) -> UserEntry | None:
        """A user by extension, else by username (how ``user/<x>@domain`` names one)."""
        user_id = self.extensions.get(number) or self.usernames.get(number)
        return self.users.get(user_id) if user_id else None

    def trusts(self, address: str) -> bool:
        """Is ``address`` one of the tenant's own office networks?"""
        if not self.trusted_networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.trusted_networks)

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
        self._did_owner: dict[str, str] = {}      # DID -> tenant id, across the platform

    def replace(self, tenant: TenantView) -> None:
        self.remove(tenant.tenant_id)
        self._by_domain[tenant.domain.lower()] = tenant
        self._domain_of[tenant.tenant_id] = tenant.domain.lower()
        for number in tenant.dids:
            self._did_owner[number] = tenant.tenant_id

    def remove(self, tenant_id: str) -> None:
        domain = self._domain_of.pop(tenant_id, None)
        if domain:
            old = self._by_domain.pop(domain, None)
            for number in old.dids if old else ():
                if self._did_owner.get(number) == tenant_id:
                    del self._did_owner[number]

    def did(self, number: str) -> tuple[TenantView, DidEntry] | None:
        tenant_id = self._did_owner.get(number)
        tenant = self.by_id(tenant_id) if tenant_id else None
        entry = tenant.dids.get(number) if tenant else None
        return (tenant, entry) if tenant and entry else None

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
