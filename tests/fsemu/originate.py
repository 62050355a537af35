"""``switch_ivr_originate`` (src/switch_ivr_originate.c) as far as ``bridge`` needs it, and the
endpoints that decide at once: ``user/`` (mod_dptools ``user_outgoing_channel``) and ``error/``
(mod_dptools ``error_outgoing_channel``).  Sources: v1.10.12.

Dial string: ``<..>`` and ``{..}`` blocks (variables of every leg, ``^^X`` separator), ``|``
(groups tried in turn), ``,`` (legs of a group rung together), ``[..]`` per leg (its commas
separate its variables unless quoted or in a ``[^^`` block).  Each leg's variables are: the
A-leg's ``export_vars`` and the variables they name, the ``{}`` variables, the A-leg's
originate options (ignore_early_media, group_confirm_*, ... if not given), ``originate_early_media``
(false under ignore_early_media / bridge_early_media) from the second leg on, then its own ``[]``
variables (later ones replace earlier ones).

``user/<id>[@<domain>]`` (no domain: the global variable ``domain``, else ``freeswitch.local``,
as ``switch_core_get_domain``): a directory request ``action=user_call`` with
``as_channel=true`` + the leg's variables; not found -> SUBSCRIBER_ABSENT; the ``dial-string``
param (user, then group, then domain: ``switch_xml_locate_user_merged``), ``dial-var-*``
params become leg variables; no dial-string -> MANDATORY_IE_MISSING; the A-leg gets
``dialed_user``/``dialed_domain``; the leg gets them and ``presence_id`` (unless the dial string
sets it); the dial string is expanded on the A-leg (``${sofia_contact(...)}`` included); if it
still contains ``user/<id>`` -> INVALID_IE_CONTENTS; else it is originated.  Inside a forked dial
(the outer dial string has several legs or groups) that inner originate is SOF_NOBLOCK: only the
first endpoint of the user's dial string is called.

Which endpoint "answers" is scripted by the call's ``answering_endpoints``, keyed by the endpoint
as dialled (``sofia/internal/sip:...``) or, for endpoints a ``user/`` leg expanded to, by that
``user/...`` string.  Without a directory (no ``directory_url``/``directory_xml`` on the
emulator) a ``user/`` endpoint is scripted as a whole like any other endpoint.

A group fails with NO_ANSWER if a created leg rang out, else with the cause of its first created
leg, else with the last cause an endpoint refused with; the last group's cause is the bridge's.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .causes import cause_name, str2cause
from .dialstring import (QUOTED_ESC_COMMA, UNQUOTED_ESC_COMMA, create_brackets, find_end_paren, separate_string,
                         set_header, split_peers, switch_false, switch_true)
from .xml_curl import DirectoryUser

if TYPE_CHECKING:
    from .session import CallSession

__all__ = ["Leg", "Originator", "ORIGINATE_VARS"]

log = logging.getLogger("fsemu")

#: A-leg variables switch_ivr_originate copies into the legs' variables when not given
ORIGINATE_VARS = ("group_confirm_key", "group_confirm_file", "group_confirm_read_timeout",
                  "group_confirm_cancel_timeout", "group_confirm_timeout", "forked_dial", "fail_on_single_reject",
                  "hangup_on_single_reject", "ignore_early_media", "bridge_early_media",
                  "originate_continue_on_timeout", "ignore_ring_ready", "monitor_early_media_ring",
                  "monitor_early_media_ring_total", "monitor_early_media_fail", "return_ring_ready", "ring_ready",
                  "instant_ringback", "progress_timeout", "language")
MAX_DEPTH = 16   # user/ endpoints whose dial strings dial other user/ endpoints


@dataclass(frozen=True)
class BlindTransfer:
    """An endpoint that answers, talks ``after`` seconds, then blind-transfers the caller to
    ``to`` (the phone's REFER with ``Refer-To: <to>``)."""

    after: float
    to: str


@dataclass
class Leg:
    """One endpoint the originate tried."""

    endpoint: str                                   # as dialled, without its variable blocks
    variables: dict[str, str] = field(default_factory=dict)
    via: tuple[str, ...] = ()                       # the user/ endpoints it was expanded from
    outcome: object = None                          # "answer", seconds, BlindTransfer or a hangup cause
    created: bool = False                           # False: refused at once (error/, user not found)
    user: DirectoryUser | None = None               # user/ legs: the user found
    dial_string: str | None = None                  # user/ legs: the expanded dial-string

    @property
    def answers(self) -> bool:
        return self.created and (self.outcome == "answer" or isinstance(self.outcome, (int, float, BlindTransfer)))


def _get(event: dict[str, str], name: str) -> str | None:
    for k, v in event.items():
        if k.lower() == name.lower():
            return v
    return None


class Originator:
    """The originates of one ``bridge``: every leg tried lands in ``legs``."""

    def __init__(self, session: "CallSession") -> None:
        self.s = session
        self.legs: list[Leg] = []
        self.script: dict[str, object] = getattr(session, "answering_endpoints", {}) or {}
        emu = session.emulator
        self.directory = emu.directory if emu is not None and emu.directory.configured else None

    # ---- switch_ivr_originate --------------------------------------------------------------
    async def originate(self, data: str, ovars: dict[str, str] | None = None, *, noblock: bool = False,
                        via: tuple[str, ...] = ()) -> tuple[Leg | None, str]:
        """Returns (the leg that answered, or with noblock the leg created; the cause)."""
        ch = self.s.ch
        var_event = ovars if ovars is not None else {}
        export_vars = ch.get_var("export_vars")
        if export_vars:                                   # switch_channel_process_export
            set_header(var_event, "export_vars", export_vars)
            for name in separate_string(export_vars, ","):
                value = ch.get_var(name)
                if value is not None:
                    low = name.lower()
                    set_header(var_event, name[8:] if low.startswith("nolocal:") else
                               name[9:] if low.startswith("_nolocal_") else name, value)
        data = data.lstrip(" ")
        for open_, close in (("<", ">"), ("{", "}")):
            while data.startswith(open_):
                rest = create_brackets(data, open_, close, ",", var_event)
                if rest is None:
                    log.error("Parse Error!")
                    return None, "DESTINATION_OUT_OF_ORDER"
                data = rest
        for name in ORIGINATE_VARS:
            value = ch.get_var(name)
            if value and _get(var_event, name) is None:
                var_event[name] = value
        data = data.lstrip(" ")
        if not data:
            log.warning("No origination URL specified!")
            return None, "DESTINATION_OUT_OF_ORDER"
        early_ok = True                                   # oglobals.early_ok
        if switch_true(ch.get_var("originate_xfer_zombie")) or switch_true(_get(var_event, "bridge_early_media")):
            early_ok = False
        iem = _get(var_event, "ignore_early_media")
        if iem is not None and (switch_true(iem) or iem in ("consume", "ring_ready")):
            early_ok = False
        if _get(var_event, "group_confirm_early_ok") is not None:
            early_ok = switch_true(_get(var_event, "group_confirm_early_ok"))
        groups = separate_string(data, "|")
        if noblock and len(groups) > 1:
            log.warning("Only calling the first element in the list in this mode.")
            groups = groups[:1]
        cause = "NONE"
        for group in groups:
            peers = split_peers(group)
            if noblock and len(peers) > 1:
                log.warning("Only calling the first element in the list in this mode.")
                peers = peers[:1]
            forked = len(peers) > 1 or len(groups) > 1 or switch_true(_get(var_event, "forked_dial"))
            reason = "NONE"
            created: list[Leg] = []
            for peer in peers:
                peer = peer.lstrip(" ")
                local: dict[str, str] = {}
                while peer.startswith("["):
                    bend = find_end_paren(peer, 0, "[", "]")
                    if bend is not None:
                        peer = peer[:bend].replace(QUOTED_ESC_COMMA, ",") + peer[bend:]
                    rest = create_brackets(peer, "[", "]", UNQUOTED_ESC_COMMA, local)
                    if rest is None or rest == peer:
                        log.error("Parse Error!")
                        return None, "DESTINATION_OUT_OF_ORDER"
                    peer = rest
                peer = peer.lstrip(" ")
                leg_vars = dict(var_event)
                for k, v in local.items():
                    set_header(leg_vars, k, v)
                leg = Leg(peer, leg_vars, via)
                self.legs.append(leg)
                made, why = await self._outgoing(leg, forked)
                set_header(var_event, "originate_early_media", "true" if early_ok else "false")
                if made is None:
                    reason = why
                    continue
                if noblock:
                    return made, "SUCCESS"
                created.append(made)
            winner = next((leg for leg in created if leg.answers), None)
            if winner is not None:
                return winner, "SUCCESS"
            if created:
                cause = "NO_ANSWER" if any(leg.outcome == "NO_ANSWER" for leg in created) else str(created[0].outcome)
            else:
                cause = reason
            if cause in ("NONE", "SUCCESS"):
                cause = "ORIGINATOR_CANCEL"
        return None, cause

    # ---- switch_core_session_outgoing_channel ------------------------------------------------
    async def _outgoing(self, leg: Leg, forked: bool) -> tuple[Leg | None, str]:
        chan_type, _, chan_data = leg.endpoint.partition("/")
        if chan_type.lower() == "error":
            number = str2cause(chan_data)
            leg.outcome = cause_name(number) if number else "DESTINATION_OUT_OF_ORDER"
            return None, str(leg.outcome)
        if chan_type.lower() == "user" and self.directory is not None:
            return await self.user_outgoing_channel(leg, chan_data, forked)
        leg.created = True
        leg.outcome = self.outcome_of(leg)
        return leg, "SUCCESS"

    def outcome_of(self, leg: Leg) -> object:
        """The scripted behaviour: the endpoint's own, else that of the user/ it came from."""
        for key in (leg.endpoint, *reversed(leg.via)):
            if key in self.script:
                return self.script[key]
        return "NO_ANSWER"

    # ---- mod_dptools user_outgoing_channel ---------------------------------------------------
    async def user_outgoing_channel(self, leg: Leg, destination: str, forked: bool) -> tuple[Leg | None, str]:
        s = self.s
        ch = s.ch
        emu = s.emulator
        assert self.directory is not None
        if not destination or len(leg.via) >= MAX_DEPTH:
            leg.outcome = "NONE"
            return None, "NONE"
        user, at, domain = destination.partition("@")
        if not at:
            domain = emu.global_vars.get("domain") or "freeswitch.local"
        var_event: dict[str, str] | None = dict(leg.variables)   # leg.variables stays what it was called with
        params = [("as_channel", "true"), ("action", "user_call")] + list(leg.variables.items())
        recurse = _get(leg.variables, "user_recurse_variables")
        if recurse is not None and switch_false(recurse):
            var_event = None
        found = await self.directory.locate_user_merged("id", user, domain, None, params, kind="user_call")
        leg.user = found
        if found is None:
            log.warning("Can't find user [%s@%s]", user, domain)
            leg.outcome = "SUBSCRIBER_ABSENT"
            return None, "SUBSCRIBER_ABSENT"
        dest: str | None = None
        for name, value in found.params.items():
            if name.lower() == "dial-string":
                dest = value
            elif name.lower().startswith("dial-var-"):
                if var_event is None:
                    var_event = {}
                set_header(var_event, name[9:], value)
        dialed_user = found.attributes.get("id", user)
        if var_event is not None:
            set_header(var_event, "dialed_user", dialed_user)
            set_header(var_event, "dialed_domain", domain)
            if dest and "presence_id=" not in dest:
                set_header(var_event, "presence_id", f"{dialed_user}@{domain}")
        if not dest:
            log.error("No dial-string available, please check your user directory.")
            leg.outcome = "MANDATORY_IE_MISSING"
            return None, "MANDATORY_IE_MISSING"
        ch.set_var("dialed_user", dialed_user)
        ch.set_var("dialed_domain", domain)
        d_dest = s.expand(dest)
        leg.dial_string = d_dest
        if f"user/{dialed_user}".lower() in d_dest.lower():
            log.warning("Waddya Daft? You almost called 'user/%s' in an infinate loop!", dialed_user)
            leg.outcome = "INVALID_IE_CONTENTS"
            return None, "INVALID_IE_CONTENTS"
        made, cause = await self.originate(d_dest, dict(var_event) if var_event is not None else None,
                                           noblock=forked, via=leg.via + (leg.endpoint,))
        if made is None:
            leg.outcome = cause
            return None, cause
        made.variables.pop("origination_uuid", None)
        for name, value in found.variables.items():     # the new channel gets the user's variables
            if value:
                set_header(made.variables, name, value)
        leg.created, leg.outcome = True, made.outcome
        return made, "SUCCESS"
