"""The switch core: identity, clock, Event-Sequence, channel registry, event dispatch."""
from __future__ import annotations

import logging
import uuid as uuidlib
from typing import TYPE_CHECKING, Callable

from .events import Clock, CoreInfo, Event, Sequencer, system_clock

if TYPE_CHECKING:
    from .channel import Channel

__all__ = ["Switch", "EventSink"]

log = logging.getLogger("fsemu")
EventSink = Callable[[Event], None]


class Switch:
    """Shared state of one emulated FreeSWITCH instance."""

    def __init__(self, *, core: CoreInfo | None = None, clock: Clock = system_clock,
                 first_sequence: int = 1, uuid_factory: Callable[[], str] | None = None,
                 started_us: int | None = None) -> None:
        self.core = core or CoreInfo()
        self.clock = clock
        self.seq = Sequencer(first_sequence)
        self.channels: dict[str, "Channel"] = {}
        self.sinks: list[EventSink] = []
        self.session_counter = 0
        self.sessions_peak = 0
        self.started_us = started_us if started_us is not None else system_clock()
        self._uuid = uuid_factory or (lambda: str(uuidlib.uuid4()))

    def new_uuid(self) -> str:
        return self._uuid()

    def new_event(self, name: str, calling: tuple[str, str, int], stamp: int | None = None) -> Event:
        ts = self.clock() if stamp is None else stamp
        return Event.create(name, self.core, stamp=ts, seq=self.seq.next(), calling=calling)

    def fire(self, event: Event) -> None:
        for sink in list(self.sinks):
            try:
                sink(event)
            except Exception:  # a broken listener never breaks the switch
                log.exception("event sink failed")

    def add_channel(self, channel: "Channel") -> None:
        self.channels[channel.uuid] = channel
        self.sessions_peak = max(self.sessions_peak, len(self.channels))

    def remove_channel(self, channel: "Channel") -> None:
        self.channels.pop(channel.uuid, None)
