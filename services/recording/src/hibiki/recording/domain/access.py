"""Who may do what with a tenant's recordings (REC-04, REC-06).

    action          recording-admin  recording-viewer  admin / viewer / agent  service token (*)
    search, play,   yes              yes               no                      yes
    download
    delete, audit,  yes              no                no                      yes
    rotate-key
    scores (forms,  yes              yes               no                      yes
    evaluations)
    evaluate        yes              with supervisor   no                      yes
    forms           yes              no                no                      yes
    audit           (also the tenant's ``auditor``: the audit trail and its export, nothing else)

Scoring a recording (REC-05) is a supervisor's work: a ``supervisor`` who also holds
``recording-viewer`` (to listen) may score; the form itself is the recording administrator's.

The recording roles are separate from the configuration roles: a tenant's ``admin`` (the
configuration administrator) and the platform administrator are refused here, and a
``recording-admin`` token is refused by the directory's and the ACD's APIs (they want ``admin``).
A user token acts only for its own tenant.
"""

from __future__ import annotations

from hibiki.common import roles as role_rule
from hibiki.common.auth import Claims

RECORDING_ADMIN = "recording-admin"
RECORDING_VIEWER = "recording-viewer"
SUPERVISOR = "supervisor"
AUDITOR = "auditor"
READ_ACTIONS = frozenset({"search", "play", "download", "show", "scores"})
ADMIN_ACTIONS = frozenset({"delete", "audit", "rotate-key", "forms", "evaluate"})


def refusal(claims: Claims, tenant: str, action: str) -> str | None:
    """Why ``claims`` may not do ``action`` on ``tenant``'s recordings; None when it may
    (the one role rule, ``hibiki.common.roles``: resources ``recordings`` and ``recording-audit``)."""
    if action not in READ_ACTIONS | ADMIN_ACTIONS:
        return f"unknown action {action!r}"
    if claims.tenant != tenant and not (claims.kind == "service" and claims.tenant == "*"):
        return "this token may not act for this tenant"
    resource = role_rule.RECORDING_AUDIT if action == "audit" else role_rule.RECORDINGS
    why = role_rule.refusal(claims, tenant, resource, "read" if action in READ_ACTIONS | {"audit"} else "write")
    if why is None:
        return None
    if action == "evaluate" and {RECORDING_VIEWER, SUPERVISOR} <= set(claims.roles):
        return None
    if action == "audit" and AUDITOR in claims.roles:
        return None
    if action == "evaluate":
        return f"scoring needs the {RECORDING_ADMIN} role, or {SUPERVISOR} with {RECORDING_VIEWER}"
    return f"recordings need the {RECORDING_ADMIN} role" + ("" if action in ADMIN_ACTIONS else f" or {RECORDING_VIEWER}")
