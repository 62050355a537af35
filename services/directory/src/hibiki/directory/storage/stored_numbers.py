"""Representative and direct numbers stored as typed, before they were normalized like DIDs.

Until issue 11 a tenant's ``representative_number`` and a user's ``direct_number`` were kept
as typed (``046-251-1111``) and sent to the carrier so. Two guards, no schema change:
:func:`normalize_stored` rewrites them when the store opens (idempotent, every start), and
:func:`caller_id` is what the view keeps of a value: normalized, or none (logged) when it
cannot be a caller ID, so FreeSWITCH never gets a malformed one.
"""

from __future__ import annotations

import structlog
from sqlalchemy import Connection, select, update

from hibiki.directory.numbers import InvalidNumber, did_number
from hibiki.directory.storage.tables import tenants, users

log = structlog.get_logger("hibiki.directory.numbers")
STORED = ((tenants, "representative_number"), (users, "direct_number"))


def caller_id(value: str, tenant: str, field: str) -> str:
    """The stored number as the view keeps it: normalized, or "" when it cannot be one."""
    if not value:
        return ""
    try:
        return did_number(value)
    except InvalidNumber as exc:
        log.warning("stored number is not a caller ID: not sent", tenant=tenant, field=field, reason=str(exc))
        return ""


def normalize_stored(conn: Connection) -> int:
    """Rewrite every stored representative or direct number to its normalized form; how many changed."""
    changed = 0
    for table, field in STORED:
        column = table.c[field]
        for row in conn.execute(select(table.c.id, column).where(column != "")).mappings().all():
            fixed = _normalized(row[field])
            if fixed is not None and fixed != row[field]:
                conn.execute(update(table).where(table.c.id == row["id"]).values({field: fixed}))
                changed += 1
    return changed


def _normalized(value: str) -> str | None:
    try:
        return did_number(value)
    except InvalidNumber:
        return None   # left as typed for an administrator to correct; caller_id() keeps it out of calls
