"""Who may read a tenant's reports, call history and planning.

    service token or platform-admin (tenant "*")    everything
    the tenant's admin or supervisor                 reports, planning, every user's history;
                                                     SLA targets (changed by admin only)
    any other user token of the tenant               their own call history only (the directory user
                                                     the token is linked to, ``duser``: a console
                                                     user's; else the token's subject as calls record
                                                     it), except a wall display's (role ``wallboard``)
Everything else is refused (403).
"""

from __future__ import annotations

from hibiki.common import roles as role_rule
from hibiki.common.auth import Claims

READERS = ("admin", "supervisor")
DISPLAY = "wallboard"      # a wall display's long-lived token: the wallboard, nothing else


def everything(claims: Claims) -> bool:
    return claims.tenant == "*" and (claims.kind == "service" or "platform-admin" in claims.roles)


def report_refusal(claims: Claims, tenant: str, write: bool = False) -> str | None:
    """None when ``claims`` may read (``write``: change) the tenant's reports and settings."""
    if claims.tenant != tenant and not everything(claims):
        return "this token may not act for this tenant"
    if claims.refusal(tenant, write, role_rule.REPORTS) is None:     # the one role rule
        return None
    return "reports are for the tenant's supervisors and admins" if not write else \
        "only the tenant's admin may change this"


def history_user(claims: Claims, tenant: str, asked: str | None) -> tuple[str | None, str | None]:
    """(the user whose history to read, or None for everyone's; refusal or None)."""
    if report_refusal(claims, tenant) is None:
        return asked, None
    if claims.tenant != tenant or claims.kind != "user":
        return None, "this token may not act for this tenant"
    if DISPLAY in claims.roles:
        return None, "a wall display's token reads the wallboard only"
    own = claims.directory_user or claims.subject
    if role_rule.SELF_SERVICE in claims.roles and not claims.directory_user:
        return None, "a self-service token reads the history of its linked user only"
    if asked is not None and asked != own:
        return None, "a user reads only their own call history"
    return own, None
