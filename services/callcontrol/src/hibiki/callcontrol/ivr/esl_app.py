"""Runs an IVR on a call: the engine's instructions as FreeSWITCH applications.

* ``Play`` → ``playback <file>``; ``Collect`` → ``play_and_get_digits`` with one try (the
  engine counts tries, plays the invalid and timeout prompts, decides what a key means);
* a branch that leaves the IVR → ``transfer <destination> XML <the call's context>``:
  the extension itself, else ``hibiki_route_<ring_group|voicemail|external>_<target>``, which
  the directory's dialplan routes for calls carrying ``hibiki_tenant``; ``hibiki_ivr_id`` and
  ``hibiki_ivr_path`` (``main:1>sub:3``) are set first, so the path travels with the call;
* a queue → QueueEntered, ``hibiki_queue``, then the ACD (``queue.waiting``): hold music and
  announcements, the agent's devices rung and bridged, the maximum wait's destination;
* ``Hangup`` → ``hangup <cause>``.

Events: IvrEntered, MenuChoice per decision, QueueEntered, CallAbandoned when the caller
hangs up inside the IVR or in the queue. Whatever fails (no IVR, the directory down or slow,
a prompt that cannot be played, a refused command) ends with ``Outcome.HAND_BACK``: the
caller goes on with the dialplan's fallback route, never silence (CC-11).
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from hibiki.common import dialstring
from hibiki.callcontrol.ivr.bridge import LoopBridge
from hibiki.callcontrol.ivr.channel import CallerGone, CommandRefused, ConnectionLost, EslChannel, Released
from hibiki.callcontrol.ivr.engine import IvrRun, IvrStateError
from hibiki.callcontrol.ivr.instructions import (
    Collect,
    Decision,
    Enqueue,
    Fault,
    Hangup,
    Instruction,
    Play,
    PromptRef,
    StartRecording,
    Step,
    Transfer,
    format_path,
)
from hibiki.callcontrol.ivr.notifier import IvrNotifier
from hibiki.callcontrol.ivr.prompts import PromptUnavailable
from hibiki.callcontrol.ivr.source import IvrUnavailable
from hibiki.callcontrol.publisher import EventSink
from hibiki.callcontrol.outcome import Outcome
from hibiki.callcontrol.queue.services import QueueRequest, QueueServices
from hibiki.callcontrol.queue.waiting import QueueCall
from hibiki.common.logging import get_logger
from hibiki.directory.v1 import ivr_pb2

log = get_logger("hibiki.callcontrol.ivr")
_CONTEXT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_:>*#+.-]")

Fetch = Callable[[str, str, datetime | None, int], Coroutine[Any, Any, ivr_pb2.Ivr]]   # IvrCache.get
Resolve = Callable[[str, PromptRef], Coroutine[Any, Any, str]]


@dataclass(frozen=True)
class IvrServices:
    """What every IVR call shares: where IVRs and prompts come from, where events go."""

    fetch: Fetch                     # IvrCache.get (tenant, IVR id, moment, the call's config version)
    resolve: Resolve                 # PromptResolver.path
    bridge: LoopBridge
    publisher: EventSink
    hold_music: str = "local_stream://default"
    queue: QueueServices | None = None   # the ACD (None: queue branches go to the fallback)
    fetch_timeout: float = 3.0       # beyond the gRPC deadline, in case the loop itself is stuck
    recordings_root: str = ""        # where FreeSWITCH writes recordings ("" = do not record)
    prompt_timeout: float = 30.0     # a first synthesis of a long text
    clock: Callable[[], float] = time.monotonic


def destination(transfer: Transfer) -> str:
    return transfer.target if transfer.kind == "extension" else f"hibiki_route_{transfer.kind}_{transfer.target}"


class IvrCall:
    def __init__(self, channel: EslChannel, services: IvrServices, tenant: str, ivr_id: str) -> None:
        self._ch, self._s = channel, services
        self._tenant, self._ivr_id = tenant, ivr_id
        self._notify = IvrNotifier(services.publisher, tenant, channel.uuid, channel.data.get("FreeSWITCH-Hostname", ""))
        context = channel.data.get("Caller-Context", "")
        self._context = context if _CONTEXT.match(context) else "default"
        self._paths: dict[PromptRef, str] = {}
        self._hanging_up = False
        self._started = services.clock()
        self._queue: Enqueue | None = None
        self._recording = ""             # the spool path record_session writes on the caller's channel
        self._recording_scope = ""       # and the policy scope it records under
        self._noticed = False            # the policy's notice was played
        self._pairs = False              # the legs this channel bridges record themselves (queue calls)
        self._bound = False              # *1 / *2 bound
        self._waiting: QueueCall | None = None
        self._queued_at = 0.0
        self.engine: IvrRun | None = None

    def run(self) -> Outcome:
        return self._guarded(self._run)

    def run_queue(self, queue_id: str) -> Outcome:
        """A call routed straight to a queue (a number whose route is ``queue:<id>``)."""
        return self._guarded(lambda: self._queue_only(queue_id))

    def _queue_only(self, queue_id: str) -> Outcome:
        self._ch.subscribe()
        self._ch.execute("answer")
        if not dialstring.TOKEN.fullmatch(queue_id):     # the queue's policy cannot be looked up
            self._policy_start(self._policy(), self._scope())
        return self._enqueue(Enqueue(queue_id, 0, ()), ())

    def _guarded(self, body: Callable[[], Outcome]) -> Outcome:
        try:
            return body()
        except ConnectionLost:
            return self._lost()
        except CallerGone:
            if self._hanging_up:
                return Outcome.HUNG_UP
            self._abandoned()
            return Outcome.ABANDONED
        except Released:
            log.warning("ivr_released", ivr_id=self._ivr_id, action="handing back to the dialplan fallback")
            self._ch.break_media()
            return Outcome.RELEASED
        except (IvrUnavailable, PromptUnavailable, CommandRefused, TimeoutError, IvrStateError, RuntimeError,
                dialstring.UnsafeValue) as exc:
            log.error("ivr_unavailable" if self.engine is None else "ivr_failed", ivr_id=self._ivr_id,
                      error_id=getattr(exc, "error_id", type(exc).__name__), error=str(exc),
                      action="handing back to the dialplan fallback")
            return Outcome.HAND_BACK

    def _run(self) -> Outcome:
        self._ch.subscribe()
        ivr = self._fetch()
        self.engine = IvrRun(ivr)
        self._notify.entered(ivr.id or self._ivr_id, ivr.name)
        log.info("ivr_entered", ivr_id=self._ivr_id, ivr_version=ivr.version, menus=len(ivr.menus))
        self._ch.execute("answer")
        self._ch.set("playback_terminators", "none")     # the recording notice cannot be skipped
        if not ivr.HasField("recording_notice") or self._policy() == "on_demand":
            self._policy_start(self._policy(), self._scope())   # the policy's own notice, then recording
        return self._drive(self.engine)

    def _scope(self) -> str:
        scope = self._ch.data.get("variable_hibiki_recording_scope", "")
        return scope if dialstring.TOKEN.fullmatch(scope) else "tenant"

    def _moment(self) -> datetime | None:
        """The IVR test mode (tools/ivr_test.py) runs a path at the moment that leads there: the
        dialplan sets ``hibiki_ivr_at`` (a caller cannot set channel variables); else now."""
        value = self._ch.data.get("variable_hibiki_ivr_at", "")
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            log.warning("ivr_test_moment_ignored", ivr_id=self._ivr_id, value=value[:40])
            return None
        return moment if moment.tzinfo is not None else None

    def _version(self) -> int:
        """The tenant version the directory routed the call with (``hibiki_config_version``, set
        by its dialplan: a caller cannot set channel variables); 0 if absent or unreadable."""
        value = self._ch.data.get("variable_hibiki_config_version", "")
        return int(value) if value.isdecimal() and len(value) <= 18 else 0

    def _fetch(self) -> ivr_pb2.Ivr:
        ivr = self._s.bridge.call(self._s.fetch(self._tenant, self._ivr_id, self._moment(), self._version()),
                                  self._s.fetch_timeout)
        if self._ch.ended_by is not None:
            raise self._ch.ended_by()
        return ivr

    def _drive(self, engine: IvrRun) -> Outcome:
        instructions = engine.start()
        while True:
            digits: str | None = None
            for instruction in instructions:
                outcome = self._do(instruction, engine)
                if outcome is not None:
                    return outcome
                if isinstance(instruction, Collect):
                    digits = self._collect(instruction)
            if digits is None:
                raise IvrStateError("a turn of the IVR ended without waiting and without an end")
            instructions = engine.key(digits) if digits else engine.timeout()

    def _do(self, instruction: Instruction, engine: IvrRun) -> Outcome | None:
        if isinstance(instruction, Play):
            self._ch.execute("playback", self._path(instruction.prompt))
        elif isinstance(instruction, StartRecording):   # after the IVR's own notice
            if self._policy() in ("", "all"):
                self._record(self._scope() if self._policy() else "ivr")
        elif isinstance(instruction, Decision):
            step = instruction.step
            log.info("ivr_choice", ivr_id=self._ivr_id, menu_id=step.menu_id, digits=step.digits, branch=step.branch)
            self._notify.choice(step, instruction.path)
        elif isinstance(instruction, Fault):
            log.error("ivr_configuration_error", ivr_id=self._ivr_id, menu_id=instruction.menu_id,
                      error_id=instruction.error_id, detail=instruction.detail)
        elif isinstance(instruction, Transfer):
            self._leave(engine)
            if self._recording:
                # recorded since the IVR: its part ends here; whoever the caller reaches (a user, a
                # ring group, a transfer after that) is recorded per caller/party pair
                self._record_pairs(self._recording_scope, "")
            try:
                dialstring.transfer(destination(instruction), self._context)
            except dialstring.UnsafeValue as exc:   # the directory checked the IVR; checked again here
                log.error("ivr_transfer_refused", ivr_id=self._ivr_id, reason=str(exc))
                return Outcome.HAND_BACK
            self._ch.transfer(destination(instruction), self._context)   # the argument checked above
            self._notify.transferred(self._ivr_id, destination(instruction))
            log.info("ivr_transferred", ivr_id=self._ivr_id, kind=instruction.kind, target=instruction.target,
                     destination=destination(instruction), context=self._context, path=format_path(engine.path))
            return Outcome.TRANSFERRED
        elif isinstance(instruction, Enqueue):
            self._leave(engine)
            return self._enqueue(instruction, tuple(engine.path))
        elif isinstance(instruction, Hangup):
            self._hanging_up = True
            log.info("ivr_hangup", ivr_id=self._ivr_id, cause=instruction.cause, path=format_path(engine.path))
            self._ch.execute("hangup", instruction.cause)
            return Outcome.HUNG_UP
        return None

    def _collect(self, collect: Collect) -> str:
        greeting = self._path(collect.greeting) if collect.greeting is not None else "silence"
        digits = self._ch.collect(greeting, collect.timeout_seconds * 1000, collect.keys)
        log.debug("ivr_input", menu_id=collect.menu_id, attempt=collect.attempt, digits=digits)
        return digits

    def _policy(self) -> str:
        """The recording policy's mode for this call, as the directory's dialplan set it
        (``hibiki_recording_mode``: all | none | on_demand; "" when the tenant has no policy:
        the call is recorded when its IVR has a recording notice)."""
        mode = self._ch.data.get("variable_hibiki_recording_mode", "")
        return mode if mode in ("all", "none", "on_demand") else ""

    def _queue_policy(self, queue_id: str) -> tuple[str, str]:
        """A queue's own mode (``hibiki_recording_queues``: ``<queue>=<mode>;...``) and the scope
        ``queue``, else the call's mode and scope."""
        for item in self._ch.data.get("variable_hibiki_recording_queues", "").split(";"):
            name, _, mode = item.partition("=")
            if name == queue_id and mode in ("all", "none", "on_demand"):
                return mode, "queue"
        return self._policy(), self._scope()

    def _policy_start(self, mode: str, scope: str, queue_id: str = "") -> None:
        """Before the IVR or the queue: the policy's notice and recording (``all``), or ``*1``/``*2``
        bound (``on_demand``, the dialplan's ``hibiki_record_start`` / ``_stop``). In a queue
        (``queue_id``) an ``all`` call is recorded per caller/agent pair (``_record_pairs``)."""
        if mode == "all" and not self._recording and not self._pairs:
            notice = self._ch.data.get("variable_hibiki_recording_notice", "")
            if notice and dialstring.SOUND.fullmatch(notice) and not self._noticed:
                self._noticed = True
                self._ch.set("playback_terminators", "none")
                self._ch.execute("playback", notice)
            if queue_id:
                self._record_pairs(scope, queue_id)
            else:
                self._record(scope)
        elif mode in ("all", "") and self._recording and queue_id:
            # recorded since the IVR (by the policy, or by the IVR's own notice when the tenant has
            # no policy): the IVR's part ends here, each agent gets a recording of their own
            self._record_pairs(scope if mode else "ivr", queue_id)
        elif mode == "on_demand" and not self._bound and self._s.recordings_root:
            self._bound = True
            path = self._spool_path(str(uuid.uuid4()))
            for name, value in (("hibiki_recording_mode", "on_demand"), ("RECORD_STEREO", "true"),
                                ("hibiki_recording_reason", "on_demand"), ("hibiki_recording_scope", "on_demand"),
                                ("hibiki_on_demand_path", path)):
                self._ch.set(name, value)
            self._ch.execute("bind_meta_app", f"1 ab s record_session::{path}")
            self._ch.execute("bind_meta_app", f"2 ab s stop_record_session::{path}")

    def _spool_path(self, recording_id: str) -> str:
        day = time.strftime("%Y/%m/%d", time.gmtime())
        return f"{self._s.recordings_root.rstrip('/')}/{_UNSAFE.sub('_', self._tenant)}/{day}/{recording_id}.wav"

    def _record(self, scope: str = "ivr") -> None:
        """``record_session`` in stereo into ``<spool>/<tenant>/<yyyy>/<mm>/<dd>/<recording id>.wav``
        (UTC date; the recording service takes it on RecordingStopped); RecordingStarted is published."""
        if not self._s.recordings_root or self._recording:
            return
        recording_id = str(uuid.uuid4())
        path = self._spool_path(recording_id)
        self._recording, self._recording_scope = path, scope
        self._ch.set("RECORD_STEREO", "true")
        self._ch.set("hibiki_recording_reason", "policy")
        self._ch.set("hibiki_recording_scope", scope)
        self._ch.set("hibiki_recording_path", path)
        self._ch.set("hibiki_recording_id", recording_id)     # CallEnded's and RecordingStopped's recording_id
        self._ch.execute("record_session", path)
        self._notify.recording_started(recording_id)
        log.info("recording_started", ivr_id=self._ivr_id, recording_id=recording_id, path=path, scope=scope)

    def _record_pairs(self, scope: str, queue_id: str) -> None:
        """One recording per caller/agent pair (a queue call, or an IVR's transfer to a user or a
        ring group; REC-01): every leg this channel
        bridges from now on (the agents the ACD rings, the target of an agent's transfer) runs
        ``record_session`` on itself once answered (``execute_on_answer``, exported ``nolocal:``
        to the legs only), in stereo with the channels swapped (``RECORD_STEREO_SWAP``) so the
        caller stays on channel 1 and the agent is on channel 2. The recording ends with that leg;
        its RecordingStopped carries the call's ``hibiki_call_id`` and the leg's agent or user.

        FreeSWITCH refuses an exported value holding ``${`` on the new leg ("contains a variable"),
        so the path is made on this channel: before every originate (``execute_on_pre_originate``,
        set as is with ``uuid_setvar``, expanded when it runs) a fresh
        ``<spool>/<tenant>/<yyyy>/<mm>/<dd>/<new UUID>.wav`` goes into the exported value. A
        recording of the caller's channel started in the IVR stops here (the IVR's part)."""
        if not self._s.recordings_root or self._pairs:
            return
        self._pairs = True
        if self._recording:
            self._ch.execute("stop_record_session", self._recording)
            self._recording = ""
        exported = [("RECORD_STEREO", "true"), ("RECORD_STEREO_SWAP", "true"), ("hibiki_recording_reason", "policy"),
                    ("hibiki_recording_scope", scope), ("execute_on_answer", "-")]
        if queue_id:
            exported.append(("hibiki_recording_queue", queue_id))
        for name, value in exported:
            self._ch.execute("export", f"nolocal:{name}={value}")      # tokens (checked by the callers)
        self._ch.set("hibiki_recording_pairs", "true")      # the directory's dialplan binds no *1 / *2 then
        tenant = _UNSAFE.sub("_", self._tenant)
        path = f"{self._s.recordings_root.rstrip('/')}/{tenant}/${{strftime_tz(UTC %Y/%m/%d)}}/${{create_uuid()}}.wav"
        self._ch.api(f"uuid_setvar {self._ch.uuid} execute_on_pre_originate "
                     f"set nolocal:execute_on_answer=record_session {path}")
        log.info("recording_pairs", ivr_id=self._ivr_id, queue_id=queue_id, scope=scope)

    def _leave(self, engine: IvrRun) -> None:
        """What travels with the call out of the IVR."""
        self._ch.queue("unset", "playback_terminators")
        self._ch.set("hibiki_ivr_id", _UNSAFE.sub("_", self._ivr_id))
        self._ch.set("hibiki_ivr_path", _UNSAFE.sub("_", format_path(engine.path)))

    def _enqueue(self, queue: Enqueue, path: tuple[Step, ...]) -> Outcome:
        self._queue, self._queued_at = queue, self._s.clock()
        self._notify.queue_entered(queue, path)
        log.info("queue_entered", queue_id=queue.queue_id, priority=queue.priority, skills=list(queue.skills),
                 path=format_path(path))
        if dialstring.TOKEN.fullmatch(queue.queue_id):   # checked by the directory; nothing to expand
            self._ch.set("hibiki_queue", queue.queue_id)
        if self._ch.data.get("variable_hibiki_ivr_at"):
            return self._test_queue(queue)
        if dialstring.TOKEN.fullmatch(queue.queue_id):
            self._policy_start(*self._queue_policy(queue.queue_id), queue.queue_id)
        if self._s.queue is None:
            log.error("queue_unavailable", queue_id=queue.queue_id, reason="no ACD configured",
                      action="handing back to the dialplan fallback")
            return Outcome.HAND_BACK
        waiting = QueueCall(self._ch, self._s.queue, self._tenant, self._context,
                            QueueRequest(queue.queue_id, queue.priority, tuple(queue.skills), path))
        self._waiting = waiting
        result = waiting.run()
        if result is Outcome.TRANSFERRED:
            self._notify.transferred(self._ivr_id, waiting.destination)
        return result

    def _test_queue(self, queue: Enqueue) -> Outcome:
        """A call of the IVR test mode (``hibiki_ivr_at``, set only by its dialplan) reached a
        queue: it stays out of the ACD (no agent rung, no queue statistics), on hold music until
        the test hangs up."""
        log.info("queue_test_call", queue_id=queue.queue_id, action="hold music, not enqueued")
        while True:
            started = self._s.clock()
            self._ch.execute("playback", self._s.hold_music)
            if self._s.clock() - started < 1.0:      # no music: do not spin
                self._ch.gone.wait(1.0)
                if self._ch.ended_by is not None:
                    raise self._ch.ended_by()

    def _path(self, prompt: PromptRef) -> str:
        if prompt not in self._paths:
            self._paths[prompt] = self._s.bridge.call(self._s.resolve(self._tenant, prompt), self._s.prompt_timeout)
        return self._paths[prompt]

    def _lost(self) -> Outcome:
        path = self.engine.path if self.engine is not None else []
        log.error("esl_connection_lost", ivr_id=self._ivr_id, path=format_path(path),
                  action="FreeSWITCH goes on with the dialplan fallback")
        return Outcome.LOST

    def _abandoned(self) -> None:
        now = self._s.clock()
        since = self._queued_at if self._queue is not None else self._started
        wait_ms = int((now - since) * 1000)
        queue_id = self._queue.queue_id if self._queue is not None else ""
        if self._waiting is not None:
            queue_id = self._waiting.queue_id       # after an overflow: the queue it left from
        path = self.engine.path if self.engine is not None else []
        self._notify.abandoned(queue_id, wait_ms, path)
        log.info("call_abandoned", ivr_id=self._ivr_id, queue_id=queue_id, wait_ms=wait_ms,
                 hangup_cause=self._ch.hangup_cause, path=format_path(path))
