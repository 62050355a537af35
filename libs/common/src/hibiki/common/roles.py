"""The one role rule of every Hibiki API (ADM-02): who may do what to which resource of a tenant.

Roles (what a console user or a token is given), with the names used before them kept as aliases
so that existing tokens keep their meaning:

    platform-operator    (platform-admin)     every tenant (token tenant ``*``), everything
    tenant-admin         (admin)              everything in its tenant
    delegated-admin                           the directory's configuration, only the groups, users
                                              and numbers its ``scope`` names (the directory checks it)
    supervisor                                queues and agents (the ACD), live calls, reports, wallboard
    agent                                     its own agent desk (login, states, dispositions), its calls
    recording-admin                           recordings: search, play, download, delete, keys, their
                                              audit; the recording policy (REC-06: nothing else)
    auditor                                   reads its tenant: configuration, the audit trails, reports
    viewer                                    reads its tenant's configuration
    self-service                              a staff member's own page only: the devices, forwarding,
                                              voicemail and call history of the one directory user
                                              their console user is linked to (``Claims.directory_user``;
                                              the directory and analytics check it is theirs)
    (recording-viewer, wallboard: kept as they were: recordings' search/play, the wallboard)

Service tokens (``kind`` service) with tenant ``*`` may do everything, as before.
:data:`RULES` is the whole table; :func:`refusal` is the one check; ``Claims.refusal`` uses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from hibiki.common.auth import Claims

Action = Literal["read", "write"]

PLATFORM_OPERATOR = "platform-operator"
TENANT_ADMIN = "tenant-admin"
DELEGATED_ADMIN = "delegated-admin"
SUPERVISOR = "supervisor"
AGENT = "agent"
RECORDING_ADMIN = "recording-admin"
AUDITOR = "auditor"
VIEWER = "viewer"
SELF_SERVICE = "self-service"
ROLES = (PLATFORM_OPERATOR, TENANT_ADMIN, DELEGATED_ADMIN, SUPERVISOR, AGENT, RECORDING_ADMIN, AUDITOR, VIEWER,
         SELF_SERVICE)
LEGACY = ("platform-admin", "admin", "recording-viewer", "wallboard")

# A role and the names that mean the same (both are put in a token's claims, so a check written
# with either name sees it).
ALIASES: dict[str, tuple[str, ...]] = {
    PLATFORM_OPERATOR: ("platform-admin",), "platform-admin": (PLATFORM_OPERATOR,),
    TENANT_ADMIN: ("admin",), "admin": (TENANT_ADMIN,),
}

# Resources every service names in its checks, and who owns them.
CONFIG = "config"                     # directory: users, devices, numbers, groups, IVRs, schedules, ...
CONSOLE_USERS = "console-users"       # directory: console users, their roles and delegation, API tokens
AUDIT = "audit"                       # directory: the audit trail and its verification
RECORDING_POLICY = "recording-policy" # directory: what is recorded (REC-01)
ACD = "acd"                           # acd: queues, agents, skills, waiting calls (configuration and state)
AGENT_DESK = "agent-desk"             # acd: an agent's own desk (the ACD checks it is its own agent)
CALLS = "calls"                       # callcontrol: acting on a live call (recording on demand)
SUPERVISION = "supervision"           # callcontrol: listening in on an agent's call (listen, whisper, barge)
PROMPTS = "prompts"                   # callcontrol: the tenant's prompts
RECORDINGS = "recordings"             # recording: search, play, download (read); delete, keys (write)
RECORDING_AUDIT = "recording-audit"   # recording: who listened to what
REPORTS = "reports"                   # analytics: reports, planning, everyone's call history, SLA targets
WALLBOARD = "wallboard"               # analytics: the wallboard
OWN_PAGE = "own-page"                 # directory: a user's own page (devices, forwarding, voicemail); a
                                      # role with configuration rights there reaches every user's (a
                                      # delegated admin's writes: its scope), self-service only its own
RESOURCES = (CONFIG, CONSOLE_USERS, AUDIT, RECORDING_POLICY, ACD, AGENT_DESK, CALLS, SUPERVISION, PROMPTS, RECORDINGS,
             RECORDING_AUDIT, REPORTS, WALLBOARD, OWN_PAGE)
# REC-06: recordings are kept from the configuration administrators: a tenant's admin and the
# platform operators get nothing here (service tokens still do: the pipeline, retention).
SEPARATED = frozenset({RECORDINGS, RECORDING_AUDIT})

R: frozenset[Action] = frozenset({"read"})
RW: frozenset[Action] = frozenset({"read", "write"})
RULES: dict[str, dict[str, frozenset[Action]]] = {
    TENANT_ADMIN: {CONFIG: RW, CONSOLE_USERS: RW, AUDIT: R, RECORDING_POLICY: R, ACD: RW, AGENT_DESK: RW,
                   CALLS: RW, SUPERVISION: RW, PROMPTS: RW, REPORTS: RW, WALLBOARD: R, OWN_PAGE: RW},
    DELEGATED_ADMIN: {CONFIG: RW, CONSOLE_USERS: R, OWN_PAGE: RW},
    SUPERVISOR: {ACD: RW, AGENT_DESK: RW, CALLS: RW, SUPERVISION: RW, REPORTS: R, WALLBOARD: R},
    AGENT: {AGENT_DESK: RW, CALLS: RW},
    RECORDING_ADMIN: {RECORDING_POLICY: RW, RECORDINGS: RW, RECORDING_AUDIT: R, CALLS: RW},
    AUDITOR: {CONFIG: R, CONSOLE_USERS: R, AUDIT: R, RECORDING_POLICY: R, ACD: R, PROMPTS: R, REPORTS: R,
              RECORDING_AUDIT: R, OWN_PAGE: R},
    VIEWER: {CONFIG: R, RECORDING_POLICY: R, ACD: R, PROMPTS: R, OWN_PAGE: R},
    SELF_SERVICE: {OWN_PAGE: RW},
    "recording-viewer": {RECORDINGS: R},
    "wallboard": {WALLBOARD: R},
}


def expand(roles: Iterable[str]) -> tuple[str, ...]:
    """The roles with their aliases, in order, without repeats."""
    out: list[str] = []
    for role in roles:
        for name in (role, *ALIASES.get(role, ())):
            if name not in out:
                out.append(name)
    return tuple(out)


def is_platform(claims: Claims) -> bool:
    return claims.tenant == "*" and (claims.kind == "service" or PLATFORM_OPERATOR in expand(claims.roles))


def allows(roles: Iterable[str], resource: str, action: Action) -> bool:
    return any(action in RULES.get(role, {}).get(resource, frozenset()) for role in expand(roles))


def own_page_refusal(claims: Claims, tenant: str, user_id: str, action: Action) -> str | None:
    """Why ``claims`` may not ``action`` the own page of directory user ``user_id`` (devices,
    forwarding, voicemail, call history); None when it may. Whoever the rule lets read (write)
    the configuration reaches every user's; a self-service token only the user it is linked to."""
    why = refusal(claims, tenant, OWN_PAGE, action)
    if why is not None:
        return why
    if refusal(claims, tenant, CONFIG, action) is None:
        return None
    if claims.directory_user and claims.directory_user == user_id:
        return None
    return "a user's own page is theirs only"


def refusal(claims: Claims, tenant: str, resource: str, action: Action) -> str | None:
    """Why ``claims`` may not do ``action`` on ``resource`` of ``tenant``; None when it may."""
    if claims.tenant == "*" and claims.kind == "service":
        return None
    if is_platform(claims):
        return "recordings are not for platform operators (REC-06)" if resource in SEPARATED else None
    if not claims.may_act_for(tenant):
        return "this token may not act for this tenant"
    if allows(claims.roles, resource, action):
        return None
    return "this token's roles do not allow this"
