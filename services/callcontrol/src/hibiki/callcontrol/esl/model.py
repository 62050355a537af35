"""What the inbound event socket talks about: node addresses, events, connection state,
the events subscribed to, and the reconnection backoff."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

# switch_event.c EVENT_NAMES. What every inbound connection subscribes to: the events that tell
# which node has which call (create, answer, hang-up), bgapi's replies and the 20 s heartbeat that
# shows the connection is alive. Any other event (e.g. CHANNEL_BRIDGE, DTMF, or a CUSTOM subclass
# such as mod_sofia's "sofia::register") is subscribed to once something registers a handler for
# it (NodeConnection.on): FreeSWITCH serializes every subscribed event with all the channel's
# variables (~170 headers) and callcontrol reads each one, so a REGISTER or a bridge nobody
# listens to is not sent.
EVENTS: tuple[str, ...] = ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB",
                           "HEARTBEAT")
CUSTOM_EVENTS: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeAddress:
    name: str
    host: str
    port: int = 8021

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.name}={host}:{self.port}"


@dataclass(frozen=True)
class Backoff:
    """Delay before connection attempt ``n`` (0-based) after a failure or a drop."""

    initial: float = 0.5
    maximum: float = 10.0
    factor: float = 2.0
    jitter: float = 0.2  # +-20 %

    def delay(self, attempt: int) -> float:
        base = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return min(self.maximum, base * random.uniform(1 - self.jitter, 1 + self.jitter))


@dataclass(frozen=True)
class NodeEvent:
    """An event as the node sent it; ``name`` is the ``Event-Subclass`` of CUSTOM events."""

    node: str
    name: str
    headers: Mapping[str, str]
    body: str = ""

    def get(self, header: str, default: str = "") -> str:
        return self.headers.get(header, default)

    @property
    def call_uuid(self) -> str:
        return self.headers.get("Unique-ID", "")


@dataclass(frozen=True)
class NodeState:
    node: str
    address: str
    connected: bool = False
    last_error: str | None = None      # the latest failure or drop, kept after reconnecting
    last_error_at: float | None = None
    connects: int = 0            # successful connections (auth and subscription accepted)
    failures: int = 0            # failed connection attempts (refused, timed out, auth, ...)
    drops: int = 0               # established connections that ended (closed, reset, silent)
    events: int = 0
    dropped_events: int = 0
    command_timeouts: int = 0
    hostname: str = ""           # FreeSWITCH-Hostname of the node's events
    changed_at: float = field(default_factory=time.time)

    @property
    def reconnects(self) -> int:
        return max(0, self.connects - 1)
