"""The calls of ``just bench callcontrol``: the FreeSWITCH emulator placing IVR calls open loop.

Each call runs what the directory's dialplan gives a number routed to an IVR
(``DialplanBuilder.controller``): ``set hibiki_tenant``, ``set hibiki_app=ivr:<id>``,
``socket <controller> async full``, then the fallback (``answer``, ``playback``, ``hangup
NORMAL_TEMPORARY_FAILURE``). The caller has pressed ``1`` before the menu asks (the emulator's
``play_and_get_digits`` takes it at once; prompts last ``playback_delay=0``), so a working IVR
transfers the call to extension ``2001``, whose dialplan just hangs up (the caller has been
answered by the IVR; every application costs the emulator two events full of variables).

Timings come from the emulator's own events, taken by a sink on its switch the moment they
are fired (the emulator writes an event to the controller's socket in the same step), on
this process's clock:

- *setup*: from the ``socket`` application starting (before it connects) to the first
  application the controller makes the channel run (``answer``): TCP connect, ``connect``,
  ``myevents``, and whatever the controller does before answering (GetIvr, events);
- *event*: from each CHANNEL_EXECUTE_COMPLETE the controller waits for (``answer``,
  ``play_and_get_digits`` with the key) to the next application it makes the channel run.

Both include the emulator's own delays (reading the command, its event loop); the baseline
controller, measured the same way in the same run, shows how much. The calls of a round can
be spread over several processes (``spread``), each placing every n-th call on the same clock.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import fsemu.events  # noqa: E402
from fsemu import FreeSwitchEmulator  # noqa: E402
from fsemu.emulator import Call  # noqa: E402
from fsemu.events import Event  # noqa: E402

# The emulator url-encodes every header of every event it sends, byte by byte in Python: most
# of its CPU per call. The values repeat from call to call (the captured channel variables), so
# the same pure function, remembered, lets one core drive more calls; nothing else changes.
fsemu.events.url_encode = functools.lru_cache(maxsize=1 << 16)(fsemu.events.url_encode)  # type: ignore[attr-defined]

IVR_NUMBER, DESK = "7100", "2001"
WAITED = frozenset({"answer", "play_and_get_digits"})   # completions a controller waits for
FALLBACK_PROMPT = "system/failed.wav"
TRANSFERRED, FALLBACK, CONTROLLER_HANGUP, UNFINISHED = (
    f"transferred to {DESK}", "fallback route", "hung up by the controller", "unfinished (hung up by the bench)")
DRAIN_SECONDS = 15.0
LAG_TICK_SECONDS = 0.005


def dialplan(tenant: str, ivr_id: str, esl_port: int) -> ET.Element:
    """The bench's dialplan document: the IVR number and the desk the IVR transfers to."""
    return ET.fromstring(f"""<document type="freeswitch/xml"><section name="dialplan">
<context name="default">
  <extension name="ivr"><condition field="destination_number" expression="^{IVR_NUMBER}$">
    <action application="set" data="hibiki_tenant={tenant}"/>
    <action application="set" data="hibiki_app=ivr:{ivr_id}"/>
    <action application="socket" data="127.0.0.1:{esl_port} async full"/>
    <action application="set" data="hibiki_bench_end=fallback"/>
    <action application="answer"/>
    <action application="playback" data="{FALLBACK_PROMPT}"/>
    <action application="hangup" data="NORMAL_TEMPORARY_FAILURE"/>
  </condition></extension>
  <extension name="desk"><condition field="destination_number" expression="^{DESK}$">
    <action application="hangup" data="NORMAL_CLEARING"/>
  </condition></extension>
</context></section></document>""")


def _application(ev: Event) -> str | None:
    """``Application`` of an EXECUTE event: the emulator appends it last, so look from the end."""
    for name, value in reversed(ev.headers):
        if name == "Application":
            return value
    return None


class _Trace:
    """One call as its emulator fires its events (a sink on that emulator's switch)."""

    __slots__ = ("socket_at", "controlled", "setup_s", "waiting_since", "event_s", "controller_hangup")

    def __init__(self) -> None:
        self.socket_at = 0.0
        self.controlled = False
        self.setup_s: float | None = None
        self.waiting_since: float | None = None
        self.event_s: list[float] = []
        self.controller_hangup = False

    def __call__(self, ev: Event) -> None:
        name = ev.name
        if name == "CHANNEL_EXECUTE":
            now, app = time.perf_counter(), _application(ev)
            if app == "socket":
                self.socket_at, self.controlled = now, True
            elif self.controlled:
                if self.setup_s is None:
                    self.setup_s = now - self.socket_at
                if self.waiting_since is not None:
                    self.event_s.append(now - self.waiting_since)
                    self.waiting_since = None
                if app == "hangup":
                    self.controller_hangup = True
        elif name == "CHANNEL_EXECUTE_COMPLETE":
            now, app = time.perf_counter(), _application(ev)
            if app == "socket":
                self.controlled, self.waiting_since = False, None
            elif self.controlled and app in WAITED:
                self.waiting_since = now


@dataclass
class Round:
    """What one offered rate against one controller gave (one process's share, or merged)."""

    rate: float
    placed: int = 0
    started: float = 0.0                   # time.monotonic() of the first due call
    ended: float = 0.0                     # ... of the last call's end
    first_placed: float = 0.0
    last_placed: float = 0.0
    max_lag_s: float = 0.0                 # how late the generator placed a call at worst
    outcomes: Counter[str] = field(default_factory=Counter)
    setup_s: list[float] = field(default_factory=list)
    event_s: list[float] = field(default_factory=list)
    call_s: list[float] = field(default_factory=list)
    ok_finished: list[float] = field(default_factory=list)
    lag_s: list[float] = field(default_factory=list)       # the emulator's event loop, late by (every tick)
    cpu: dict[str, float] = field(default_factory=dict)     # CPU seconds per process during the round

    @property
    def wall_s(self) -> float:
        return self.ended - self.started

    def expected(self, outcome: str) -> int:
        return self.outcomes[outcome]

    def offered_rate(self) -> float:
        span = self.last_placed - self.first_placed
        return (self.placed - 1) / span if self.placed > 1 and span > 0 else float(self.placed)

    def completed_rate(self) -> float:
        """Calls that ended as expected per second, first to last such end (steady state)."""
        done = sorted(self.ok_finished)
        if len(done) < 2 or done[-1] <= done[0]:
            return float(len(done))
        return (len(done) - 1) / (done[-1] - done[0])

    @classmethod
    def merge(cls, parts: Iterable[Round]) -> Round:
        parts = list(parts)
        out = cls(parts[0].rate, started=min(p.started for p in parts), ended=max(p.ended for p in parts),
                  first_placed=min(p.first_placed for p in parts), last_placed=max(p.last_placed for p in parts))
        for p in parts:
            out.placed += p.placed
            out.max_lag_s = max(out.max_lag_s, p.max_lag_s)
            out.outcomes.update(p.outcomes)
            out.setup_s += p.setup_s
            out.event_s += p.event_s
            out.call_s += p.call_s
            out.ok_finished += p.ok_finished
            out.lag_s += p.lag_s
            for name, seconds in p.cpu.items():
                out.cpu[name] = out.cpu.get(name, 0.0) + seconds
        return out


def percentile_ms(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))] * 1e3


def _outcome(call: Call, trace: _Trace) -> str:
    if call.variables.get("hibiki_bench_end") == "fallback":
        return FALLBACK
    if call.channel.destination == DESK and call.executed[-1:] == [("hangup", "NORMAL_CLEARING")]:
        return TRANSFERRED
    if trace.controller_hangup:
        return CONTROLLER_HANGUP
    return f"ended otherwise ({call.hangup_cause or 'no cause'})"


async def run_round(doc: ET.Element, rate: float, seconds: float, expected: str, start_at: float,
                    part: int = 0, parts: int = 1) -> Round:
    """Calls due every ``1/rate`` s from ``start_at`` (time.monotonic) for ``seconds`` s, whatever
    the earlier ones do (open loop); this process places every ``parts``-th one from ``part``.
    Then up to :data:`DRAIN_SECONDS` for the last ones; what is left then is hung up by its
    caller and counted as unfinished. ``cpu["bench"]``: this process's CPU time meanwhile."""
    count = max(1, round(rate * seconds))
    result = Round(rate, started=start_at)
    pending: dict[asyncio.Future[None], tuple[Call, _Trace, float]] = {}
    abandoned: set[str] = set()
    all_done = asyncio.Event()
    placing = True

    def finished(task: asyncio.Future[None]) -> None:
        call, trace, placed = pending.pop(task)
        now = time.monotonic()
        outcome = UNFINISHED if call.uuid in abandoned else _outcome(call, trace)
        result.outcomes[outcome] += 1
        if outcome == expected:
            result.ok_finished.append(now)
        result.call_s.append(now - placed)
        if trace.setup_s is not None:
            result.setup_s.append(trace.setup_s)
        result.event_s += trace.event_s
        result.ended = now
        if not pending and not placing:
            all_done.set()

    async def tick() -> None:        # how late this process's event loop runs what is due
        while True:
            due = time.monotonic() + LAG_TICK_SECONDS
            await asyncio.sleep(LAG_TICK_SECONDS)
            result.lag_s.append(max(0.0, time.monotonic() - due))

    cpu = time.process_time()
    ticker = asyncio.ensure_future(tick())
    for i in range(part, count, parts):
        due = start_at + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        now = time.monotonic()
        result.max_lag_s = max(result.max_lag_s, now - due)
        # One emulator per call (its inbound ESL server is not started): an emulator hands every
        # event to every listener of its switch, so one shared by all the calls in flight would
        # cost this process more per call the more calls are in flight.
        emu = FreeSwitchEmulator(playback_delay=0.0)
        trace = _Trace()
        emu.switch.sinks.append(trace)
        call = await emu.place_call(destination=IVR_NUMBER, caller_id_number=f"090{i:08d}", context="default",
                                    dialplan_xml=doc, dtmf="1")
        if not result.placed:
            result.first_placed = now
        result.placed, result.last_placed = result.placed + 1, now
        pending[call.task] = (call, trace, now)
        call.task.add_done_callback(finished)
    placing = False
    if not pending:
        all_done.set()
    try:
        await asyncio.wait_for(all_done.wait(), DRAIN_SECONDS)
    except asyncio.TimeoutError:
        for call, _trace, _placed in list(pending.values()):
            abandoned.add(call.uuid)
            call.hangup_by_caller()
        try:
            await asyncio.wait_for(all_done.wait(), 5)
        except asyncio.TimeoutError:           # not even the caller's hangup ended them
            for task in list(pending):
                task.remove_done_callback(finished)
                pending.pop(task)
                result.outcomes[UNFINISHED] += 1
            result.ended = time.monotonic()
    ticker.cancel()
    result.ended = max(result.ended, result.last_placed)
    result.cpu["bench"] = time.process_time() - cpu
    return result


def quiet_gc() -> None:
    """The load generator's own pauses: what is set up stays out of collections, which come
    less often (each call's garbage is freed by reference counting anyway)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 1000)


# ---- worker processes ---------------------------------------------------------------------------
def worker_init(cores: list[int]) -> None:
    if cores:
        os.sched_setaffinity(0, set(cores))
    quiet_gc()


def worker_round(tenant: str, ivr_id: str, port: int, rate: float, seconds: float, expected: str,
                 start_at: float, part: int, parts: int) -> Round:
    """:func:`run_round` in a worker process (``concurrent.futures`` with the spawn method)."""
    return asyncio.run(run_round(dialplan(tenant, ivr_id, port), rate, seconds, expected, start_at, part, parts))
