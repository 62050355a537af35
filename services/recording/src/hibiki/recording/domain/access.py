"""Who may do what with a tenant's recordings (REC-04, REC-06).

    action          recording-admin  recording-viewer  admin / viewer / agent  service token (*)
    search, play,   yes              yes               no                      yes
    download
    delete, audit,  yes              no                no                      yes
    rotate-key

The recording roles are separate from the configuration roles: a tenant's ``admin`` (the
configuration administrator) and the platform administrator are refused here, and a
``recording-admin`` token is refused by the directory's and the ACD's APIs (they want ``admin``).
A user token acts only for its own tenant.
"""

from __future__ import annotations

from hibiki.common.auth import Claims

RECORDING_ADMIN = "recording-admin"
RECORDING_VIEWER = "recording-viewer"
READ_ACTIONS = frozenset({"search", "play", "download", "show"})
ADMIN_ACTIONS = frozenset({"delete", "audit", "rotate-key"})


def refusal(claims: Claims, tenant: str, action: str) -> str | None:
    """Why ``claims`` may not do ``action`` on ``tenant``'s recordings; None when it may."""
    if action not in READ_ACTIONS | ADMIN_ACTIONS:
        return f"unknown action {action!r}"
    if claims.kind == "service" and claims.tenant == "*":
        return None
    if claims.tenant != tenant:
        return "this token may not act for this tenant"
    if RECORDING_ADMIN in claims.roles:
        return None
    if action in READ_ACTIONS and RECORDING_VIEWER in claims.roles:
        return None
    return f"recordings need the {RECORDING_ADMIN} role" + ("" if action in ADMIN_ACTIONS else f" or {RECORDING_VIEWER}")
