"""A delegated administrator's scope (ADM-02): only their groups, users and numbers.

A console user with the role ``delegated-admin`` (and no wider one) carries a ``scope``: items
``group:<ring group id or name>``, ``user:<user id or username>``, ``number:<number>`` (a trailing
``*`` matches a prefix, e.g. ``number:0462512*``). Their writes are refused everywhere except:

    users        change or delete a user in scope; create one whose username is in scope
    devices      create, change or delete a device of a user in scope
    ring_groups  change or delete a group in scope (create: its name in scope); members in scope
    dids         create, change or delete a number in scope

Reads are the configuration reads of the role rule. The check runs where the rows are known
(the admin API's handlers), on the stored row and on what the body would make of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hibiki.common import roles as role_rule
from hibiki.common.auth import Claims

SCOPED = ("users", "devices", "ring_groups", "dids")
OUT_OF_SCOPE = "a delegated administrator changes only the groups, users and numbers of their scope"


def limited(claims: Claims) -> bool:
    """Whether the token's configuration writes are limited to its scope (delegated only)."""
    if role_rule.is_platform(claims):
        return False
    wider = [r for r in role_rule.expand(claims.roles)
             if r != role_rule.DELEGATED_ADMIN and role_rule.allows([r], role_rule.CONFIG, "write")]
    return role_rule.DELEGATED_ADMIN in claims.roles and not wider


def _items(claims: Claims, kind: str) -> set[str]:
    return {item.partition(":")[2] for item in claims.scope if item.startswith(kind + ":")}


def _number(claims: Claims, number: str) -> bool:
    for item in _items(claims, "number"):
        if item.endswith("*") and number.startswith(item[:-1]) or item == number:
            return True
    return False


def user_in_scope(claims: Claims, user: Mapping[str, Any] | None) -> bool:
    if not user:
        return False
    allowed = _items(claims, "user")
    return str(user.get("id", "")) in allowed or str(user.get("username", "")) in allowed


def refusal(claims: Claims, resource: str, row: Mapping[str, Any] | None, body: Mapping[str, Any] | None,
            user_of: Any = None) -> str | None:
    """Why this delegated token may not write ``row`` (None: creating) into what ``body`` says;
    ``user_of(user_id)`` reads a user (for devices and group members)."""
    if not limited(claims):
        return None
    merged = {**(row or {}), **(body or {})}
    if resource == "users":
        ok = user_in_scope(claims, row) if row else str(merged.get("username", "")) in _items(claims, "user")
        return None if ok else OUT_OF_SCOPE
    if resource == "devices":
        owners = {str(merged.get("user_id", "")), str((row or {}).get("user_id", ""))} - {""}
        return None if owners and all(user_in_scope(claims, user_of(u)) for u in owners) else OUT_OF_SCOPE
    if resource == "ring_groups":
        groups = _items(claims, "group")
        ok = (str((row or {}).get("id", "")) in groups or str((row or {}).get("name", "")) in groups) if row \
            else str(merged.get("name", "")) in groups
        members = (body or {}).get("members") or []
        return None if ok and all(user_in_scope(claims, user_of(str(m))) for m in members) else OUT_OF_SCOPE
    if resource == "dids":
        numbers = {str(n) for n in (str((row or {}).get("number", "")), str((body or {}).get("number", ""))) if n}
        return None if numbers and all(_number(claims, n) for n in numbers) else OUT_OF_SCOPE
    return OUT_OF_SCOPE
