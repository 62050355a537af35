"""Who may run which operation on a tenant's ACD: the admin API's rule (``Claims.refusal``)
applied per operation, the same over gRPC (every AcdService method), HTTP and forwarding
between replicas (the owner checks the forwarded caller's token again).

    operation                                              write  an agent token on itself
    enqueue, cancel, report_offer, end_call, call_gone,    yes    no  (callcontrol: a service)
    remove_queue, remove_agent, sync
    login, logout, set_state, save_disposition             yes    yes
    agent                                                  no     yes (by its own id only)
    queue_stats, call, stream_assignments, overview        no     no

Writes: service tokens for every tenant, platform admins, the tenant's ``admin``. Reads: also
its ``viewer``. A user token with the role ``agent`` of the tenant whose subject is the agent
id may run the agent-desktop operations for that agent only. Anything else is refused; an
unknown operation is a write no agent may run.
"""

from __future__ import annotations

from typing import Any

from hibiki.common import roles as role_rule
from hibiki.common.auth import Claims

AGENT_SELF = frozenset({"login", "logout", "set_state", "save_disposition", "agent"})
READS = frozenset({"agent", "queue_stats", "call", "stream_assignments", "overview"})


def refusal(claims: Claims, tenant: str, op: str, args: dict[str, Any]) -> str | None:
    """Why ``claims`` may not run ``op`` with ``args`` on ``tenant``; None when it may."""
    write = op not in READS
    refused = claims.refusal(tenant, write, role_rule.ACD)
    if refused is None:
        return None
    desk = op in AGENT_SELF and claims.refusal(tenant, write, role_rule.AGENT_DESK) is None
    if desk and claims.kind == "user" and claims.tenant != "*" and args.get("agent_id") == claims.subject:
        return None
    if desk:
        return "an agent token acts only on its own agent"
    return refused
