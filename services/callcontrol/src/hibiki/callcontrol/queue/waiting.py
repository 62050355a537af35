"""One queued call on its event-socket session (a greenlet on the hub), CC-01's caller side.

* The call registers for the ACD's decisions, then enqueues (``Enqueue`` with the IVR path,
  caller number, priority and skills). While the ACD cannot be asked, the caller hears hold
  music and callcontrol asks again, up to ``enqueue_patience`` seconds; then the dialplan's
  fallback route takes the call (never silence, CC-11).
* Waiting: hold music (``playback``), broken with ``uuid_break`` when a decision arrives or an
  announcement is due; every ``announce_seconds`` the caller hears their position and the
  expected wait (``announce``, synthesised by the prompt machinery).
* An offer (``acd.offered``): callcontrol reports RINGING and ``bridge``s to the agents'
  devices (``user/<device>@<domain>``, ``leg_timeout`` = the offer's ring time, the hold
  music as ringback). CHANNEL_BRIDGE is the answer: reported ANSWERED at once (in ring-all,
  the agent is the answering leg's ``hibiki_agent``, read with ``uuid_getvar``). When the
  bridge ends the call is over: ``EndCall`` puts the agent in after-call work. A bridge
  that fails reports NO_ANSWER (rang out) or REJECTED (busy, declined, unreachable) and the
  caller waits again at the head of the queue (the ACD's rule).
* ``acd.left`` (the maximum wait): the caller goes to the queue's destination
  (``extension:…``, ``ring_group:…``, ``voicemail:…``, ``external:…`` as a transfer into the
  dialplan; ``queue:…`` enqueued there; ``message:<prompt id>`` played, then hang up; ``hangup``).
* The caller hangs up: ``Cancel`` (abandoned); the IVR publishes CallAbandoned with the wait.
  callcontrol stops or loses the socket: ``Cancel`` (cancelled), the dialplan's fallback takes
  the caller; a bridged call goes on, and the ACD learns its end from ``call.ended``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from google.protobuf.message import Message

from hibiki.acd.v1 import acd_pb2 as acd_rpc
from hibiki.callcontrol.ivr.bridge import LoopBridge
from hibiki.callcontrol.ivr.channel import CallerGone, ConnectionLost, EslChannel, Released
from hibiki.callcontrol.ivr.instructions import TRANSFER_KINDS, PromptRef, Step, Transfer
from hibiki.callcontrol.ivr.prompts import PromptUnavailable
from hibiki.callcontrol.queue.announce import announcement
from hibiki.callcontrol.queue.client import AcdClient, AcdRefused, AcdUnavailable
from hibiki.callcontrol.queue.router import AcdDecisions
from hibiki.common.logging import get_logger
from hibiki.events.v1 import acd_pb2

log = get_logger("hibiki.callcontrol.queue")
T = TypeVar("T")
HOLD_RETRY_SECONDS = 1.0          # hold music that ends at once is started again this much later
ENQUEUE_RETRY_SECONDS = 1.0
NO_ANSWER_CAUSES = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "RECOVERY_ON_TIMER_EXPIRE"})
Resolve = Callable[[str, PromptRef], Coroutine[Any, Any, str]]


class QueueResult(StrEnum):
    CONNECTED = "connected"          # an agent answered; the call is over
    TRANSFERRED = "transferred"      # the maximum wait sent the caller elsewhere
    HUNG_UP = "hung_up"              # the maximum wait's destination was to hang up
    HAND_BACK = "hand_back"          # the ACD could not take the call: the dialplan's fallback


@dataclass(frozen=True)
class QueueServices:
    acd: AcdClient
    decisions: AcdDecisions
    bridge: LoopBridge
    resolve: Resolve
    hold_music: str = "local_stream://default"
    announce_seconds: float = 30.0     # 0: no announcements
    enqueue_patience: float = 15.0     # seconds the caller waits for an ACD that cannot be asked
    acd_timeout: float = 3.0
    prompt_timeout: float = 30.0
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class QueueRequest:
    queue_id: str
    priority: int = 0
    skills: tuple[str, ...] = ()
    path: tuple[Step, ...] = field(default_factory=tuple)


def transfer_for(target: str) -> Transfer | None:
    """``kind:target`` of a queue's maximum-wait destination as a transfer, if it is one."""
    kind, _, rest = target.partition(":")
    for known in TRANSFER_KINDS:
        if kind == known and rest:
            return Transfer(known, rest)
    return None


class QueueCall:
    def __init__(self, channel: EslChannel, services: QueueServices, tenant: str, context: str,
                 request: QueueRequest) -> None:
        import gevent.queue

        self._ch, self._s = channel, services
        self._tenant, self._context, self._request = tenant, context, request
        self._inbox: Any = gevent.queue.Queue()
        self._queue_id = request.queue_id
        self._hub = _current_hub()          # the hub this call's greenlet runs on
        self._answered_by = ""
        self._answer_report: Any = None     # the greenlet reporting the answer (after CHANNEL_BRIDGE)
        self._ringing: list[acd_pb2.OfferTarget] = []
        self._on_hold = False                # hold music is playing (a decision breaks it)
        self.destination = ""            # where a maximum wait sent the caller (for the caller's events)

    # ---- the call ---------------------------------------------------------------------------
    def run(self) -> QueueResult:
        """Raises ``CallerGone`` if the caller hangs up before an agent answers (abandoned)."""
        self._s.decisions.register(self._ch.uuid, self._deliver)
        try:
            while True:
                result = self._queued()
                if result is not None:
                    return result
        except ConnectionLost:
            # FreeSWITCH goes on with the dialplan without us: a waiting call leaves the queue; a
            # bridged one goes on, and its end reaches the ACD as call.ended (inbound socket).
            if self._answer_report is None:
                self._tell("Cancel", self._s.acd.cancel(self._tenant, self._ch.uuid, "cancelled"))
            raise
        except CallerGone:
            if self._answer_report is not None:
                self._end_call()
                return QueueResult.CONNECTED
            self._tell("Cancel", self._s.acd.cancel(self._tenant, self._ch.uuid, "abandoned"))
            raise
        except Released:
            # callcontrol is stopping: the caller goes back to the dialplan's fallback route.
            if self._answer_report is None:
                self._tell("Cancel", self._s.acd.cancel(self._tenant, self._ch.uuid, "cancelled"))
            raise
        finally:
            self._s.decisions.unregister(self._ch.uuid)

    def _queued(self) -> QueueResult | None:
        """In one queue until the call ends there; None when a maximum wait moved it to another."""
        status = self._enqueue()
        if status is None:
            return QueueResult.HAND_BACK
        self._announce(status.position, status.expected_wait_ms)
        while True:
            item = self._wait()
            if item is None:
                self._announce_now()
                continue
            kind, message = item
            if kind == "offered":
                assert isinstance(message, acd_pb2.CallOffer)
                if self._ring(message):
                    return QueueResult.CONNECTED
            elif kind == "left":
                assert isinstance(message, acd_pb2.CallLeftQueue)
                if message.reason == "max_wait":
                    return self._leave(message)
            elif kind == "overflowed":
                assert isinstance(message, acd_pb2.CallOverflowed)
                self._queue_id = message.to_queue
                self._ch.set("hibiki_queue", message.to_queue)
                log.info("queue_overflowed", from_queue=message.from_queue, queue_id=message.to_queue,
                         wait_ms=message.wait_ms)

    @property
    def queue_id(self) -> str:
        return self._queue_id

    # ---- entering ---------------------------------------------------------------------------
    def _enqueue(self) -> acd_rpc.EnqueueResponse | None:
        r = self._request
        caller = self._ch.data.get("Caller-Caller-ID-Number", "")
        give_up = self._s.clock() + self._s.enqueue_patience
        while True:
            try:
                return self._ask(self._s.acd.enqueue(self._tenant, self._ch.uuid, r.queue_id, caller=caller,
                                                     priority=r.priority, skills=r.skills, path=r.path))
            except AcdRefused as refused:
                log.error("queue_refused", queue_id=r.queue_id, code=refused.code, error=str(refused),
                          action="handing back to the dialplan fallback")
                return None
            except (AcdUnavailable, TimeoutError) as exc:
                if self._s.clock() >= give_up:
                    log.error("acd_unavailable", queue_id=r.queue_id, error=str(exc),
                              action="handing back to the dialplan fallback")
                    return None
                log.warning("acd_unavailable", queue_id=r.queue_id, error=str(exc), action="asking again")
                self._hold(ENQUEUE_RETRY_SECONDS)

    # ---- waiting ----------------------------------------------------------------------------
    def _deliver(self, kind: str, message: Message) -> None:
        """On the NATS thread: into the call's inbox, and stop the hold music."""
        import gevent

        def arrive() -> None:                       # on the hub
            self._inbox.put((kind, message))
            if self._on_hold:                       # a break with nothing playing would stop the next playback
                gevent.spawn(self._ch.break_playback)

        self._hub.loop.run_callback_threadsafe(arrive)

    def _wait(self) -> tuple[str, Message] | None:
        """Hold music until a decision arrives (it) or an announcement is due (None)."""
        every = self._s.announce_seconds
        due = self._s.clock() + every if every > 0 else None
        while self._inbox.empty():
            left = None if due is None else due - self._s.clock()
            if left is not None and left <= 0:
                return None
            self._hold(left)
        item: tuple[str, Message] = self._inbox.get_nowait()
        return item

    def _hold(self, seconds: float | None) -> None:
        """Hold music for up to ``seconds`` (None: until broken), or less if a decision comes."""
        import gevent
        import gevent.queue

        timer = gevent.spawn_later(seconds, self._ch.break_playback) if seconds is not None else None
        started = self._s.clock()
        self._on_hold = True
        try:
            self._ch.execute("playback", self._s.hold_music)
        finally:
            self._on_hold = False
            if timer is not None:
                timer.kill()
        if self._inbox.empty() and self._s.clock() - started < HOLD_RETRY_SECONDS:   # no music: do not spin
            try:
                self._inbox.peek(timeout=min(HOLD_RETRY_SECONDS, seconds or HOLD_RETRY_SECONDS))
            except gevent.queue.Empty:
                pass
            if self._ch.ended_by is not None:
                raise self._ch.ended_by()

    def _announce_now(self) -> None:
        try:
            status = self._ask(self._s.acd.get_call(self._tenant, self._ch.uuid))
        except (AcdUnavailable, AcdRefused, TimeoutError) as exc:
            log.warning("queue_position_unknown", queue_id=self._queue_id, error=str(exc))
            return
        if status.state == acd_rpc.QUEUED_CALL_STATE_WAITING:
            self._announce(status.position, status.expected_wait_ms)

    def _announce(self, position: int, expected_wait_ms: int) -> None:
        if self._s.announce_seconds <= 0 or position < 1 or not self._inbox.empty():
            return
        text = announcement(position, expected_wait_ms)
        try:
            path = self._s.bridge.call(self._s.resolve(self._tenant, PromptRef("text", text)), self._s.prompt_timeout)
        except (PromptUnavailable, TimeoutError) as exc:
            log.warning("queue_announcement_unavailable", queue_id=self._queue_id, error=str(exc))
            return
        log.info("queue_announcement", queue_id=self._queue_id, position=position, expected_wait_ms=expected_wait_ms)
        self._ch.execute("playback", path)

    # ---- offers -----------------------------------------------------------------------------
    def _ring(self, offer: acd_pb2.CallOffer) -> bool:
        """Ring the offer's agents; True once one answered and the call ended."""
        domain = self._ch.data.get("variable_hibiki_domain", "")
        targets = list(offer.targets)
        if not targets:
            return False
        if not domain:
            log.error("agent_unreachable", queue_id=offer.queue_id, reason="no hibiki_domain on the call")
            for target in targets:
                self._tell("ReportOffer", self._s.acd.report(self._tenant, self._ch.uuid, target.agent_id,
                                                             acd_rpc.OFFER_OUTCOME_REJECTED))
            return False
        ring = max(1, offer.ring_seconds)
        legs = [f"[hibiki_agent={t.agent_id},leg_timeout={ring}]user/{t.device}@{domain}" for t in targets]
        self._ringing = targets
        for target in targets:
            self._tell("ReportOffer", self._s.acd.report(self._tenant, self._ch.uuid, target.agent_id,
                                                         acd_rpc.OFFER_OUTCOME_RINGING))
        log.info("agent_ringing", queue_id=offer.queue_id, agents=[t.agent_id for t in targets],
                 attempt=offer.attempt, ring_seconds=ring)
        self._ch.set("continue_on_fail", "true")
        self._ch.set("hangup_after_bridge", "true")
        self._ch.set("ringback", self._s.hold_music)
        self._ch.on("CHANNEL_BRIDGE", self._bridged)
        headers = self._ch.execute("bridge", ",".join(legs))
        if self._answer_report is not None:
            self._end_call()
            return True
        cause = headers.get("variable_originate_disposition", "") or headers.get("variable_DIALSTATUS", "")
        outcome = acd_rpc.OFFER_OUTCOME_NO_ANSWER if cause in NO_ANSWER_CAUSES else acd_rpc.OFFER_OUTCOME_REJECTED
        log.info("agent_not_reached", queue_id=offer.queue_id, cause=cause, agents=[t.agent_id for t in targets])
        for target in targets:
            self._tell("ReportOffer", self._s.acd.report(self._tenant, self._ch.uuid, target.agent_id, outcome))
        self._ringing = []
        return False

    def _bridged(self, event: Any) -> None:
        """CHANNEL_BRIDGE (on the event greenlet): an agent answered; reported on a greenlet
        of its own (finding the agent may take an API command)."""
        import gevent

        if self._answer_report is None and self._ringing:
            self._answer_report = gevent.spawn(self._answered, event, self._ringing)

    def _answered(self, event: Any, targets: list[acd_pb2.OfferTarget]) -> None:
        agent = targets[0].agent_id
        if len(targets) > 1:
            b_leg = event.headers.get("Bridge-B-Unique-ID", "") or event.headers.get("Other-Leg-Unique-ID", "")
            try:
                named = self._ch.api(f"uuid_getvar {b_leg} hibiki_agent").strip()
            except Exception as exc:   # noqa: BLE001 - the ACD's safety timer settles it
                log.warning("answering_agent_unknown", error=str(exc))
                named = ""
            agent = next((t.agent_id for t in targets if t.agent_id == named), agent)
        self._answered_by = agent
        log.info("agent_answered", queue_id=self._queue_id, agent_id=agent)
        self._tell("ReportOffer", self._s.acd.report(self._tenant, self._ch.uuid, agent,
                                                     acd_rpc.OFFER_OUTCOME_ANSWERED))

    def _end_call(self) -> None:
        if self._answer_report is not None:
            self._answer_report.join()
        self._tell("EndCall", self._s.acd.end_call(self._tenant, self._ch.uuid))
        log.info("queue_call_ended", queue_id=self._queue_id, agent_id=self._answered_by)

    # ---- leaving ----------------------------------------------------------------------------
    def _leave(self, left: acd_pb2.CallLeftQueue) -> QueueResult | None:
        self.destination = left.destination
        log.info("queue_max_wait", queue_id=left.queue_id, destination=left.destination, wait_ms=left.wait_ms)
        kind, _, target = left.destination.partition(":")
        if kind == "queue" and target:
            self._request = dataclasses.replace(self._request, queue_id=target)
            self._queue_id = target
            self._ch.set("hibiki_queue", target)
            return None                      # enqueued again, in that queue
        if kind == "message" and target and self._message(target):
            self._ch.execute("hangup", "NORMAL_CLEARING")
            return QueueResult.HUNG_UP
        transfer = transfer_for(left.destination)
        if transfer is not None:
            target = transfer.target if transfer.kind == "extension" else f"hibiki_route_{transfer.kind}_{transfer.target}"
            self._ch.queue("unset", "playback_terminators")
            self._ch.execute("transfer", f"{target} XML {self._context}")
            self.destination = target
            return QueueResult.TRANSFERRED
        if left.destination == "hangup":
            self._ch.execute("hangup", "NORMAL_CLEARING")
            return QueueResult.HUNG_UP
        log.error("queue_destination_unusable", queue_id=left.queue_id, destination=left.destination,
                  action="handing back to the dialplan fallback")
        return QueueResult.HAND_BACK

    def _message(self, prompt_id: str) -> bool:
        """Play the prompt; False if it cannot be had (the caller goes to the fallback instead)."""
        try:
            path = self._s.bridge.call(self._s.resolve(self._tenant, PromptRef("prompt_id", prompt_id)),
                                       self._s.prompt_timeout)
        except (PromptUnavailable, TimeoutError) as exc:
            log.error("queue_message_unavailable", queue_id=self._queue_id, prompt_id=prompt_id, error=str(exc))
            return False
        self._ch.execute("playback", path)
        return True

    # ---- the asyncio side -------------------------------------------------------------------
    def _ask(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._s.bridge.call(coroutine, self._s.acd_timeout + 1.0)

    def _tell(self, what: str, coroutine: Coroutine[Any, Any, Any]) -> None:
        """A report whose failure the call survives (the ACD's timers settle a lost one)."""
        try:
            self._ask(coroutine)
        except (AcdUnavailable, AcdRefused, TimeoutError) as exc:
            log.warning("acd_report_failed", request=what, queue_id=self._queue_id, error=str(exc))


def _current_hub() -> Any:
    import gevent

    return gevent.get_hub()
