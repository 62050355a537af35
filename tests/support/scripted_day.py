"""The scripted day of calls the report tests count by hand (issue 12, "What it must show").

Toshima, Monday 2026-12-07 (Asia/Tokyo). Every figure the tests expect is worked out in
``HAND``, from the rows below, with the definitions of ``hibiki.analytics.reports.measures``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")
TENANT = "toshima"
DAY = "2026-12-07"
DID = "0359801111"


def at(hhmm: str) -> datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime(2026, 12, 7, h, m, tzinfo=TOKYO).astimezone(UTC)


@dataclass
class Call:
    """One call as the scripted day makes it (seconds; what ``calls`` stores in ms)."""

    call_id: str
    start: str                     # HH:MM Tokyo
    result: str
    ivr_path: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    agent: str = ""
    wait: int = 0
    ring: int = 0
    talk: int = 0
    acw: int = 0
    hold: int = 0
    disposition: str = ""
    transfer_target: str = ""
    test_mode: bool = False
    direction: str = "inbound"
    caller: str = "0312345678"
    user: str = ""

    @property
    def answered(self) -> bool:
        return self.result in ("answered", "transferred")

    def row(self) -> dict[str, Any]:
        start = at(self.start)
        answer = start + timedelta(seconds=20 + self.wait + self.ring) if self.answered else None
        end = (answer or start + timedelta(seconds=20 + self.wait)) + timedelta(seconds=self.talk)
        return {
            "tenant": TENANT, "call_id": self.call_id, "version": 1, "direction": self.direction,
            "caller_number": self.caller, "caller_name": "", "callee_number": DID if self.direction == "inbound" else "0311112222",
            "did": DID if self.direction == "inbound" else "", "user_id": self.user, "agent_id": self.agent,
            "answered_by": self.agent or self.user, "start_time": start, "ring_time": start + timedelta(seconds=1),
            "answer_time": answer, "end_time": end, "ring_ms": self.ring * 1000, "wait_ms": self.wait * 1000,
            "talk_ms": self.talk * 1000, "hold_ms": self.hold * 1000, "acw_ms": self.acw * 1000,
            "ivr_path": self.ivr_path, "queue_id": self.queues[-1] if self.queues else "", "queues": self.queues,
            "overflowed": int(len(self.queues) > 1), "result": self.result, "hangup_cause": "NORMAL_CLEARING",
            "sip_code": 200, "disposition": self.disposition, "transfer_target": self.transfer_target,
            "recording_id": "", "test_mode": int(self.test_mode), "legs": 2, "node": "fs1", "retention_days": 1095,
        }


CALLS = [
    Call("c1-answered", "09:05", "answered", ["main:1"], ["general"], "a1", wait=10, talk=150, acw=30, hold=20,
         disposition="住民票"),
    Call("c2-answered-late", "09:20", "answered", ["main:1"], ["general"], "a2", wait=40, talk=90, acw=60,
         disposition="escalated"),
    Call("c3-abandoned-queue", "09:40", "abandoned_queue", ["main:1"], ["general"], wait=25),
    Call("c4-abandoned-ivr", "10:10", "abandoned_ivr", ["main:"]),
    Call("c5-overflowed", "10:30", "answered", ["main:2"], ["general", "backup"], "a1", wait=70, talk=200, acw=20,
         disposition="税"),
    Call("c6-transferred", "11:00", "transferred", ["main:1"], ["general"], "a2", wait=5, talk=60,
         transfer_target="2001"),
    Call("c7-after-hours", "18:30", "voicemail"),
    Call("c8-test-mode", "09:10", "answered", ["main:1"], ["general"], "a1", wait=3, talk=30, test_mode=True,
         disposition="住民票"),
    Call("c9-outbound", "13:00", "answered", direction="outbound", user="2001", ring=6, talk=45),
]
UNRESOLVED = ["escalated"]

# By hand, with the definitions of hibiki.analytics.reports.measures:
#   incoming: c1-c7 = 7 (c8 is a test call, c9 outbound); offered: c1-c6 = 6 (c7 reached no IVR,
#   queue or person); answered: c1, c2, c5, c6 = 4; abandoned: c3 (queue) + c4 (IVR) = 2
#   abandon rate 2/6 = 0.3333; service level: answered within 15 s (c1 10 s, c6 5 s) = 2 over
#   answered 4 + abandoned in queue 1 = 0.4; ASA (10 + 40 + 70 + 5) / 4 = 31.25 s
#   AHT ((150+30) + (90+60) + (200+20) + (60+0)) / 4 = 152.5 s; ATT (150+90+200+60)/4 = 125 s
#   hold 20 / 4 = 5 s; transfers 1 (c6); overflowed 1 (c5); FCR: c1 and c5 (c2 "escalated" is
#   unresolved, c6 transferred) = 2/4 = 0.5. Breaches: service level (0.4 < 0.8), abandon rate
#   (0.3333 >= 0.10), ATT (125 > 120); AHT 152.5 <= 180 is met.
HAND = {"key": "total", "incoming": 7, "offered": 6, "answered": 4, "abandoned": 2, "abandoned_queue": 1,
        "abandoned_ivr": 1, "abandon_rate": 0.3333, "service_level": 0.4, "asa_seconds": 31.25,
        "aht_seconds": 152.5, "att_seconds": 125.0, "avg_hold_seconds": 5.0, "transfers": 1, "overflowed": 1,
        "fcr_rate": 0.5, "breaches": ["service_level", "abandon_rate", "att"], "node_lost": 0}
HAND_BY_HOUR = {  # key: (incoming, offered, answered, abandoned)
    "2026-12-07 09:00": (3, 3, 2, 1), "2026-12-07 10:00": (2, 2, 1, 1), "2026-12-07 11:00": (1, 1, 1, 0),
    "2026-12-07 18:00": (1, 0, 0, 0)}
HAND_BY_AGENT = {"": (3, 2, 0), "a1": (2, 2, 2), "a2": (2, 2, 2)}   # key: (incoming, offered, answered)

CALL_COLUMNS = tuple(CALLS[0].row())


def call_rows() -> list[tuple[Any, ...]]:
    return [tuple(c.row()[k] for k in CALL_COLUMNS) for c in CALLS]


# --- legs for the call history (PBX-14) and agent states for the daily report -----------------

def leg(call_id: str, leg_uuid: str, role: str, user: str, start: str, answered: bool, talk: int = 0,
        caller: str = "0312345678", callee: str = "2001", test_mode: bool = False,
        direction: str = "internal") -> dict[str, Any]:
    begin = at(start)
    answer = begin + timedelta(seconds=5) if answered else None
    return {"tenant": TENANT, "call_id": call_id, "leg_uuid": leg_uuid, "version": 1, "leg": role,
            "direction": direction, "caller_number": caller, "caller_name": "", "callee_number": callee, "did": "",
            "user_id": user, "agent_id": "", "queue_id": "", "start_time": begin,
            "ring_time": begin + timedelta(seconds=1), "answer_time": answer, "bridge_time": answer,
            "end_time": (answer or begin + timedelta(seconds=20)) + timedelta(seconds=talk),
            "talk_ms": talk * 1000, "hold_ms": 0, "result": "", "hangup_cause": "NORMAL_CLEARING", "sip_code": 200,
            "transfer_target": "", "recording_id": "", "test_mode": int(test_mode), "node": "fs1",
            "retention_days": 1095}


LEGS = [
    # 2001 calls out (an outbound call through the carrier)
    leg("h1-out", "h1-out", "a", "2001", "13:00", True, 45, caller="2001", callee="0311112222", direction="outbound"),
    # 2002 calls 2001, who answers: outgoing for 2002, incoming for 2001
    leg("h2-int", "h2-int", "a", "2002", "14:00", True, 30, caller="2002", callee="2001"),
    leg("h2-int", "h2-b", "b", "2001", "14:00", True, 30, caller="2002", callee="2001"),
    # an outside caller rings 2001's desk phone and softphone; nobody answers: one missed call
    leg("h3-miss", "h3-miss", "a", "", "15:00", False, caller="0399998888", callee="2001", direction="inbound"),
    leg("h3-miss", "h3-b1", "b", "2001", "15:00", False, caller="0399998888", callee="2001", direction="inbound"),
    leg("h3-miss", "h3-b2", "b", "2001", "15:00", False, caller="0399998888", callee="2001", direction="inbound"),
    # an IVR test call that rang 2001: never shown
    leg("h4-test", "h4-b", "b", "2001", "16:00", True, 10, test_mode=True),
]
HAND_HISTORY_2001 = [("h3-miss", "missed", "0399998888"), ("h2-int", "incoming", "2002"),
                     ("h1-out", "outgoing", "0311112222")]          # newest first
HAND_HISTORY_ALL = 4                                               # 2001's three and 2002's outgoing


def state(agent: str, name: str, start: str, end: str | None, n: int) -> dict[str, Any]:
    begin = at(start)
    finish = at(end) if end else None
    return {"tenant": TENANT, "agent_id": agent, "start_time": begin, "event_id": f"s{n}", "version": 1,
            "state": name, "reason": "", "end_time": finish,
            "duration_ms": int((finish - begin).total_seconds() * 1000) if finish else 0, "call_id": "",
            "queue_ids": ["general"], "device": f"{agent}-desk", "retention_days": 1095}


AGENT_STATES = [
    state("a1", "ready", "08:55", "12:00", 1), state("a1", "logged_out", "12:00", None, 2),
    state("a2", "ready", "09:00", "10:00", 3), state("a2", "break", "10:00", "10:15", 4),
    state("a2", "logged_out", "10:15", None, 5),
    state("a3", "ready", "09:30", "09:40", 6), state("a3", "talking", "09:40", "09:45", 7),
    state("a3", "logged_out", "09:45", None, 8),
    state("a4", "logged_out", "08:00", "17:00", 9),
]
HAND_PEAK = (3, "09:30")      # a1, a2 and a3 logged in from 09:30 to 09:45


def insert_all(store: Any) -> None:
    store.insert("calls", CALL_COLUMNS, call_rows())
    columns = tuple(LEGS[0])
    store.insert("legs", columns, [tuple(r[c] for c in columns) for r in LEGS])
    columns = tuple(AGENT_STATES[0])
    store.insert("agent_states", columns, [tuple(r[c] for c in columns) for r in AGENT_STATES])
