"""Events: header order, dates, sequence numbers and serialisation.

* Header prefix order (Event-Name, Core-UUID, FreeSWITCH-Hostname/-Switchname/-IPv4/-IPv6,
  Event-Date-Local/-GMT/-Timestamp, Event-Calling-File/-Function/-Line-Number,
  Event-Sequence): captured events (esl/esl_outbound_session.log) and src/switch_event.c.
* Plain serialisation: ``switch_event_serialize(..., encode=TRUE)``: ``Name: urlencoded\\n``
  per header (empty value -> ``_undef_``), then ``Content-Length: N\\n\\n<body>`` or ``\\n``.
* JSON: ``switch_event_serialize_json`` = cJSON_PrintUnformatted, body as ``_body`` after a
  ``Content-Length`` key.
* Dates: ``Event-Date-Local`` ``%Y-%m-%d %H:%M:%S`` and ``Event-Date-GMT``
  ``%a, %d %b %Y %H:%M:%S GMT``; the emulator's local time zone is UTC (as in the capture).
"""
from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable

from .urlencode import url_encode

__all__ = ["Clock", "system_clock", "ScriptedClock", "CoreInfo", "Event", "Sequencer",
           "date_local", "date_gmt", "rfc2822"]

Clock = Callable[[], int]
"""Returns the current time in microseconds since the epoch."""


def system_clock() -> int:
    return time.time_ns() // 1000


class ScriptedClock:
    """A clock returning given timestamps in order (repeating the last one)."""

    def __init__(self, stamps: Iterable[int]) -> None:
        self._stamps = list(stamps)
        self._i = 0

    def __call__(self) -> int:
        if not self._stamps:
            return system_clock()
        v = self._stamps[min(self._i, len(self._stamps) - 1)]
        self._i += 1
        return v


def _dt(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, tz=timezone.utc)


def date_local(us: int) -> str:
    return _dt(us).strftime("%Y-%m-%d %H:%M:%S")


def date_gmt(us: int) -> str:
    return _dt(us).strftime("%a, %d %b %Y %H:%M:%S GMT")


def rfc2822(us: int) -> str:
    return _dt(us).strftime("%a, %d %b %Y %H:%M:%S +0000")


@dataclass
class CoreInfo:
    """Switch-wide identity (values of the capture by default)."""

    core_uuid: str = "6d60766d-6683-4459-b73d-67de1cd4ca3b"
    hostname: str = "fs"
    switchname: str = "fs"
    ipv4: str = "192.0.2.2"
    ipv6: str = "fd00::2"


class Sequencer:
    """The global Event-Sequence counter."""

    def __init__(self, start: int = 1) -> None:
        self._it = itertools.count(start)
        self.last = start - 1

    def next(self) -> int:
        self.last = next(self._it)
        return self.last

    def skip(self, n: int) -> None:
        """Reserve numbers of events FS fires but the emulator does not emit."""
        for _ in range(n):
            self.next()


@dataclass
class Event:
    name: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    subclass: str | None = None

    def get(self, name: str) -> str | None:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return None

    def add(self, name: str, value: str | None) -> None:
        if value is not None:
            self.headers.append((name, value))

    @classmethod
    def create(cls, name: str, core: CoreInfo, *, stamp: int, seq: int,
               calling: tuple[str, str, int]) -> "Event":
        ev = cls(name)
        ev.headers = [
            ("Event-Name", name), ("Core-UUID", core.core_uuid),
            ("FreeSWITCH-Hostname", core.hostname), ("FreeSWITCH-Switchname", core.switchname),
            ("FreeSWITCH-IPv4", core.ipv4), ("FreeSWITCH-IPv6", core.ipv6),
            ("Event-Date-Local", date_local(stamp)), ("Event-Date-GMT", date_gmt(stamp)),
            ("Event-Date-Timestamp", str(stamp)), ("Event-Calling-File", calling[0]),
            ("Event-Calling-Function", calling[1]), ("Event-Calling-Line-Number", str(calling[2])),
            ("Event-Sequence", str(seq)),
        ]
        return ev

    def serialize_plain(self) -> bytes:
        out = "".join(f"{k}: {url_encode(v) or '_undef_'}\n" for k, v in self.headers)
        if self.body:
            blen = len(self.body.encode("utf-8"))
            out += f"Content-Length: {blen}\n\n{self.body}"
        else:
            out += "\n"
        return out.encode("utf-8")

    def serialize_json(self) -> bytes:
        obj: dict[str, str] = {}
        for k, v in self.headers:
            obj.setdefault(k, v)
        if self.body:
            obj["Content-Length"] = str(len(self.body.encode("utf-8")))
            obj["_body"] = self.body
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
