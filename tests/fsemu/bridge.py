"""``bridge`` (mod_dptools audio_bridge_function over switch_ivr_originate), simulated.

The dial string is originated by ``originate.Originator`` (variable blocks, ``|`` groups, ``,``
legs, ``user/`` expansion through the directory, ``error/`` endpoints).  What each endpoint
does comes from the call's ``answering_endpoints``: ``"answer"`` (answers and stays until the
caller hangs up), a number (answers, hangs up after that many seconds), ``BlindTransfer(after,
to)`` (answers, then the phone blind-transfers the caller: its REFER as sofia handles it, below),
or a hangup cause (``USER_BUSY``, ``NO_ANSWER``, ...).  Endpoints not listed ring out (``NO_ANSWER``).
On failure: ``originate_disposition`` = the cause, ``DIALSTATUS`` as switch_ivr_originate maps it,
``originate_failed_cause``, then ``switch_channel_handle_cause`` (``continue_on_fail`` true or a
list of causes/numbers, ``failure_causes``; without either NO_ANSWER, NO_USER_RESPONSE and
ORIGINATOR_CANCEL continue, anything else hangs the caller up with that cause).
CHANNEL_BRIDGE / CHANNEL_UNBRIDGE carry Bridge-A-Unique-ID / Bridge-B-Unique-ID
(switch_ivr_bridge.c).  Every endpoint tried is in ``channel.originations`` (``Leg``), the one
that answered also in ``channel.executed_bridges``.

The leg that answered is a channel of its own (``b_leg``, direction outbound; not listed in
``show channels``): when the bridge ends it fires its CHANNEL_HANGUP_COMPLETE with the variables
the real switch puts there (tests/fixtures/freeswitch/hangup_complete: the originate's variables,
``originator``/``originating_leg_uuid``, ``last_bridge_to``, ``bridge_uuid``, ``signal_bond``,
the Other-Leg-* profile of the caller, the CDR variables). Both legs name each other in
Other-Type / Other-Leg-*; the caller's leg gets ``signal_bond``.

A blind transfer (sofia_handle_sip_i_refer, as tests/fixtures/freeswitch/hangup_complete/blind_transfer.json
shows it): the transferor's leg gets ``transfer_disposition`` ``recv_replace``, ``transfer_to``
``blind:<caller's uuid>``, ``transfer_destination`` ``blind:<to>`` and is hung up by the switch
(``send_bye``); the caller's leg gets ``sip_refer_to``, ``transfer_source``/``transfer_history``
(``<epoch>:<uuid>:bl_xfer:<to>/<context>/XML``), no ``hangup_after_bridge``, and is transferred to
``<to>`` in its own context (switch_ivr_session_transfer without a context), where routing starts again.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import sofia_profile as sp
from .causes import CAUSES
from .cdr import set_cdr_variables
from .channel import Channel, ChannelSeed
from .dialstring import separate_string, switch_true
from .originate import BlindTransfer, Leg, Originator
from .session import HangupError

if TYPE_CHECKING:
    from .session import CallSession

__all__ = ["app_bridge", "handle_cause"]

#: switch_ivr_originate: DIALSTATUS after a failed originate (any other cause: its name)
DIALSTATUS = {"ORIGINATOR_CANCEL": "CANCEL", "USER_BUSY": "BUSY", "NO_ANSWER": "NOANSWER",
              "DESTINATION_OUT_OF_ORDER": "INVALIDARGS", "INVALID_PROFILE": "INVALIDARGS",
              "CALL_REJECTED": "DONTCALL"}


def _listed(causes: str, cause: str) -> bool:
    number = str(CAUSES.get(cause, 0))
    return any(c.lower() in (cause.lower(), number) for c in separate_string(causes, ","))


def handle_cause(s: "CallSession", cause: str) -> None:
    """switch_channel_handle_cause (without transfer_on_fail)."""
    ch = s.ch
    if not ch.up:
        return
    if cause != "ATTENDED_TRANSFER":
        cof = ch.get_var("continue_on_fail")
        failure_causes = ch.get_var("failure_causes")
        if cof is not None or failure_causes is not None:
            if failure_causes is not None and not _listed(failure_causes, cause):
                return
            if cof is not None and (switch_true(cof) or _listed(cof, cause)):
                return
        elif cause in ("NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL"):
            return
    s.hangup(cause)


def b_leg(a: Channel, winner: Leg, b_uuid: str, created_us: int) -> Channel:
    """The channel of the leg that answered (see the module's docstring)."""
    v = dict(winner.variables)
    if winner.endpoint.startswith("user/") and "dialed_user" not in v:   # scripted as a whole (no directory)
        user, _, domain = winner.endpoint[5:].partition("@")
        v.update(dialed_user=user, dialed_domain=domain)
    destination = v.get("dialed_user") or winner.endpoint.rsplit("/", 1)[-1].split("@")[0].removeprefix("sip:")
    seed = ChannelSeed(uuid=b_uuid, caller_id_name=a.get_var("effective_caller_id_name") or a.caller_id_name,
                       caller_id_number=a.get_var("effective_caller_id_number") or a.caller_id_number,
                       destination=destination, domain=v.get("dialed_domain") or a.domain, context=a.context,
                       channel_name=winner.endpoint if "/" in winner.endpoint else f"sofia/internal/{winner.endpoint}",
                       created_us=created_us, initial_variables=[])
    b = Channel(a.switch, seed)
    a.switch.remove_channel(b)          # bridged legs stay out of show channels / uuid commands here
    b.direction, b.answered, b.codec, b.hit_dialplan = "outbound", True, a.codec, False
    b.state, b.call_state = "CS_EXCHANGE_MEDIA", "ACTIVE"
    bridged = a.times["bridged"]
    b.times.update(progress=created_us, answered=bridged, bridged=bridged)
    for name, value in (("direction", "outbound"), ("is_outbound", "true"), ("uuid", b_uuid),
                        ("channel_name", b.name), *v.items(), ("originator", a.uuid),
                        ("originate_early_media", "true"), ("originating_leg_uuid", a.uuid),
                        ("originate_endpoint", winner.via[0].split("/")[0] if winner.via else
                         winner.endpoint.split("/")[0]),
                        ("last_bridge_to", a.uuid), ("bridge_channel", a.name), ("bridge_uuid", a.uuid),
                        ("signal_bond", a.uuid), ("call_uuid", b_uuid)):
        b.set_var(name, value)
    b.other, a.other = ("originator", a), ("originatee", b)
    for name in ("dialed_user", "dialed_domain"):       # user_outgoing_channel sets them on the caller too
        if v.get(name):
            a.set_var(name, v[name])
    a.set_var("bridge_channel", b.name)
    a.set_var("bridge_uuid", b_uuid)
    a.set_var("signal_bond", b_uuid)
    return b


def b_leg_hangup(b: Channel, by_far_end: bool) -> None:
    """The answered leg ends (CS_REPORTING): it sent BYE (``by_far_end``) or the switch did."""
    b.switch.seq.skip(2)
    b.hangup_cause = "NORMAL_CLEARING"
    if by_far_end:
        b.apply(sp.RECV_BYE_BEFORE)
    b.set_var("sip_hangup_disposition", "recv_bye" if by_far_end else "send_bye")
    stamp = b.switch.clock()
    b.times["hungup"] = stamp
    b.call_state, b.state = "HANGUP", "CS_REPORTING"
    set_cdr_variables(b)
    b.fire("CHANNEL_HANGUP_COMPLETE", ("switch_core_state_machine.c", "switch_core_session_reporting_state", 943),
           pre=[("Hangup-Cause", b.hangup_cause)], stamp=stamp)
    b.state = "CS_DESTROY"


async def app_bridge(s: "CallSession", data: str) -> None:
    ch = s.ch
    created_us = ch.switch.clock()
    originator = Originator(s)
    winner, cause = await originator.originate(data)
    ch.originations += originator.legs
    if winner is None:
        ch.set_var("originate_disposition", cause)
        ch.set_var("DIALSTATUS", DIALSTATUS.get(cause, cause))
        ch.set_var("originate_failed_cause", cause)
        handle_cause(s, cause)
        return
    behaviour = winner.outcome
    b_uuid = winner.variables.get("origination_uuid") or ch.switch.new_uuid()
    peers = s.emulator.peer_vars if s.emulator is not None else {}
    peers[b_uuid] = dict(winner.variables)   # the B channel's variables (uuid_getvar)
    s.answer()
    ch.set_var("originate_disposition", "SUCCESS")
    ch.set_var("DIALSTATUS", "SUCCESS")
    ch.set_var("last_bridge_to", b_uuid)
    ch.times["bridged"] = ch.switch.clock()
    ch.executed_bridges.append(winner.endpoint)
    b = b_leg(ch, winner, b_uuid, created_us)
    ch.fire("CHANNEL_BRIDGE", ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", 0),
            post=[("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", b_uuid)])
    refer = behaviour if isinstance(behaviour, BlindTransfer) else None
    try:
        if behaviour == "answer":
            await ch.hangup_event.wait()
        else:
            await s.media_wait(refer.after if refer is not None else float(behaviour))  # type: ignore[arg-type]
    except HangupError:
        pass
    peers.pop(b_uuid, None)
    transferring = refer is not None and ch.up
    if transferring:
        assert refer is not None
        b.set_var("transfer_disposition", "recv_replace")
        b.set_var("transfer_to", f"blind:{ch.uuid}")
        b.set_var("transfer_destination", f"blind:{refer.to}")
        history = f"{ch.switch.clock() // 1_000_000}:{ch.switch.new_uuid()}:bl_xfer:{refer.to}/{ch.context}/XML"
        ch.set_var("sip_refer_to", f"sip:{refer.to}@{ch.get_var('domain_name') or 'freeswitch.local'}")
        ch.set_var("transfer_source", history)
        ch.set_var("transfer_history", history)
    b_leg_hangup(b, by_far_end=behaviour != "answer" and not transferring)
    ch.set_var("last_bridge_hangup_cause", "NORMAL_CLEARING")
    ch.fire("CHANNEL_UNBRIDGE", ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", 0),
            post=[("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", b_uuid)])
    if transferring:
        assert refer is not None
        s.transfer(refer.to, "XML", None)
    elif ch.up and (ch.get_var("hangup_after_bridge") or "").lower() == "true":
        s.hangup("NORMAL_CLEARING")
