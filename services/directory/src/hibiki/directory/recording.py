"""Call recording policy (REC-01, REC-02): which calls are recorded, compiled into the dialplan.

A tenant's policy says, for inbound calls (from a carrier, on a DID) and outbound calls (to a
carrier), one of ``all`` (every call is recorded), ``none`` or ``on_demand`` (not recorded unless
someone starts it during the call: ``*1`` on the phone, ``*2`` stops it; or callcontrol's API).
Overrides per user, DID and queue win over the tenant's; the most specific one decides:
queue, then user, then DID, then the tenant. Internal calls (user to user) are ``on_demand``.

A recorded call hears the notice first (the policy's ``notice`` prompt, by default Hibiki's
Japanese "this call may be recorded"; an IVR's own ``recording_notice`` instead when the call
goes through an IVR), then ``record_session`` writes both parties in stereo
(``RECORD_STEREO=true``: channel 1 the recorded channel's caller, channel 2 the other party) to
``${hibiki_recording_spool}/<tenant>/<yyyy>/<mm>/<dd>/<recording id>.wav`` (UTC date of the start;
``hibiki_recording_spool`` is FreeSWITCH's global variable from ``HIBIKI_RECORDING_SPOOL_DIR``).
An inbound call to a user or a ring group is recorded **per caller/party pair** (:func:`pairs`),
as callcontrol records a queue call: the leg that answers records itself, so a call the user
transfers (blind) to another user gives one recording per person who talked with the caller.
A user's call to a carrier is recorded per pair too (:func:`outbound_pairs`). A call that ends in
voicemail is not recorded (the message is mod_voicemail's; README: "Voicemail is not a call recording").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hibiki.common import dialstring
from hibiki.directory.documents import attr
from hibiki.directory.sounds import RECORDING_NOTICE_PROMPT

NOTICE_PROMPT = RECORDING_NOTICE_PROMPT        # Hibiki's own Japanese (or English) notice
SPOOL_VARIABLE = "hibiki_recording_spool"
START_CODE, STOP_CODE = "1", "2"          # *1 / *2 during a call (bind_meta_app, FreeSWITCH's meta key *)


class Mode(StrEnum):
    ALL = "all"
    NONE = "none"
    ON_DEMAND = "on_demand"


@dataclass(frozen=True, slots=True)
class Rule:
    inbound: Mode | None = None      # None: the next scope decides
    outbound: Mode | None = None

    def mode(self, direction: str) -> Mode | None:
        return self.inbound if direction == "inbound" else self.outbound if direction == "outbound" else None


@dataclass(frozen=True, slots=True)
class Decision:
    mode: Mode
    scope: str                         # tenant | user | did | queue | internal


@dataclass(frozen=True, slots=True)
class RecordingPolicy:
    tenant: Rule = Rule(Mode.NONE, Mode.NONE)
    users: Mapping[str, Rule] = field(default_factory=dict)
    dids: Mapping[str, Rule] = field(default_factory=dict)
    queues: Mapping[str, Rule] = field(default_factory=dict)
    notice: str = NOTICE_PROMPT       # a sound (dialstring.SOUND), played before recording starts
    configured: bool = False          # False: the tenant never set one (callcontrol's IVR then records
                                      # when the IVR has a recording notice, as before policies existed)

    @classmethod
    def from_stored(cls, stored: object) -> RecordingPolicy:
        """The stored JSON (checked by the API's model on write; anything unreadable is skipped)."""
        data = stored if isinstance(stored, dict) else {}

        def rule(value: object) -> Rule:
            raw = value if isinstance(value, dict) else {}
            return Rule(*(Mode(raw[k]) if raw.get(k) in Mode._value2member_map_ else None
                          for k in ("inbound", "outbound")))

        def rules(name: str) -> dict[str, Rule]:
            items = data.get(name)
            return {str(k): rule(v) for k, v in items.items()} if isinstance(items, dict) else {}
        base = rule(data.get("tenant"))
        notice = data.get("notice")
        return cls(Rule(base.inbound or Mode.NONE, base.outbound or Mode.NONE), rules("users"), rules("dids"),
                   rules("queues"), notice if isinstance(notice, str) and dialstring.SOUND.fullmatch(notice)
                   else NOTICE_PROMPT, configured=bool(data))

    def decide(self, direction: str, user: str = "", did: str = "", queue: str = "") -> Decision:
        if direction not in ("inbound", "outbound"):
            return Decision(Mode.ON_DEMAND, "internal")
        for scope, rules, key in (("queue", self.queues, queue), ("user", self.users, user), ("did", self.dids, did)):
            found = rules.get(key) if key else None
            mode = found.mode(direction) if found is not None else None
            if mode is not None:
                return Decision(mode, scope)
        return Decision(self.tenant.mode(direction) or Mode.NONE, "tenant")

    def queue_modes(self, direction: str) -> str:
        """``<queue>=<mode>;...``: the queues' own modes, for callcontrol (which learns the queue
        only in its IVR) in ``hibiki_recording_queues``."""
        return ";".join(f"{q}={m}" for q, r in sorted(self.queues.items())
                        if (m := r.mode(direction)) is not None and dialstring.TOKEN.fullmatch(q))


def _action(app: str, data: str = "") -> str:
    return f"<action application={attr(app)} data={attr(data)}/>" if data else f"<action application={attr(app)}/>"


def spool_path(tenant: str) -> str:
    """The file FreeSWITCH writes, expanded by FreeSWITCH when the recording starts: answers are
    reused for many calls, so the date (UTC) and the recording id (``hibiki_recording_id``, set
    from ``${create_uuid()}`` just before) are the switch's, not this module's."""
    return (f"${{{SPOOL_VARIABLE}}}/{dialstring.token(tenant)}/${{strftime_tz(UTC %Y/%m/%d)}}"
            "/${hibiki_recording_id}.wav")


def _record(tenant: str, reason: str, scope: str, on_answer: bool = False) -> list[str]:
    """Name the file and record into it, now or (``on_answer``) once the channel is answered."""
    return [_action("set", "RECORD_STEREO=true"), _action("set", f"hibiki_recording_reason={reason}"),
            _action("set", f"hibiki_recording_scope={dialstring.token(scope)}"),
            _action("set", "hibiki_recording_id=${create_uuid()}"),
            _action("set", f"hibiki_recording_path={spool_path(tenant)}"),
            _action("set", "execute_on_answer=record_session ${hibiki_recording_path}") if on_answer
            else _action("record_session", "${hibiki_recording_path}")]


def start(tenant: str, decision: Decision, notice: str, answer: bool) -> list[str]:
    """The actions that record the call from here on: the notice first (answering first if
    ``answer``: a caller who is not answered yet hears nothing; no notice when ``notice`` is
    ""), then ``record_session``."""
    actions = [_action("answer")] if answer else []
    if notice and dialstring.SOUND.fullmatch(notice):
        actions += [_action("set", "playback_terminators=none"), _action("playback", notice),
                    _action("unset", "playback_terminators")]
    return actions + [_action("set", f"hibiki_recording_mode={decision.mode}"),
                      *_record(tenant, "policy", decision.scope)]


PAIRS_VARIABLE = "hibiki_recording_pairs"     # "true" on a caller's channel recorded per pair


def pairs(tenant: str, decision: Decision, notice: str) -> list[str]:
    """Record the call per caller/party pair from here on (an inbound call to a user or a ring
    group): answer, the notice, then every leg this channel bridges records itself once answered
    (``execute_on_answer``, exported ``nolocal:`` to the legs only), in stereo with the channels
    swapped (``RECORD_STEREO_SWAP``) so the caller is on channel 1 and the party on channel 2; the
    recording ends with that leg, and carries the call's ``hibiki_call_id``. The file is named when
    the export runs (:func:`next_pair`: FreeSWITCH expands the value on this channel, so the new
    leg receives a plain path); a ring group's legs share it, only the answering one records. When
    the party transfers the caller (blind) the dialplan runs again for the caller's channel and
    names a new file (``hibiki_recording_pairs``)."""
    actions = [_action("answer")]
    if notice and dialstring.SOUND.fullmatch(notice):
        actions += [_action("set", "playback_terminators=none"), _action("playback", notice),
                    _action("unset", "playback_terminators")]
    return actions + [_action("set", f"hibiki_recording_mode={decision.mode}"),
                      _action("set", f"{PAIRS_VARIABLE}=true"),
                      *(_action("export", f"nolocal:{name}={value}") for name, value in (
                          ("RECORD_STEREO", "true"), ("RECORD_STEREO_SWAP", "true"),
                          ("hibiki_recording_reason", "policy"),
                          ("hibiki_recording_scope", dialstring.token(decision.scope)))),
                      *next_pair(tenant)]


PAIRS_SCOPE_VARIABLE = "hibiki_recording_pairs_scope"   # on a carrier's leg of an outbound call recorded per pair


def outbound_pairs(tenant: str, decision: Decision) -> list[str]:
    """Record a user's call to a carrier per pair: the user's channel records itself once the carrier
    answers (no notice: the caller is ours; channel 1 the user, channel 2 the carrier) until it ends, and the
    carrier's leg is marked (``hibiki_recording_pairs``, ``hibiki_recording_pairs_scope``, exported
    ``nolocal:`` to it alone) so that when the user transfers it (blind) the dialplan, run again for
    the carrier's leg, has the next party's leg record itself (:func:`pairs_or_on_demand`): one
    recording per carrier/user pair, all of the call's ``hibiki_call_id``."""
    # record_session before the bridge would pre-answer the user's phone and fix its codec before the
    # carrier's leg is offered (a carrier answering another codec then fails: INCOMPATIBLE_DESTINATION):
    # the user's channel starts recording when the carrier answers (the path named now)
    return [_action("set", f"hibiki_recording_mode={decision.mode}"),
            *_record(tenant, "policy", decision.scope, on_answer=True),
            _action("export", f"nolocal:{PAIRS_VARIABLE}=true"),
            _action("export", f"nolocal:{PAIRS_SCOPE_VARIABLE}={dialstring.token(decision.scope)}")]


def pairs_or_on_demand(tenant: str, between_users: bool) -> str:
    """An extension run before the routing of a user's call or a transferred one: when the channel
    is recorded per pair (``hibiki_recording_pairs``, tested by FreeSWITCH, which alone knows the
    channel's variables) a fresh file for the next party that answers; otherwise, between users
    (``between_users``), ``*1`` / ``*2`` bound (:func:`on_demand`). A carrier's leg marked by
    :func:`outbound_pairs` also exports what :func:`pairs` exports from an inbound caller's channel
    (stereo, swapped, the reason and the policy's scope) to the next party's leg."""
    actions = "".join(next_pair(tenant))
    otherwise = "".join(a.replace("<action ", "<anti-action ", 1) for a in on_demand(tenant)) if between_users else ""
    carrier = "".join(_action("export", f"nolocal:{name}={value}") for name, value in (
        ("RECORD_STEREO", "true"), ("RECORD_STEREO_SWAP", "true"), ("hibiki_recording_reason", "policy"),
        ("hibiki_recording_scope", "$1")))
    return (f'<extension name="hibiki-recording" continue="true"><condition field="${{{PAIRS_SCOPE_VARIABLE}}}" '
            f'expression="^([a-z_]{{1,16}})$" break="never">{carrier}</condition>'
            f'<condition field="${{{PAIRS_VARIABLE}}}" '
            f'expression="^true$" break="never">{actions}{otherwise}</condition></extension>')


def next_pair(tenant: str) -> list[str]:
    """A fresh file for the next leg that answers the caller (see :func:`pairs`)."""
    path = (f"${{{SPOOL_VARIABLE}}}/{dialstring.token(tenant)}/${{strftime_tz(UTC %Y/%m/%d)}}"
            "/${create_uuid()}.wav")
    return [_action("export", f"nolocal:execute_on_answer=record_session {path}")]


def on_demand(tenant: str) -> list[str]:
    """``*1`` starts a recording of the call, ``*2`` stops it (either party's phone: FreeSWITCH's
    ``bind_meta_app`` on this channel, listening on both legs, run on this channel). The file is
    named now (FreeSWITCH expands the binding's argument when it binds): one on-demand recording
    per channel, which ``*1`` after ``*2`` starts again from the beginning. FreeSWITCH's own
    lookups for ``execute_extension`` cannot be told apart from the call's (they carry the
    channel's destination), so the keys run ``record_session`` / ``stop_record_session`` directly."""
    return [_action("set", f"hibiki_recording_mode={Mode.ON_DEMAND}"), _action("set", "RECORD_STEREO=true"),
            _action("set", "hibiki_recording_reason=on_demand"), _action("set", "hibiki_recording_scope=on_demand"),
            _action("set", "hibiki_recording_id=${create_uuid()}"),
            _action("set", f"hibiki_on_demand_path={spool_path(tenant)}"),
            _action("unset", "hibiki_recording_id"),      # no recording yet: CallEnded names none
            _action("bind_meta_app", f"{START_CODE} ab s record_session::${{hibiki_on_demand_path}}"),
            _action("bind_meta_app", f"{STOP_CODE} ab s stop_record_session::${{hibiki_on_demand_path}}")]


def to_json(policy: RecordingPolicy) -> dict[str, Any]:
    def rule(r: Rule) -> dict[str, str | None]:
        return {"inbound": r.inbound.value if r.inbound else None, "outbound": r.outbound.value if r.outbound else None}
    return {"tenant": rule(policy.tenant), "users": {k: rule(v) for k, v in policy.users.items()},
            "dids": {k: rule(v) for k, v in policy.dids.items()},
            "queues": {k: rule(v) for k, v in policy.queues.items()}, "notice": policy.notice}
