"""Dialplan answers (``section=dialplan``) for calls between a tenant's users.

The tenant of a call placed by one of our users is the ``hibiki_tenant`` variable the
directory put on the channel at authentication (FreeSWITCH sends it back as
``variable_hibiki_tenant``); nothing a caller sends can set it. Plain PBX calls use
FreeSWITCH's own applications, no controller hop:

- an extension: ``bridge user/<ext>@<domain>`` (every device of the user rings), then, when
  nobody answers or the user is busy, the user's voicemail as the last stop (PBX-02, PBX-10);
- ``*97`` the caller's own mailbox, ``*98`` any mailbox (asks for it);
- a number nobody has: the caller hears that the number does not exist and the call ends
  with UNALLOCATED_NUMBER (SIP 404) instead of falling through to another route.

A number outside (PBX-05, PBX-12): the caller's class of service decides (emergency numbers
always pass); a refused call hears why and ends with OUTGOING_CALL_BARRED (SIP 403); an
allowed one goes to the tenant's carrier gateway presenting the representative or the
user's direct-in number (per user, or per call with ``*81``/``*82``; ``184`` withholds it).

A call from outside (a carrier, context ``public``) is routed by the number it was made to
(a DID, unique on the platform) through that number's schedule (PBX-01, PBX-16).
"""

from __future__ import annotations

from datetime import datetime

from hibiki.directory import documents
from hibiki.directory.documents import attr
from hibiki.directory.numbers import InvalidNumber, NumberKind, classify, is_allowed, restriction_class
from hibiki.directory.view import DidEntry, TenantView, UserEntry
from hibiki.directory.xmlcurl import FsRequest

RING_SECONDS = 30
UNALLOCATED_PROMPT = "ivr/ivr-that_was_an_invalid_entry.wav"
RESTRICTED_PROMPT = "ivr/ivr-call_cannot_be_completed_as_dialed.wav"
FAILED_PROMPT = "ivr/ivr-call_cannot_be_completed_as_dialed.wav"
# Per-call caller ID: *81<number> presents the direct-in number, *82<number> the representative one.
CALLER_ID_PREFIXES = {"*81": "direct", "*82": "representative"}
NOT_OUTBOUND = frozenset({NumberKind.EXTENSION, NumberKind.FEATURE_CODE, NumberKind.UNKNOWN, NumberKind.INVALID})


def _action(app: str, data: str = "") -> str:
    return f"<action application={attr(app)} data={attr(data)}/>" if data else f"<action application={attr(app)}/>"


def _extension(name: str, destination: str, actions: list[str]) -> str:
    expression = "^" + "".join(f"\\{c}" if c in "*#+" else c for c in destination) + "$"
    return (f"<extension name={attr(name)}><condition field=\"destination_number\" expression={attr(expression)}>"
            f"{''.join(actions)}</condition></extension>")


def call_user(tenant: TenantView, user: UserEntry, destination: str, prelude: list[str] | None = None) -> str:
    ring = [*(prelude or []),
        _action("set", f"hibiki_callee={user.id}"),
        _action("set", f"call_timeout={RING_SECONDS}"),
        _action("set", "continue_on_fail=true"),
        _action("set", "hangup_after_bridge=true"),
        _action("bridge", f"user/{user.extension or user.username}@{tenant.domain}"),
    ]
    if user.voicemail_enabled and user.extension:
        ring += [_action("answer"), _action("voicemail", f"default {tenant.domain} {user.extension}")]
    else:
        ring += [_action("hangup", "NO_ANSWER")]
    return _extension("hibiki-internal", destination, ring)


def feature_code(tenant: TenantView, caller: UserEntry | None, destination: str) -> str | None:
    if destination == "*97" and caller is not None and caller.extension:
        return _extension("hibiki-voicemail-own", destination, [
            _action("answer"), _action("voicemail", f"check default {tenant.domain} {caller.extension}")])
    if destination == "*98":
        return _extension("hibiki-voicemail-any", destination, [
            _action("answer"), _action("voicemail", f"check default {tenant.domain}")])
    return None


def outbound(tenant: TenantView, caller: UserEntry, destination: str) -> str | None:
    """A call to the public network: the class-of-service check, the caller ID, the carrier."""
    policy, number = caller.caller_id_policy, destination
    for prefix, chosen in CALLER_ID_PREFIXES.items():
        if destination.startswith(prefix) and len(destination) > len(prefix):
            policy, number = chosen, destination[len(prefix):]
    try:
        info = classify(number)
    except InvalidNumber:
        return None
    if info.kind in NOT_OUTBOUND:
        return None
    outbound_class = restriction_class(info)
    if not is_allowed(info, caller.outbound_classes):
        return _extension("hibiki-outbound-restricted", destination, [
            _action("set", f"hibiki_outbound_class={outbound_class}"),
            _action("log", f"NOTICE outbound call to {outbound_class} number refused by class of service"),
            _action("pre_answer"), _action("playback", RESTRICTED_PROMPT), _action("hangup", "OUTGOING_CALL_BARRED")])
    if not tenant.outbound_gateway:
        return _extension("hibiki-outbound-unconfigured", destination, [
            _action("log", "ERR no outbound gateway is configured for this tenant"),
            _action("pre_answer"), _action("playback", FAILED_PROMPT), _action("hangup", "NORMAL_TEMPORARY_FAILURE")])
    caller_id = caller.direct_number if policy == "direct" and caller.direct_number else tenant.representative_number
    actions = [_action("set", f"hibiki_outbound_class={outbound_class}")]
    if caller_id:
        actions.append(_action("set", f"effective_caller_id_number={caller_id}"))
    if info.caller_id == "withhold":
        actions.append(_action("privacy", "full"))
    actions += [
        _action("set", "call_timeout=60"), _action("set", "continue_on_fail=true"),
        _action("set", "hangup_after_bridge=true"),
        _action("bridge", f"sofia/gateway/{tenant.outbound_gateway}/{info.destination}"),
        _action("playback", FAILED_PROMPT), _action("hangup", "NORMAL_TEMPORARY_FAILURE"),
    ]
    return _extension("hibiki-outbound", destination, actions)


def unallocated(destination: str) -> str:
    return _extension("hibiki-unallocated", destination, [
        _action("answer"), _action("playback", UNALLOCATED_PROMPT), _action("hangup", "UNALLOCATED_NUMBER")])


def answer_did(request: FsRequest, tenant: TenantView, did: DidEntry, at: datetime) -> str:
    """An inbound call on one of the tenant's numbers, routed by the number's schedule."""
    destination = request.get("Caller-Destination-Number")
    context = request.get("Caller-Context") or "public"
    route, branch = did.route_at(at)
    prelude = [_action("set", f"hibiki_tenant={tenant.tenant_id}"), _action("set", f"hibiki_did={did.number}"),
               _action("set", f"hibiki_branch={branch}")]
    user = tenant.users.get(route.target)
    if route.kind == "user" and user is not None:
        extension = call_user(tenant, user, destination, prelude)
    elif route.kind == "voicemail" and user is not None and user.extension:
        extension = _extension("hibiki-did-voicemail", destination, [
            *prelude, _action("answer"), _action("voicemail", f"default {tenant.domain} {user.extension}")])
    elif route.kind == "announcement":
        extension = _extension("hibiki-did-announcement", destination, [
            *prelude, _action("answer"), _action("playback", route.target), _action("hangup", "NORMAL_CLEARING")])
    else:  # the target went away: say so rather than leave the caller in silence
        extension = _extension("hibiki-did-broken", destination, [
            *prelude, _action("log", f"ERR DID {did.number} routes to a missing {route.kind} {route.target}"),
            _action("answer"), _action("playback", UNALLOCATED_PROMPT), _action("hangup", "NORMAL_TEMPORARY_FAILURE")])
    return documents.dialplan(context, [extension])


def answer_internal(request: FsRequest, tenant: TenantView) -> str:
    """The dialplan document for a call placed by a user of ``tenant``."""
    destination = request.get("Caller-Destination-Number")
    context = request.get("Caller-Context") or "default"
    caller = tenant.users.get(request.get("variable_hibiki_user"))
    callee = tenant.extensions.get(destination)
    if callee is not None:
        extension = call_user(tenant, tenant.users[callee], destination)
    else:
        extension = (feature_code(tenant, caller, destination)
                     or (outbound(tenant, caller, destination) if caller is not None else None)
                     or unallocated(destination))
    return documents.dialplan(context, [extension])
