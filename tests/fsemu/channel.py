"""A channel: identity, caller profile, variables, states, and the events it fires.

Sources: src/switch_channel.c (``switch_channel_event_set_basic_data`` header order,
``switch_channel_set_variable`` = delete + append at the bottom, ``switch_channel_set_timestamps``
for the CDR variables), src/switch_caller.c (Caller-* order, taken from the capture), and the
captured events for which headers appear when.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from . import sofia_profile as sp
from .causes import CAUSES
from .core import Switch
from .events import Event, date_gmt, date_local, rfc2822

__all__ = ["ChannelSeed", "Channel", "STATE_NUMBERS", "Q850"]

log = logging.getLogger("fsemu")

STATE_NUMBERS = {"CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
                 "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8,
                 "CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12}
#: switch_channel.c CAUSE_CHART (every cause, with its switch_call_cause_t number)
Q850 = CAUSES


@dataclass
class ChannelSeed:
    """Everything that identifies a channel (defaults: a SIP caller like the capture's)."""

    uuid: str | None = None
    caller_id_name: str | None = None
    caller_id_number: str = "1000"
    destination: str = "7100"
    domain: str = "127.0.0.1"
    context: str = "default"
    dialplan: str = "XML"
    network_addr: str = "127.0.0.1"
    source: str = "mod_sofia"
    channel_name: str | None = None
    created_us: int | None = None
    session_id: int | None = None
    invite_seq: int | None = None
    initial_variables: list[tuple[str, str]] | None = None
    extra_variables: dict[str, str] = field(default_factory=dict)

    @classmethod
    def capture(cls) -> "ChannelSeed":
        """The channel of esl/esl_outbound_session.log."""
        return cls(uuid="3c215cef-781c-4a5f-aaee-784f352769f6", caller_id_name="sipp 1000",
                   caller_id_number="1000", destination="7100", created_us=1795419363972805,
                   session_id=9, invite_seq=965, initial_variables=sp.CAPTURE_SEED_INITIAL)


class Channel:
    """One call leg."""

    def __init__(self, switch: Switch, seed: ChannelSeed) -> None:
        self.switch = switch
        self.uuid = seed.uuid or switch.new_uuid()
        self.caller_id_name = seed.caller_id_name or f"Extension {seed.caller_id_number}"
        self.caller_id_number = seed.caller_id_number
        self.destination = seed.destination
        self.domain = seed.domain
        self.context = seed.context
        self.dialplan = seed.dialplan
        self.network_addr = seed.network_addr
        self.source = seed.source
        self.name = seed.channel_name or f"sofia/internal/{seed.caller_id_number}@{seed.domain}"
        switch.session_counter += 1
        self.session_id = seed.session_id if seed.session_id is not None else switch.session_counter
        self.created_us = seed.created_us if seed.created_us is not None else switch.clock()
        self.times: dict[str, int] = {k: 0 for k in ("answered", "progress", "progress_media", "hungup",
                                                     "transfer", "resurrect", "bridged", "last_hold",
                                                     "hold_accum")}
        self.state = "CS_NEW"
        self.target_state: str | None = None
        self.call_state = "RINGING"
        self.early_media = False
        self.answered = False
        self.hit_dialplan = False
        self.codec = False
        self.direction = "inbound"                 # "outbound": a leg the switch originated (bridge)
        self.other: tuple[str, Channel] | None = None   # ("originator" | "originatee", the bridged leg)
        self.hangup_cause: str | None = None
        self.variables: dict[str, str] = {}
        self.executed: list[tuple[str, str]] = []
        self.events: list[Event] = []
        self.dtmf: list[str] = []
        self.peer_acked = False
        self.app_log: list[tuple[str, str]] = []
        self.originations: list[Any] = []          # bridge: every endpoint tried (originate.Leg)
        self.executed_bridges: list[str] = []      # bridge: the endpoints that answered
        self._changed = asyncio.Event()
        self.hangup_event = asyncio.Event()
        self.done_event = asyncio.Event()
        ctx = self._template_context(seed)
        for name, tpl in (seed.initial_variables if seed.initial_variables is not None else sp.INITIAL):
            self.variables[name] = self.fill(tpl, ctx)
        for k, v in seed.extra_variables.items():
            self.set_var(k, v)
        self._ctx = ctx
        switch.add_channel(self)

    # ---- templates -------------------------------------------------------------------------
    def _template_context(self, seed: ChannelSeed) -> dict[str, str]:
        c = self.switch.core
        return {"uuid": self.uuid, "core_uuid": c.core_uuid, "channel_name": self.name,
                "created_us": str(self.created_us), "created_local": date_local(self.created_us),
                "created_gmt": date_gmt(self.created_us), "created_rfc2822": rfc2822(self.created_us),
                "caller_id_name": self.caller_id_name, "caller_id_number": self.caller_id_number,
                "destination": self.destination, "domain": self.domain,
                "session_id": str(self.session_id),
                "invite_seq": str(seed.invite_seq if seed.invite_seq is not None else self.switch.seq.last),
                "ipv4": c.ipv4, "ipv6": c.ipv6, "hostname": c.hostname, "switchname": c.switchname}

    @staticmethod
    def fill(tpl: str, ctx: dict[str, str]) -> str:
        for k, v in ctx.items():
            tpl = tpl.replace(f"⟨{k}⟩", v)
        return tpl

    def apply(self, template: sp.Template) -> None:
        for name, tpl in template:
            self.set_var(name, self.fill(tpl, self._ctx))

    # ---- variables -------------------------------------------------------------------------
    def set_var(self, name: str, value: str | None) -> None:
        """switch_channel_set_variable: delete, then append at the bottom if non-empty."""
        self.variables.pop(name, None)
        if value:
            self.variables[name] = value
        self.notify()

    def get_var(self, name: str) -> str | None:
        return self.variables.get(name)

    # ---- waiting ---------------------------------------------------------------------------
    def notify(self) -> None:
        self._changed.set()

    async def wait_for(self, cond: Callable[["Channel"], bool], timeout: float = 5.0) -> None:
        async def _loop() -> None:
            while not cond(self):
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(_loop(), timeout)

    @property
    def up(self) -> bool:
        return not self.hangup_event.is_set()

    # ---- events ----------------------------------------------------------------------------
    def caller_profile_headers(self, prefix: str, *, times: bool = True) -> list[tuple[str, str]]:
        """The caller profile (``times=False``: as the other leg's copy in Other-Leg-*, whose times
        read 0 in the capture)."""
        t = self.times if times else dict.fromkeys(self.times, 0)
        created = str(self.created_us) if times else "0"
        h = [("Direction", self.direction), ("Logical-Direction", self.direction), ("Username", self.caller_id_number),
             ("Dialplan", self.dialplan), ("Caller-ID-Name", self.caller_id_name),
             ("Caller-ID-Number", self.caller_id_number), ("Orig-Caller-ID-Name", self.caller_id_name),
             ("Orig-Caller-ID-Number", self.caller_id_number), ("Network-Addr", self.network_addr),
             ("ANI", self.caller_id_number), ("Destination-Number", self.destination),
             ("Unique-ID", self.uuid), ("Source", self.source), ("Context", self.context),
             ("Channel-Name", self.name), ("Profile-Index", "1"),
             ("Profile-Created-Time", created), ("Channel-Created-Time", created),
             ("Channel-Answered-Time", str(t["answered"])), ("Channel-Progress-Time", str(t["progress"])),
             ("Channel-Progress-Media-Time", str(t["progress_media"])),
             ("Channel-Hangup-Time", str(t["hungup"])), ("Channel-Transfer-Time", str(t["transfer"])),
             ("Channel-Resurrect-Time", str(t["resurrect"])), ("Channel-Bridged-Time", str(t["bridged"])),
             ("Channel-Last-Hold", str(t["last_hold"])), ("Channel-Hold-Accum", str(t["hold_accum"])),
             ("Screen-Bit", "true"), ("Privacy-Hide-Name", "false"), ("Privacy-Hide-Number", "false")]
        return [(f"{prefix}-{k}", v) for k, v in h]

    def basic_data(self) -> list[tuple[str, str]]:
        h = [("Channel-State", self.state), ("Channel-Call-State", self.call_state),
             ("Channel-State-Number", str(STATE_NUMBERS[self.target_state or self.state])), ("Channel-Name", self.name),
             ("Unique-ID", self.uuid), ("Call-Direction", self.direction), ("Presence-Call-Direction", self.direction),
             ("Channel-HIT-Dialplan", "true" if self.hit_dialplan else "false")]
        if "presence_id" in self.variables:
            h.append(("Channel-Presence-ID", self.variables["presence_id"]))
        h.append(("Channel-Call-UUID", self.variables.get("call_uuid", self.uuid)))
        answer = ("hangup" if self.hangup_cause else "answered" if self.answered
                  else "early" if self.early_media else "ringing")
        h.append(("Answer-State", answer))
        if self.hangup_cause:
            h.append(("Hangup-Cause", self.hangup_cause))
        if self.codec:
            h += [("Channel-Read-Codec-Name", "PCMA"), ("Channel-Read-Codec-Rate", "8000"),
                  ("Channel-Read-Codec-Bit-Rate", "64000"), ("Channel-Write-Codec-Name", "PCMA"),
                  ("Channel-Write-Codec-Rate", "8000"), ("Channel-Write-Codec-Bit-Rate", "64000")]
        h += self.caller_profile_headers("Caller")
        if self.other is not None:       # a bridged leg: the other leg's profile (switch_caller.c)
            kind, other = self.other
            h += [("Other-Type", kind), *other.caller_profile_headers("Other-Leg", times=False)]
        return h

    def event_data(self, ev: Event, *, variables: bool = True) -> None:
        ev.headers += self.basic_data()
        if variables:
            ev.headers += [(f"variable_{k}", v) for k, v in self.variables.items()]

    def fire(self, name: str, calling: tuple[str, str, int], *, variables: bool = True,
             pre: list[tuple[str, str]] | None = None, post: list[tuple[str, str | None]] | None = None,
             stamp: int | None = None) -> Event:
        ev = self.switch.new_event(name, calling, stamp)
        ev.headers += pre or []
        self.event_data(ev, variables=variables)
        for k, v in post or []:
            ev.add(k, v)
        self.events.append(ev)
        self.switch.fire(ev)
        self.notify()
        return ev

    def last_stamp(self) -> int:
        return int(self.events[-1].get("Event-Date-Timestamp") or 0) if self.events else self.created_us

    # ---- state machine ---------------------------------------------------------------------
    def set_state(self, state: str, *, fire: bool = True) -> None:
        self.state = state
        self.target_state = None
        if fire:
            self.fire("CHANNEL_STATE", ("switch_channel.c", "switch_channel_perform_set_running_state", 2408),
                      variables=False)
        self.notify()

    def info(self, *_: Any) -> str:
        return "\n".join(f"{k}: {v}" for k, v in self.basic_data())
