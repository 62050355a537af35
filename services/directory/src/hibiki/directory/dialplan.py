"""Dialplan answers (``section=dialplan``): every call of a tenant, as FreeSWITCH actions.

The tenant of a call placed by one of our users is the ``hibiki_tenant`` variable the
directory put on the channel at authentication (FreeSWITCH sends it back as
``variable_hibiki_tenant``); nothing a caller sends can set it. Plain PBX calls use
FreeSWITCH's own applications, no controller hop:

- an extension: ``bridge user/<ext>@<domain>`` rings every device of the user (PBX-02, PBX-03);
  forwarding always, on busy, on no answer after N seconds and when not registered
  (PBX-09) to an extension, a group or an outside number; the user's voicemail is the last
  stop (PBX-10); a blind transfer nobody answers comes back to the transferring user (PBX-07).
  Every bridge to a user marks both legs with the user on the other one (``hibiki_peer_user``:
  set on this channel, ``export nolocal:`` to the user's leg, see :data:`PEER`); a channel that
  comes back into the dialplan for an extension was transferred by that peer, which is kept as
  ``hibiki_transferor`` and rung again when the transfer is not answered. No SIP header decides
  it: a phone's Referred-By names whoever the phone likes.
  After a failed bridge the call is transferred to
  ``hibiki_fwd_<user id>_${originate_disposition}``, which this module answers with the
  forward for that outcome (at most three forwards in a row, then voicemail);
- a ring group: all members at once (``,``) or in turn (``|`` with ``leg_timeout``), then
  the group's no-answer route (PBX-06);
- ``*97`` the caller's own mailbox, ``*98`` any mailbox; ``*8`` answers a call ringing in the
  caller's pickup group, ``**<ext>`` the call ringing at that extension (PBX-08); ``*70``
  parks the call on a free slot of the caller's park lot, ``*71N`` picks slot N up (PBX-11);
- IVRs and queues: ``socket <callcontrol> async full`` followed by a fallback route;
  FreeSWITCH's ``socket`` has no timeout of its own, so a transfer to
  ``hibiki_handoff_missed`` is scheduled first (``sched_transfer +HANDOFF_SECONDS``, its
  task id in FreeSWITCH's ``last_sched_id``, the application in ``hibiki_handoff``): callcontrol
  cancels it (``sched_del``) once it has taken the call; if it does not within that time
  the transfer ends ``socket`` (even before ``connect``: CF_TRANSFER ends its wait) and
  ``hibiki_handoff_missed`` answers the same fallback route; when ``socket`` returns the
  dialplan cancels it itself (``sched_cancel``: the channel's scheduled tasks, of which this is
  the only one);
- agent codes (CC-02, CC-03), for a user of the tenant: ``*50<agent id>`` logs the agent in
  on this phone, ready; ``*59`` logs out; ``*51`` ready; ``*52`` not ready; ``*53<reason>``
  break with a reason code (``*53`` alone: without one); ``*55<case type>`` saves the case type
  of the agent's last call, which ends after-call work. Ids and codes are digits only (anything
  else is no feature code). They go to callcontrol like IVRs, with
  ``hibiki_app=agent:<login|logout|ready|not_ready|break|disposition>:<digits>`` and the phone
  as ``hibiki_agent_device`` (the caller's extension, else username); the fallback answers,
  plays the refusal tone and hangs up;
- a number outside (PBX-05, PBX-12): the caller's class of service decides (emergency numbers
  always pass); a refused call hears why and ends with OUTGOING_CALL_BARRED (SIP 403); an
  allowed one goes to the tenant's carrier gateway presenting the representative or the
  user's direct-in number (per user, or per call with ``*81``/``*82``; ``184`` withholds it);
- a number nobody has: an announcement and UNALLOCATED_NUMBER (SIP 404), never a fall-through.

Every answer starts with ``hibiki-call`` (``continue="true"``), which marks the call for its
records (callcontrol's ``CallEnded`` per leg): ``hibiki_call_id`` (the originating channel's
``${uuid}``) and ``hibiki_direction`` are exported to every leg the channel bridges, set once
and kept (re-exported) when the channel is routed again (a transfer, a forward, a branch of the
IVR); ``hibiki_tenant`` and a DID call's ``hibiki_did`` are exported too, so a carrier leg carries
them. A refusal of ours sets ``hibiki_refused`` (its reason).

A call from outside (a carrier, context ``public``) is routed by the number it was made to
(a DID, unique on the platform) through that number's schedule (PBX-01, PBX-16).
"""

from __future__ import annotations

import re
from datetime import datetime

from hibiki.common import dialstring
from hibiki.directory import documents, recording
from hibiki.directory.documents import attr
from hibiki.directory.features import REFUSE_TONE, agent_code
from hibiki.directory.numbers import InvalidNumber, NumberKind, classify, is_allowed, restriction_class
from hibiki.directory.sounds import (
    APOLOGY_PROMPT,
    FAILED_PROMPT,
    RESTRICTED_PROMPT,
    UNALLOCATED_PROMPT,
    channel_language,
)
from hibiki.directory.view import DidEntry, RingGroupEntry, Route, TenantView, UserEntry
from hibiki.directory.xmlcurl import FsRequest
from hibiki.common.digits import ascii_digits

RING_SECONDS = 30
MAX_FORWARDS = 3
PARK_SLOTS = 9          # *70 parks in the first free slot 1-9 of the caller's lot, *71N picks slot N up
# Per-call caller ID: *81<number> presents the direct-in number, *82<number> the representative one.
CALLER_ID_PREFIXES = {"*81": "direct", "*82": "representative"}
NOT_OUTBOUND = frozenset({NumberKind.EXTENSION, NumberKind.FEATURE_CODE, NumberKind.UNKNOWN, NumberKind.INVALID})
FORWARD = re.compile(r"^hibiki_fwd_([0-9a-f-]{36})_([A-Z_]*)$")
# Where callcontrol's IVR sends a call that leaves it (transfer <this> XML <context>): the
# routing stays here. Extensions are transferred as themselves.
IVR_ROUTE = re.compile(r"^hibiki_route_(ring_group|voicemail|external)_([A-Za-z0-9_+-]{1,64})$")
# ... honoured only on a channel callcontrol handed back: its hibiki_route_grant (a channel
# variable callcontrol sets before the transfer, which no caller can set) names that destination.
ROUTE_GRANT = "variable_hibiki_route_grant"
# callcontrol has this long to take a call handed to it before the fallback route takes it.
HANDOFF_SECONDS = 5
HANDOFF_MISSED = "hibiki_handoff_missed"
# Blind transfer with recall (PBX-07). ``hibiki_peer_user``: the id of our user on the other leg of
# the channel's bridge (set by this dialplan only, never by a phone: SIP headers become sip_h_*).
# ``hibiki_transferor``: copied from it when the channel is sent to an extension again (a REFER
# transfers the transferor's peer), read back (and checked: a user of the call's tenant) when
# that extension did not answer.
PEER = "hibiki_peer_user"
TRANSFEROR = "hibiki_transferor"

# 184: what the carrier sees in From instead of the caller (RFC 3323); FreeSWITCH's privacy(full)
# alone keeps the number in From when the gateway has caller-id-in-from.
ANONYMOUS_URI = "sip:anonymous@anonymous.invalid"

# An IVR forwarding to an outside number: the tenant's representative number, no premium or
# international destinations (the IVR's author chose the number; callers only pick a branch).
IVR_CALLER = UserEntry(id="ivr", username="ivr",
                       outbound_classes=frozenset({"domestic", "mobile", "free", "ip", "navi"}))
FORWARD_ON = {"USER_BUSY": "forward_busy", "NO_ANSWER": "forward_no_answer", "NO_USER_RESPONSE": "forward_no_answer",
              "ALLOTTED_TIMEOUT": "forward_no_answer", "USER_NOT_REGISTERED": "forward_unregistered",
              "SUBSCRIBER_ABSENT": "forward_unregistered"}
Actions = list[str]


def _action(app: str, data: str = "") -> str:
    return f"<action application={attr(app)} data={attr(data)}/>" if data else f"<action application={attr(app)}/>"


def call_marks(direction: str, tenant: str) -> str:
    """The ``hibiki-call`` extension (see the module's docstring); ``direction`` is what a call
    that has none yet becomes: inbound, outbound or internal."""
    def export(tag: str, name: str, value: str) -> str:
        return f"<{tag} application=\"export\" data={attr(f'{name}={value}')}/>"
    marks = [f'<condition field="${{{name}}}" expression="^$" break="never">{export("action", name, first)}'
             f'{export("anti-action", name, f"${{{name}}}")}</condition>'
             for name, first in (("hibiki_call_id", "${uuid}"), ("hibiki_direction", dialstring.token(direction)))]
    marks.append(f'<condition field="${{hibiki_tenant}}" expression="^">'
                 f'{export("action", "hibiki_tenant", dialstring.token(tenant))}'
                 '</condition>')
    return f'<extension name="hibiki-call" continue="true">{"".join(marks)}</extension>'


def _extension(name: str, destination: str, actions: Actions) -> str:
    expression = "^" + re.escape(destination) + "$"
    return (f"<extension name={attr(name)}><condition field=\"destination_number\" expression={attr(expression)}>"
            f"{''.join(actions)}</condition></extension>")


class Plan:
    """Actions for one call of one tenant, in the context FreeSWITCH asked about."""

    def __init__(self, tenant: TenantView, context: str, hops: int = 0, callcontrol: str = "127.0.0.1:8084") -> None:
        self.tenant, self.context, self.hops, self.callcontrol = tenant, context, hops, callcontrol

    def _next(self) -> Plan:
        return Plan(self.tenant, self.context, self.hops + 1, self.callcontrol)

    def user(self, user: UserEntry) -> Actions:
        if user.forward_always and self.hops < MAX_FORWARDS:
            forwarded = self.forward(user, user.forward_always)
            if forwarded is not None:
                return forwarded
        seconds = user.forward_no_answer_seconds if user.forward_no_answer else RING_SECONDS
        dial = dialstring.user_leg(user.extension or user.username, self.tenant.domain)
        actions = [_action("set", f"hibiki_callee={user.id}"), _action("set", f"{PEER}={dialstring.token(user.id)}"),
                   _action("export", f"nolocal:{PEER}=${{hibiki_user}}"),   # the callee's leg: the caller, if ours
                   _action("set", f"call_timeout={seconds}"),
                   _action("set", "continue_on_fail=true"), _action("set", "hangup_after_bridge=true")]
        if user.extension:  # directed pickup (**<ext>) finds the ringing call here (mod_hash)
            actions.append(_action("hash", f"insert/{self.tenant.domain}-last_dial_ext/{user.extension}/${{uuid}}"))
        if user.pickup_group:  # group pickup (*8): mod_dptools' pickup endpoint rings along
            dial = dialstring.at_once([*self.device_legs(user),
                                       f"pickup/{dialstring.token(user.pickup_group)}@{self.tenant.domain}"])
        return actions + [
            _action("bridge", dial),
            _action("transfer", f"hibiki_fwd_{user.id}_${{originate_disposition}} XML {self.context}"),
        ]

    def after_user(self, user: UserEntry, disposition: str, transferor: UserEntry | None = None) -> Actions:
        """What follows a bridge to ``user`` that ended with ``disposition``: a blind transfer
        nobody answered rings the transferring user again (PBX-07), else the user's forwards,
        else voicemail."""
        if transferor is not None and transferor.id != user.id and disposition in FORWARD_ON:
            return [_action("unset", TRANSFEROR), _action("set", f"hibiki_recalled_from={user.id}"),
                    *self._next().user(transferor)]
        target = getattr(user, FORWARD_ON.get(disposition, ""), "") if disposition in FORWARD_ON else ""
        if target and self.hops < MAX_FORWARDS:
            forwarded = self.forward(user, target)
            if forwarded is not None:
                return forwarded
        return self.voicemail(user, disposition or "NO_ANSWER")

    def forward(self, user: UserEntry, target: str) -> Actions | None:
        hop = [_action("set", f"hibiki_forward_hops={self.hops + 1}"), _action("set", f"hibiki_forwarded_by={user.id}")]
        onward = self._next()
        if target in self.tenant.extensions:
            return hop + onward.user(self.tenant.users[self.tenant.extensions[target]])
        if target in self.tenant.group_extensions:
            return hop + onward.group(self.tenant.ring_groups[self.tenant.group_extensions[target]])
        outside = self.outbound(user, target)
        return hop + outside if outside is not None else None

    def voicemail(self, user: UserEntry, cause: str = "NO_ANSWER") -> Actions:
        if user.voicemail_enabled and user.extension:
            return [_action("answer"), _action("voicemail", f"default {self.tenant.domain} {user.extension}")]
        return [_action("hangup", cause)]

    def device_legs(self, user: UserEntry, leg_vars: str = "") -> list[str]:
        """One leg per device of ``user``, for a bridge of several legs.

        ``user/<ext>@<domain>`` would ring every device only when it is the bridge's one leg:
        in a forked dial FreeSWITCH originates it with SOF_NOBLOCK and calls just the first
        element of the user's dial-string ("Only calling the first element in the list in
        this mode", switch_ivr_originate.c). So a multi-leg bridge names the devices' contacts."""
        domain, who = dialstring.domain(self.tenant.domain), dialstring.device(user.extension or user.username)
        prefix = (f"[{leg_vars + ',' if leg_vars else ''}sip_invite_domain={domain},presence_id={who}@{domain},"
                  f"hibiki_user={dialstring.token(user.id)}]")
        if not user.devices:
            return [prefix + "error/user_not_registered"]
        return [prefix + dialstring.contact_leg(device, domain) for device in user.devices]

    def group(self, group: RingGroupEntry) -> Actions:
        members = [self.tenant.users[m] for m in group.members if m in self.tenant.users]
        actions = [_action("set", f"hibiki_ring_group={group.id}"), _action("set", "continue_on_fail=true"),
                   _action("set", "hangup_after_bridge=true")]
        if group.strategy == "sequential":   # one member after the other, all of a member's devices at once
            dial = "|".join(",".join(self.device_legs(u, f"leg_timeout={group.ring_seconds}")) for u in members)
        else:
            actions.append(_action("set", f"call_timeout={group.ring_seconds}"))
            dial = ",".join(leg for u in members for leg in self.device_legs(u))
        if dial:
            actions.append(_action("bridge", dial))
        return actions + (self.route(group.no_answer) if group.no_answer else [_action("hangup", "NO_ANSWER")])

    def controller(self, route: Route, fallback: Route | None) -> Actions:
        """IVRs and queues run in callcontrol; if it is gone (or hands the call back, or does
        not take it in time), the caller hears an apology and the call goes on with the number's
        fallback route (its closed-hours target), or hears the failure message: never silence (CC-11)."""
        # hibiki_config_version: the tenant version routed with; callcontrol serves no kept IVR older
        return self._to_callcontrol(f"{route.kind}:{route.target}", hibiki_config_version=str(self.tenant.version)) \
            + self.controller_fallback(fallback)

    def controller_fallback(self, fallback: Route | None) -> Actions:
        if fallback is not None and fallback.kind not in ("ivr", "queue"):
            return [_action("answer"), _action("playback", APOLOGY_PROMPT)] + self.route(fallback)
        return [_action("answer"), _action("playback", FAILED_PROMPT), _action("hangup", "NORMAL_TEMPORARY_FAILURE")]

    def handoff_missed(self, app: str, did: str) -> Actions:
        """The scheduled transfer fired: callcontrol did not take the call handed to ``app``
        in time. The fallback that followed ``socket``: the agent codes' refusal tone, or the
        number's own fallback route (``did``: the DID the call came in on)."""
        actions = [_action("log", f"WARNING callcontrol did not take the call ({app}) within "
                                  f"{HANDOFF_SECONDS} s: fallback route"), _action("unset", "hibiki_handoff")]
        if app.startswith("agent:"):
            return actions + [_action("answer"), _action("playback", REFUSE_TONE),
                              _action("hangup", "NORMAL_TEMPORARY_FAILURE")]
        entry = self.tenant.dids.get(did) if did else None
        return actions + self.controller_fallback(entry.closed if entry is not None else None)

    def route(self, route: Route, fallback: Route | None = None) -> Actions:
        user = self.tenant.users.get(route.target)
        group = self.tenant.ring_groups.get(route.target)
        if route.kind == "user" and user is not None:
            return self.user(user)
        if route.kind == "voicemail" and user is not None:
            return self.voicemail(user)
        if route.kind == "ring_group" and group is not None and self.hops < MAX_FORWARDS:
            return self._next().group(group)
        # FreeSWITCH expands ${...} in every application's argument: stored text goes in only checked
        if route.kind == "announcement" and dialstring.SOUND.fullmatch(route.target):
            return [_action("answer"), _action("playback", route.target), _action("hangup", "NORMAL_CLEARING")]
        if route.kind in ("ivr", "queue") and dialstring.TOKEN.fullmatch(route.target):
            return self.controller(route, fallback)
        shown = re.sub(r"[^A-Za-z0-9_.-]", "_", route.target)[:64]
        return [_action("log", f"ERR route to a missing {route.kind} {shown}"), _action("answer"),
                _action("playback", UNALLOCATED_PROMPT), _action("hangup", "NORMAL_TEMPORARY_FAILURE")]

    def from_ivr(self, kind: str, target: str) -> Actions:
        """A branch of callcontrol's IVR that leaves it: a ring group (id), a voicemail box
        (extension) or an outside number. Whatever no longer exists gets the unallocated prompt."""
        if kind == "ring_group":
            return self.route(Route("ring_group", target))
        if kind == "voicemail" and target in self.tenant.extensions:
            return self.voicemail(self.tenant.users[self.tenant.extensions[target]])
        if kind == "external":
            outside = self.outbound(IVR_CALLER, target)
            if outside is not None:
                return outside
        return [_action("log", f"ERR IVR branch to a missing {kind} {target}"), *unallocated()]

    def outbound(self, caller: UserEntry, destination: str) -> Actions | None:
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
            return [_action("set", f"hibiki_outbound_class={outbound_class}"),
                    _action("set", "hibiki_refused=class_of_service"),
                    _action("log", f"NOTICE outbound call to {outbound_class} number refused by class of service"),
                    _action("pre_answer"), _action("playback", RESTRICTED_PROMPT),
                    _action("hangup", "OUTGOING_CALL_BARRED")]
        if not self.tenant.outbound_gateway:
            return [_action("log", "ERR no outbound gateway is configured for this tenant"), _action("pre_answer"),
                    _action("playback", FAILED_PROMPT), _action("hangup", "NORMAL_TEMPORARY_FAILURE")]
        caller_id = (caller.direct_number if policy == "direct" and caller.direct_number
                     else self.tenant.representative_number)
        actions = [_action("set", f"hibiki_outbound_class={outbound_class}")]
        if caller_id and dialstring.CALLER_ID.fullmatch(caller_id):   # an admin's text: never ${...} to expand
            actions.append(_action("set", f"effective_caller_id_number={caller_id}"))
        if info.caller_id == "withhold":   # 184: the number only in P-Asserted-Identity, with "Privacy: id"
            actions += [_action("privacy", "full"), _action("export", "nolocal:sip_cid_type=pid"),   # carrier leg only
                        _action("export", f"nolocal:sip_from_uri={ANONYMOUS_URI}"),
                        _action("export", "nolocal:sip_from_display=Anonymous")]
        return actions + [
            _action("set", "call_timeout=60"), _action("set", "continue_on_fail=true"),
            _action("set", "hangup_after_bridge=true"),
            _action("bridge", dialstring.gateway_leg(self.tenant.outbound_gateway, info.destination)),
            _action("playback", FAILED_PROMPT), _action("hangup", "NORMAL_TEMPORARY_FAILURE"),
        ]

    def feature_code(self, caller: UserEntry | None, destination: str) -> Actions | None:
        domain = self.tenant.domain
        if destination == "*8" and caller is not None and caller.pickup_group:
            return [_action("pickup", f"{caller.pickup_group}@{domain}")]
        if destination.startswith("**") and destination[2:] in self.tenant.extensions:
            return [_action("intercept", f"${{hash(select/{domain}-last_dial_ext/{destination[2:]})}}")]
        lot = f"{self.tenant.tenant_id}-{(caller.park_group if caller else '') or 'main'}"
        if destination == "*70":
            return [_action("answer"), _action("valet_park", f"{lot} auto in 1 {PARK_SLOTS}")]
        if destination.startswith("*71") and ascii_digits(destination[3:]) and 1 <= int(destination[3:]) <= PARK_SLOTS:
            return [_action("answer"), _action("valet_park", f"{lot} {int(destination[3:])}")]
        if destination == "*97" and caller is not None and caller.extension:
            return [_action("answer"), _action("voicemail", f"check default {self.tenant.domain} {caller.extension}")]
        if destination == "*98":
            return [_action("answer"), _action("voicemail", f"check default {self.tenant.domain}")]
        agent = agent_code(destination)
        if agent is not None and caller is not None:
            return self.agent_code(caller, *agent)
        return None

    def agent_code(self, caller: UserEntry, action: str, argument: str) -> Actions:
        """An agent code, run by callcontrol (``agent:`` application) for the agent on the
        caller's phone; if callcontrol is gone, the caller hears the refusal tone."""
        device = caller.extension or caller.username
        return self._to_callcontrol(f"agent:{action}:{argument}", hibiki_agent_device=device) + [
            _action("answer"), _action("playback", REFUSE_TONE), _action("hangup", "NORMAL_TEMPORARY_FAILURE")]

    def _to_callcontrol(self, app: str, **variables: str) -> Actions:
        """Hand the call to callcontrol's ``app`` (``socket ... async full``), with the tenant's
        domain (where agents' devices are) and ``variables`` set first; the fallback follows."""
        return [_action("set", f"hibiki_app={app}"), _action("set", f"hibiki_domain={self.tenant.domain}"),
                *(_action("set", f"{name}={value}") for name, value in variables.items()),
                _action("set", f"hibiki_handoff={app}"),
                _action("sched_transfer", f"+{HANDOFF_SECONDS} {HANDOFF_MISSED} XML {self.context}"),
                _action("socket", f"{self.callcontrol} async full"),
                _action("sched_cancel"), _action("unset", "hibiki_handoff")]


def tone_and_hangup(context: str, destination: str, tone: str) -> str:
    """A dialplan that answers, plays ``tone`` and hangs up (feature-code confirmations)."""
    actions = [_action("answer"), _action("playback", tone), _action("hangup", "NORMAL_CLEARING")]
    return documents.dialplan(context, [_extension("hibiki-feature-setting", destination, actions)])


def refuse_unknown_number(context: str) -> str:
    """The answer to a carrier's call for a number no tenant owns: refused (UNALLOCATED_NUMBER,
    SIP 404), never answered. "not found" would send it into fallback.xml's survival routing."""
    extension = ('<extension name="hibiki-unknown-number"><condition field="destination_number" expression="^.*$">'
                 f'{_action("hangup", "UNALLOCATED_NUMBER")}</condition></extension>')
    return documents.dialplan(context or "public", [extension])


def language(tenant: TenantView) -> Actions:
    """A tenant whose language is not the node's default: its prompts and voicemail phrases."""
    return [_action("set", f"{name}={value}") for name, value in channel_language(tenant.language).items()]


def unallocated() -> Actions:
    return [_action("answer"), _action("playback", UNALLOCATED_PROMPT), _action("hangup", "UNALLOCATED_NUMBER")]


def transferor(request: FsRequest, tenant: TenantView) -> UserEntry | None:
    """The user who blind-transferred this call: ``hibiki_transferor``, which the extension's
    answer copied from ``hibiki_peer_user`` (the user this channel was bridged to) when the
    transfer brought the channel back. Only a user of the call's own tenant counts; the REFER's
    Referred-By header (``sip_h_Referred-By``, absent from many phones) is the phone's word
    and is never read."""
    return tenant.users.get(request.get(f"variable_{TRANSFEROR}"))


def transferred() -> Actions:
    """An extension dialled or transferred to: a channel bridged to one of our users before was
    transferred by that user (blind transfer, REFER) and remembers who; a fresh call clears it."""
    return [_action("set", f"{TRANSFEROR}=${{{PEER}}}")]


def _hops(request: FsRequest) -> int:
    value = request.get("variable_hibiki_forward_hops")
    return int(value) if ascii_digits(value) else 0


def record_inbound(tenant: TenantView, did: DidEntry, route: Route, context: str) -> Actions:
    """REC-01 for a call on a DID: recorded from the start (notice first) when the policy says all,
    ``*1``/``*2`` bound when on demand. A route to callcontrol (IVR, queue) is told the policy
    instead (``hibiki_recording_mode``, ``_scope``, ``_queues``, ``_notice``): it plays the IVR's
    own notice, or the policy's, before recording, and knows the queue an IVR leads to."""
    policy = tenant.recording
    user = route.target if route.kind in ("user", "voicemail") else ""
    queue = route.target if route.kind == "queue" else ""
    decision = policy.decide("inbound", user=user, did=did.number, queue=queue)
    if route.kind in ("ivr", "queue"):
        if not policy.configured:
            return []
        return [_action("set", f"hibiki_recording_mode={decision.mode}"),
                _action("set", f"hibiki_recording_scope={decision.scope}"),
                *([_action("set", f"hibiki_recording_queues={q}")] if (q := policy.queue_modes("inbound")) else []),
                _action("set", f"hibiki_recording_notice={policy.notice}")]
    if route.kind not in ("user", "ring_group"):
        return []
    if decision.mode == recording.Mode.ALL:     # per caller/party pair: the answering leg records
        return recording.pairs(tenant.tenant_id, decision, policy.notice)
    if decision.mode == recording.Mode.ON_DEMAND:
        return recording.on_demand(tenant.tenant_id)
    return []


def record_outbound(tenant: TenantView, caller: UserEntry, context: str) -> Actions:
    """REC-01 for a user's call to a carrier: recorded from the start (no notice: the caller is
    ours) and per pair once the user transfers the carrier (:func:`recording.outbound_pairs`), or
    ``*1``/``*2`` bound."""
    decision = tenant.recording.decide("outbound", user=caller.id)
    if decision.mode == recording.Mode.ALL:      # the user's part, then per carrier/party pair after a transfer
        return recording.outbound_pairs(tenant.tenant_id, decision)
    if decision.mode == recording.Mode.ON_DEMAND:
        return recording.on_demand(tenant.tenant_id)
    return []


def answer_did(request: FsRequest, tenant: TenantView, did: DidEntry, at: datetime,
               callcontrol: str = "127.0.0.1:8084", decision: tuple[Route, str] | None = None) -> str:
    """An inbound call on one of the tenant's numbers, routed by the number's schedule
    (``decision``: the route and branch ``did.route_at(at)`` gave, if the caller has it already)."""
    destination = request.get("Caller-Destination-Number")
    context = request.get("Caller-Context") or "public"
    route, branch = decision if decision is not None else did.route_at(at)
    prelude = [_action("set", f"hibiki_tenant={tenant.tenant_id}"), _action("export", f"hibiki_did={did.number}"),
               _action("set", f"hibiki_branch={branch}"), *language(tenant)]
    prelude += record_inbound(tenant, did, route, context)
    actions = prelude + Plan(tenant, context, callcontrol=callcontrol).route(route, fallback=did.closed)
    return documents.dialplan(context, [call_marks("inbound", tenant.tenant_id),
                                        _extension("hibiki-did", destination, actions)])


def answer_internal(request: FsRequest, tenant: TenantView, callcontrol: str = "127.0.0.1:8084") -> str:
    """The dialplan for a call placed by a user of ``tenant`` (or transferred within it)."""
    destination = request.get("Caller-Destination-Number")
    context = request.get("Caller-Context") or "default"
    plan = Plan(tenant, context, _hops(request), callcontrol)
    caller = tenant.users.get(request.get("variable_hibiki_user"))
    forward = FORWARD.match(destination)
    if forward and forward.group(1) in tenant.users:
        name, actions = "hibiki-after-bridge", plan.after_user(tenant.users[forward.group(1)], forward.group(2),
                                                              transferor(request, tenant))
    elif destination in tenant.extensions:
        name, actions = "hibiki-internal", transferred() + plan.user(tenant.users[tenant.extensions[destination]])
    elif (route := IVR_ROUTE.match(destination)) is not None:
        if request.get(ROUTE_GRANT) == destination:
            name, actions = "hibiki-ivr-route", plan.from_ivr(route.group(1), route.group(2))
        else:   # dialled by a caller (or a transfer), not handed back by callcontrol
            name, actions = "hibiki-route-refused", [
                _action("set", "hibiki_refused=route"),
                _action("log", f"NOTICE {destination} refused: not handed back by callcontrol"), *unallocated()]
    elif destination == HANDOFF_MISSED and request.get("variable_hibiki_handoff"):
        name, actions = "hibiki-handoff-missed", plan.handoff_missed(request.get("variable_hibiki_handoff"),
                                                                     request.get("variable_hibiki_did"))
    elif destination in tenant.group_extensions:
        name, actions = "hibiki-ring-group", plan.group(tenant.ring_groups[tenant.group_extensions[destination]])
    elif (feature := plan.feature_code(caller, destination)) is not None:
        name, actions = "hibiki-feature", feature
    elif caller is not None and (outside := plan.outbound(caller, destination)) is not None:
        bridged = any('application="bridge"' in a for a in outside)
        name, actions = "hibiki-outbound", record_outbound(tenant, caller, context) + outside if bridged else outside
    else:
        name, actions = "hibiki-unallocated", unallocated()
    marks = [call_marks("outbound" if name == "hibiki-outbound" else "internal", tenant.tenant_id)]
    if tenant.recording.configured:
        # a caller recorded per pair (the switch reads hibiki_recording_pairs): the next party's own file
        # (this routing follows a transfer or a forward); a call between users is recorded on demand otherwise
        on_demand = name in ("hibiki-internal", "hibiki-ring-group")
        marks.append(recording.pairs_or_on_demand(tenant.tenant_id, on_demand))
    return documents.dialplan(context, [*marks, _extension(name, destination, language(tenant) + actions)])
