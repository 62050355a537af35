"""One queued call on its event-socket session (a greenlet on the hub), CC-01's caller side.

* The call registers for the ACD's decisions, then enqueues (``Enqueue`` with the IVR path,
  caller number, priority and skills). While the ACD cannot be asked, the caller hears hold
  music and callcontrol asks again, up to ``enqueue_patience`` seconds; then the dialplan's
  fallback route takes the call (never silence, CC-11).
* Waiting: hold music (``playback``), broken with ``uuid_break`` when an announcement is due;
  every ``announce_seconds`` the caller hears their position and the expected wait
  (``announce``, synthesised by the prompt machinery). A decision breaks whatever the caller
  hears, music or announcement, in ~25 ms on FreeSWITCH 1.10.12 (``uuid_break`` without ``all``
  sets CF_BREAK, which the playing file sees; ``all`` would also flush applications queued
  behind it). Every application's start clears CF_BREAK (switch_core_session_exec), so a
  break that lands before FreeSWITCH has started the playback just sent is lost: the break is
  sent again every 50 ms until the playback ends. On an idle channel a break does nothing.
* ``acd.offered``: the agents are rung (``ringing``); ``acd.overflowed``: now in another
  queue; ``acd.left`` for the maximum wait: the queue's destination (``leaving``).
* The caller hangs up: ``Cancel`` (abandoned); the IVR publishes CallAbandoned with the wait.
  callcontrol stops or loses the socket: ``Cancel`` (cancelled), the dialplan's fallback takes
  the caller; a bridged call goes on, and the ACD learns its end from ``call.ended``. A socket
  lost while the inbound event socket to the call's node also drops (within
  ``NODE_CHECK_SECONDS``): FreeSWITCH died, the caller with it: ``Cancel`` (node_lost).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from google.protobuf.message import Message

from hibiki.common import dialstring
from hibiki.acd.v1 import acd_pb2 as acd_rpc
from hibiki.callcontrol.ivr.channel import CallerGone, ConnectionLost, EslChannel, Released
from hibiki.callcontrol.ivr.instructions import PromptRef
from hibiki.callcontrol.ivr.prompts import PromptUnavailable
from hibiki.callcontrol.queue.announce import announcement
from hibiki.callcontrol.queue.client import AcdRefused, AcdUnavailable
from hibiki.callcontrol.queue.leaving import leave
from hibiki.callcontrol.queue.ringing import AgentRinger
from hibiki.callcontrol.outcome import Outcome
from hibiki.callcontrol.queue.services import AcdLine, QueueRequest, QueueServices
from hibiki.common.logging import get_logger
from hibiki.events.v1 import acd_pb2

log = get_logger("hibiki.callcontrol.queue")
WAIT_SOUND = "system/please_hold.wav"   # relative to the channel's sound_prefix (its language)
HOLD_RETRY_SECONDS = 1.0          # hold music that ends at once is started again this much later
BREAK_AGAIN_SECONDS = 0.05        # a playback still running this long after uuid_break gets another
BREAK_TRIES = 40
ENQUEUE_RETRY_SECONDS = 1.0
NODE_CHECK_SECONDS = 0.5          # a broken socket waits this long for the node's event socket to drop


class QueueCall:
    def __init__(self, channel: EslChannel, services: QueueServices, tenant: str, context: str,
                 request: QueueRequest) -> None:
        import gevent
        import gevent.queue

        self._ch, self._s = channel, services
        self._context, self._request = context, request
        self._line = AcdLine(services, tenant, channel.uuid)
        self._line.queue_id = request.queue_id
        self._music = self._hold_music(tenant)
        self._ringer = AgentRinger(channel, self._line, self._music)
        self._inbox: Any = gevent.queue.Queue()
        self._hub = gevent.get_hub()        # the hub this call's greenlet runs on
        self._breakable = False             # hold music or an announcement plays (a decision breaks it)
        self._synthesis: Any = None         # the greenlet synthesising an announcement (a decision ends it)
        self._playbacks = 0                 # playbacks started (which one a break is for)
        self.destination = ""               # where a maximum wait sent the caller (for the caller's events)

    def _hold_music(self, tenant: str) -> str:
        """The tenant's own hold music if it chose one, else the platform's (never none)."""
        try:
            own = self._s.tenant_music(tenant)
        except Exception as exc:        # noqa: BLE001 - whatever the store says, the caller hears music
            log.warning("hold_music_unavailable", tenant=tenant, error=str(exc), action="the default hold music")
            own = None
        return own or self._s.hold_music

    @property
    def queue_id(self) -> str:
        return self._line.queue_id

    # ---- the call ---------------------------------------------------------------------------
    def run(self) -> Outcome:
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
            if not self._ringer.answered:
                self._line.cancel(self._lost_reason())
            raise
        except CallerGone:
            if self._ringer.answered:
                self._ringer.end_call()
                return Outcome.CONNECTED
            self._line.cancel("abandoned")
            raise
        except Released:
            # callcontrol is stopping: the caller goes back to the dialplan's fallback route.
            if not self._ringer.answered:
                self._line.cancel("cancelled")
            raise
        finally:
            self._s.decisions.unregister(self._ch.uuid)

    def _lost_reason(self) -> str:
        """``node_lost`` when the node's inbound event socket went down with the call's socket
        (FreeSWITCH died, callcontrol lives: there is no caller any more), else ``cancelled``
        (FreeSWITCH goes on with the dialplan's fallback route)."""
        node = getattr(self._ch, "node", "")
        if not node:
            return "cancelled"
        try:
            gone = self._s.bridge.call(self._s.node_gone(node, NODE_CHECK_SECONDS), NODE_CHECK_SECONDS + 1.0)
        except Exception as exc:        # noqa: BLE001 - cannot tell: the call still leaves the queue
            log.warning("queue_node_check_failed", node=node, error=str(exc) or type(exc).__name__)
            return "cancelled"
        if gone:
            log.warning("queue_node_lost", queue_id=self.queue_id, node=node,
                        reason="the call's socket and the node's event socket closed together")
        return "node_lost" if gone else "cancelled"

    def _queued(self) -> Outcome | None:
        """In one queue until the call ends there; None when a maximum wait moved it to another."""
        status = self._enqueue()
        if status is None:
            return Outcome.HAND_BACK
        self._announce(status.position, status.expected_wait_ms)
        while True:
            item = self._wait()
            if item is None:
                self._announce_now()
                continue
            kind, message = item
            if kind == "offered":
                assert isinstance(message, acd_pb2.CallOffer)
                if self._ringer.ring(message):
                    return Outcome.CONNECTED
            elif kind == "left":
                assert isinstance(message, acd_pb2.CallLeftQueue)
                if message.reason == "node_lost":
                    # the ACD heard of this call's node from no controller for its grace (a cut
                    # between the controllers and the node, not this call's socket): the call is
                    # out of the queue, so it goes to the dialplan's fallback route, never left waiting
                    log.warning("queue_node_lost", queue_id=message.queue_id, node=getattr(self._ch, "node", ""),
                                action="handing back to the dialplan fallback")
                    return Outcome.HAND_BACK
                if message.reason == "max_wait":
                    leaving = leave(self._ch, self._line, self._context, message)
                    self.destination = leaving.destination
                    if leaving.result is not None:
                        return leaving.result
                    self._request = dataclasses.replace(self._request, queue_id=leaving.queue_id)
                    self._line.queue_id = leaving.queue_id
                    return None
            elif kind == "overflowed":
                assert isinstance(message, acd_pb2.CallOverflowed)
                self._line.queue_id = message.to_queue
                if dialstring.TOKEN.fullmatch(message.to_queue):   # a queue id (the ACD's), nothing to expand
                    self._ch.set("hibiki_queue", message.to_queue)
                log.info("queue_overflowed", from_queue=message.from_queue, queue_id=message.to_queue,
                         wait_ms=message.wait_ms)

    # ---- entering ---------------------------------------------------------------------------
    def _enqueue(self) -> acd_rpc.EnqueueResponse | None:
        r = self._request
        caller = self._ch.data.get("Caller-Caller-ID-Number", "")
        give_up = self._s.clock() + self._s.enqueue_patience
        while True:
            try:
                return self._line.ask(self._s.acd.enqueue(self._line.tenant, self._ch.uuid, r.queue_id, caller=caller,
                                                          priority=r.priority, skills=r.skills, path=r.path,
                                                          node=getattr(self._ch, "node", "")))
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
        """On the NATS thread: into the call's inbox, and stop the music or announcement playing."""
        import gevent

        def arrive() -> None:                       # on the hub
            self._inbox.put((kind, message))
            if self._breakable:                     # (a break with nothing playing does nothing)
                gevent.spawn(self._break_playing)
            elif self._synthesis is not None:       # no announcement that nobody would hear whole
                self._synthesis.kill(block=False)

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

        timer = gevent.spawn_later(seconds, self._break_playing) if seconds is not None else None
        started = self._s.clock()
        try:
            self._play(self._music)
        finally:
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
            status = self._line.ask(self._s.acd.get_call(self._line.tenant, self._ch.uuid))
        except (AcdUnavailable, AcdRefused, TimeoutError) as exc:
            log.warning("queue_position_unknown", queue_id=self.queue_id, error=str(exc))
            return
        if status.state == acd_rpc.QUEUED_CALL_STATE_WAITING:
            self._announce(status.position, status.expected_wait_ms)

    def _announce(self, position: int, expected_wait_ms: int) -> None:
        """Position and expected wait, synthesised in Japanese; a tenant in another language (the
        channel's ``default_language``, set by the directory) or a synthesis that fails gets the
        stock "please hold" prompt of its language instead."""
        if self._s.announce_seconds <= 0 or position < 1 or not self._inbox.empty():
            return
        path = WAIT_SOUND
        if self._ch.data.get("variable_default_language", "ja") == "ja":
            import gevent

            self._synthesis = gevent.spawn(self._line.prompt, PromptRef("text", announcement(position, expected_wait_ms)))
            try:
                synthesised = self._synthesis.get()
            except (PromptUnavailable, TimeoutError) as exc:
                log.warning("queue_announcement_unavailable", queue_id=self.queue_id, error=str(exc),
                            action="the stock prompt")
                synthesised = WAIT_SOUND
            finally:
                self._synthesis = None
            if not isinstance(synthesised, str):    # a decision came while it was synthesised
                return
            path = synthesised
        if not self._inbox.empty():
            return
        log.info("queue_announcement", queue_id=self.queue_id, position=position, expected_wait_ms=expected_wait_ms)
        self._play(path)

    def _play(self, path: str) -> None:
        """A playback that a decision arriving meanwhile breaks (``_deliver``)."""
        self._playbacks += 1
        self._breakable = True
        try:
            self._ch.execute("playback", path)
        finally:
            self._breakable = False

    def _break_playing(self) -> None:
        """``uuid_break`` until the playback running now has ended (see the module's docstring)."""
        import gevent

        playback = self._playbacks
        for _ in range(BREAK_TRIES):
            self._ch.break_playback()
            gevent.sleep(BREAK_AGAIN_SECONDS)
            if not self._breakable or self._playbacks != playback:
                return
