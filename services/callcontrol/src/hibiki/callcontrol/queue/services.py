"""What every queued call shares (``QueueServices``), what it asks for (``QueueRequest``), and
``AcdLine``: one call's requests to the ACD from its greenlet."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hibiki.acd.v1 import acd_pb2
from hibiki.callcontrol.ivr.bridge import LoopBridge
from hibiki.callcontrol.ivr.instructions import PromptRef, Step
from hibiki.callcontrol.queue.client import AcdClient, AcdRefused, AcdUnavailable
from hibiki.callcontrol.queue.router import AcdDecisions
from hibiki.common.logging import get_logger

log = get_logger("hibiki.callcontrol.queue")
T = TypeVar("T")
Resolve = Callable[[str, PromptRef], Coroutine[Any, Any, str]]
NodeGone = Callable[[str, float], Coroutine[Any, Any, bool]]


async def _never_gone(node: str, within: float) -> bool:
    return False


@dataclass(frozen=True)
class QueueServices:
    acd: AcdClient
    decisions: AcdDecisions
    bridge: LoopBridge
    resolve: Resolve
    hold_music: str = "local_stream://default"
    tenant_music: Callable[[str], str | None] = lambda tenant: None   # a tenant's own hold music (a file)
    announce_seconds: float = 30.0     # 0: no announcements
    enqueue_patience: float = 15.0     # seconds the caller waits for an ACD that cannot be asked
    acd_timeout: float = 3.0
    prompt_timeout: float = 30.0
    clock: Callable[[], float] = time.monotonic
    node_gone: NodeGone = _never_gone   # is the inbound event socket to this node down (NodePool.gone)?


@dataclass(frozen=True)
class QueueRequest:
    queue_id: str
    priority: int = 0
    skills: tuple[str, ...] = ()
    path: tuple[Step, ...] = field(default_factory=tuple)


class AcdLine:
    """One call's requests to the ACD, from the call's greenlet (parked, not the hub)."""

    def __init__(self, services: QueueServices, tenant: str, call_uuid: str) -> None:
        self.s, self.tenant, self.call_uuid = services, tenant, call_uuid
        self.queue_id = ""               # for the log lines

    def ask(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """The answer; ``AcdUnavailable``, ``AcdRefused`` or ``TimeoutError`` otherwise."""
        return self.s.bridge.call(coroutine, self.s.acd_timeout + 1.0)

    def tell(self, what: str, coroutine: Coroutine[Any, Any, Any]) -> None:
        """A report whose failure the call survives (the ACD's timers settle a lost one)."""
        try:
            self.ask(coroutine)
        except (AcdUnavailable, AcdRefused, TimeoutError) as exc:
            log.warning("acd_report_failed", request=what, queue_id=self.queue_id, error=str(exc))

    def end(self) -> None:
        """``EndCall``: the answered call is over (the agent goes to after-call work). NOT_FOUND
        means the ACD ended it already: its ``call.ended`` safety net (the channel's hang-up on
        NATS) often gets there first. The call did end, so that is said on an info line."""
        try:
            self.ask(self.s.acd.end_call(self.tenant, self.call_uuid))
        except AcdRefused as exc:
            if exc.code == "NOT_FOUND":
                log.info("acd_call_already_ended", queue_id=self.queue_id, detail=str(exc))
            else:
                log.warning("acd_report_failed", request="EndCall", queue_id=self.queue_id, error=str(exc))
        except (AcdUnavailable, TimeoutError) as exc:
            log.warning("acd_report_failed", request="EndCall", queue_id=self.queue_id, error=str(exc))

    def report(self, agent_id: str, outcome: acd_pb2.OfferOutcome.ValueType) -> None:
        self.tell("ReportOffer", self.s.acd.report(self.tenant, self.call_uuid, agent_id, outcome))

    def cancel(self, reason: str) -> None:
        self.tell("Cancel", self.s.acd.cancel(self.tenant, self.call_uuid, reason))

    def prompt(self, ref: PromptRef) -> str:
        """A prompt's playable path (``PromptUnavailable``, ``TimeoutError`` otherwise)."""
        return self.s.bridge.call(self.s.resolve(self.tenant, ref), self.s.prompt_timeout)
