"""Carrier gateways for mod_sofia: the ``purpose=gateways`` directory lookup.

When a sofia profile starts, and on ``sofia profile <p> rescan``, mod_sofia asks for the
directory once per ``<domain>`` of the profile's ``<domains>`` (sofia.c
``launch_sofia_worker_thread`` / ``config_sofia``, v1.10.12), with ``purpose=gateways`` and
``profile=<p>``:

- ``<domain name="all" .../>``: ``switch_xml_locate("directory", NULL, NULL, NULL)``, so no
  tag, key or domain is sent; the answer's ``<section name="directory">`` is the node and
  each of its ``<domain>`` children is handed to ``parse_domain_tag``;
- ``<domain name="example.jp" .../>``: ``tag_name=domain&key_name=name&key_value=example.jp``
  (no ``domain`` field), and that ``<domain>`` element is handed over.

With ``parse="true"``, ``parse_domain_tag`` loads the ``<gateways>`` of every ``<user>`` of the
domain (directly under ``<domain>``, or in ``<groups>/<group>/<users>``); ``alias="true"``
also makes each domain name an alias of the profile. So every tenant's domain is listed
(an alias is right for each), and its gateways for *that* profile, if enabled, are the
``<gateways>`` of one ``<user>``. Nothing to list (no tenant, an unknown domain) is the
"not found" document: FreeSWITCH then reads its static directory, which has no domains.

FreeSWITCH adds what it does not know yet and ignores a gateway whose name it already has
("Ignoring duplicate gateway"): a changed or removed gateway takes
``sofia profile <p> killgw <name>`` before the ``rescan``. The directory cannot tell it to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hibiki.directory import documents
from hibiki.directory.xmlcurl import FsRequest

if TYPE_CHECKING:
    from hibiki.directory.view import DirectoryView, TenantView

GATEWAYS_USER = "hibiki-gateways"   # the <user> whose <gateways> sofia parses; never a SIP user


@dataclass(frozen=True, slots=True)
class GatewayEntry:
    """One enabled carrier gateway, as mod_sofia gets it."""

    name: str
    profile: str
    proxy: str
    port: int | None = None
    realm: str = ""
    transport: str = "udp"
    username: str = ""
    password: str = field(default="", repr=False)   # FreeSWITCH needs it in clear; never in a log line
    register: bool = True
    expire_seconds: int = 3600
    caller_id_in_from: bool = False
    from_user: str = ""
    from_domain: str = ""
    extension: str = ""
    ping_seconds: int = 0

    def params(self) -> dict[str, str]:
        """The ``<param>`` of the gateway, named as sofia.c ``parse_gateways`` reads them."""
        proxy = f"{self.proxy}:{self.port}" if self.port else self.proxy
        params = {"proxy": proxy, "register": _bool(self.register), "register-transport": self.transport,
                  "expire-seconds": str(self.expire_seconds), "caller-id-in-from": _bool(self.caller_id_in_from)}
        optional = {"realm": self.realm, "username": self.username, "password": self.password,
                    "from-user": self.from_user, "from-domain": self.from_domain, "extension": self.extension,
                    "ping": str(self.ping_seconds) if self.ping_seconds else ""}
        params.update((name, value) for name, value in optional.items() if value)
        return params


def _bool(value: bool) -> str:
    return "true" if value else "false"


def serve(request: FsRequest, view: DirectoryView) -> tuple[str, str, str, str]:
    """The answer to a ``purpose=gateways`` lookup: (document, outcome, reason, tenant)."""
    profile = request.get("profile")
    if not profile:
        return documents.NOT_FOUND, "not_found", "purpose 'gateways' without a profile", ""
    name = request.get("key_value") if request.get("key_name") == "name" else ""
    if name:
        tenant = view.tenant(name)
        if tenant is None:
            return documents.NOT_FOUND, "not_found", f"gateways of domain {name!r}, which is not a tenant", ""
        return document([(tenant.domain, _of_profile(tenant, profile))]), "found", "", tenant.tenant_id
    tenants = [t for t in map(view.by_id, sorted(view.versions())) if t is not None]
    if not tenants:
        return documents.NOT_FOUND, "not_found", "gateways of all domains: there is no tenant", ""
    return document([(t.domain, _of_profile(t, profile)) for t in tenants]), "found", "", ""


def _of_profile(tenant: TenantView, profile: str) -> list[GatewayEntry]:
    return [g for g in tenant.gateways if g.profile == profile]


def document(domains: Iterable[tuple[str, Iterable[GatewayEntry]]]) -> str:
    """A directory section with one ``<domain>`` per entry, its gateways under one ``<user>``."""
    parts = []
    for domain, entries in domains:
        gateways = "".join(f"<gateway name={documents.attr(g.name)}>{_params(g.params())}</gateway>" for g in entries)
        user = f"<user id={documents.attr(GATEWAYS_USER)}><gateways>{gateways}</gateways></user>" if gateways else ""
        parts.append(f"<domain name={documents.attr(domain)}>{user}</domain>")
    return f'<document type="freeswitch/xml"><section name="directory">{"".join(parts)}</section></document>'


def _params(params: Mapping[str, str]) -> str:
    return "".join(f"<param name={documents.attr(k)} value={documents.attr(v)}/>" for k, v in params.items())
