"""The store's rules for carrier gateways, and their compilation into the view.

A gateway's name is FreeSWITCH's gateway name, global on a node (``sofia/gateway/<name>``),
so it is unique on the platform and cannot change (a new name is a new gateway). A gateway
that registers needs a username and a password. One that a tenant's ``outbound_gateway``
names is not deleted from under it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, select

from hibiki.directory.errors import Conflict, Invalid
from hibiki.directory.gateways import GatewayEntry
from hibiki.directory.storage.tables import gateways, tenants

Row = dict[str, Any]
NULLABLE = frozenset({"port"})


def prepare(conn: Connection, tenant: Row, row: Row, current: Row | None) -> None:
    """Check a new gateway or a change of one (``row``, in place) against the stored ones."""
    for key, value in row.items():
        if value is None and key not in NULLABLE:
            raise Invalid(f"invalid-{key}", f"{key} may not be null", key)
    if current is None and conn.execute(select(gateways.c.id).where(gateways.c.name == row["name"])).first():
        raise Conflict("name-taken", f"gateway name {row['name']!r} is already used on this platform", "name")
    merged = {**(current or {}), **row}
    if merged.get("register", True):
        for key in ("username", "password"):
            if not merged.get(key):
                raise Invalid(f"invalid-{key}", f"a gateway that registers needs a {key}", key)


def check_unused(conn: Connection, tenant_id: str, item: Row) -> None:
    """Refuse to delete the gateway the tenant's outbound calls use."""
    used = conn.execute(select(tenants.c.id).where(tenants.c.id == tenant_id,
                                                   tenants.c.outbound_gateway == item["name"])).first()
    if used is not None:
        raise Conflict("gateway-in-use", "the tenant's outbound calls use this gateway: change outbound_gateway first",
                       "id")


def load(conn: Connection, tenant_id: str | None) -> dict[str, tuple[GatewayEntry, ...]]:
    """The enabled gateways of one tenant (or all), by tenant, in name order."""
    query: Select[Any] = select(gateways).where(gateways.c.enabled.is_(True)).order_by(gateways.c.name)
    if tenant_id is not None:
        query = query.where(gateways.c.tenant_id == tenant_id)
    by_tenant: dict[str, list[GatewayEntry]] = {}
    for g in conn.execute(query).mappings():
        by_tenant.setdefault(g["tenant_id"], []).append(GatewayEntry(
            name=g["name"], profile=g["profile"], proxy=g["proxy"], port=g["port"], realm=g["realm"],
            transport=g["transport"], username=g["username"], password=g["password"], register=bool(g["register"]),
            expire_seconds=int(g["expire_seconds"]), caller_id_in_from=bool(g["caller_id_in_from"]),
            from_user=g["from_user"], from_domain=g["from_domain"], extension=g["extension"],
            ping_seconds=int(g["ping_seconds"])))
    return {tenant: tuple(entries) for tenant, entries in by_tenant.items()}
