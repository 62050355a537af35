"""What the controller does with a call FreeSWITCH hands it.

The directory's dialplan names the application in ``hibiki_app`` before ``socket``:
``ivr:<ivr id>`` runs that IVR (``ivr.esl_app``), ``queue:<queue id>`` puts the caller in that
ACD queue (``queue.waiting``), ``agent:<action>:<digits>`` is an agent feature code
(``agent.esl_app``). Anything else, or any failure, hands the
call back: the controller leaves the socket, FreeSWITCH's ``socket`` application returns,
and the dialplan continues with its fallback route, so no caller is left in silence (CC-11).
Every call is recorded first (CallStarted).
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Mapping
from typing import Any

from hibiki.callcontrol.agent.esl_app import AgentServices, run_agent_call
from hibiki.callcontrol.ivr.channel import EslChannel
from hibiki.callcontrol.ivr.esl_app import IvrCall, IvrServices
from hibiki.callcontrol.outcome import Outcome
from hibiki.callcontrol.publisher import EventSink, meta
from hibiki.common.logging import call_context, get_logger
from hibiki.events.v1 import call_pb2

log = get_logger("hibiki.callcontrol.calls")
_TENANT_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_IVR_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def tenant_of(channel: Mapping[str, str]) -> str:
    """The tenant the directory stamped on the channel (``hibiki_tenant``), else ``unknown``."""
    tenant = channel.get("variable_hibiki_tenant", "")
    return tenant if _TENANT_TOKEN.match(tenant) else "unknown"


def _setvar_done(result: Any, tenant: str, call_uuid: str) -> None:
    """``uuid_setvar``'s reply (on the hub, outside the call's greenlet: the context is bound here)."""
    reply = str(getattr(result.value, "data", "") or "") if result.successful() else "no reply: connection ended"
    if not reply.startswith("+OK"):
        with call_context(tenant, call_uuid):
            log.info("handoff_clear_failed", reply=reply.strip()[:80])


class ActiveCalls:
    """The calls this process controls, so that a stopping service hands every one back to its
    dialplan instead of leaving callers on a socket nobody reads. A component: ``stop`` does it."""

    def __init__(self, grace_seconds: float = 5.0) -> None:
        self._calls: set[EslChannel] = set()
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._hub: Any = None
        self._grace = grace_seconds

    def __len__(self) -> int:
        return len(self._calls)

    def add(self, channel: EslChannel, hub: Any) -> None:
        with self._lock:
            self._hub = hub
            self._calls.add(channel)
            self._idle.clear()

    def discard(self, channel: EslChannel) -> None:
        with self._lock:
            self._calls.discard(channel)
            if not self._calls:
                self._idle.set()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        with self._lock:
            calls, hub = list(self._calls), self._hub
        if not calls or hub is None:
            return
        log.warning("handing_back_calls", calls=len(calls), reason="service stopping")
        for channel in calls:
            hub.loop.run_callback_threadsafe(channel.release)
        await asyncio.to_thread(self._idle.wait, self._grace)


class CallDispatcher:
    """The application of one call (greenswitch session, on the event-socket hub)."""

    def __init__(self, session: Any, publisher: EventSink, ivr: IvrServices | None = None,
                 active: ActiveCalls | None = None, agent: AgentServices | None = None,
                 handoff_task: str = "", node: str = "") -> None:
        self._session = session
        self._node = node
        self._handoff_task = handoff_task
        self._agent = agent
        self._publisher = publisher
        self._ivr = ivr
        self._active = active

    def run(self) -> None:
        channel: Mapping[str, str] = self._session.session_data or {}
        call_uuid = channel.get("Unique-ID", "")
        tenant = tenant_of(channel)
        with call_context(tenant, call_uuid):
            destination = channel.get("Caller-Destination-Number", "")
            app = channel.get("variable_hibiki_app", "")
            log.info("call_connected", destination=destination, caller=channel.get("Caller-Caller-ID-Number", ""),
                     node=channel.get("FreeSWITCH-Hostname", ""), app=app)
            self._publisher.publish(tenant, "started", call_pb2.CallStarted(
                meta=meta(tenant, call_uuid, channel.get("FreeSWITCH-Hostname", "")),
                direction=call_pb2.CALL_DIRECTION_INBOUND,
                caller_number=channel.get("Caller-Caller-ID-Number", ""),
                caller_name=channel.get("Caller-Caller-ID-Name", ""),
                destination_number=destination,
                context=channel.get("Caller-Context", ""),
            ))
            kind, _, target = app.partition(":")
            runnable = (kind in ("ivr", "queue") and self._ivr is not None and _IVR_ID.match(target) is not None
                        or kind == "agent" and self._agent is not None) and tenant != "unknown"
            if runnable and not self._take(tenant, call_uuid):
                return
            if kind in ("ivr", "queue") and self._ivr is not None and _IVR_ID.match(target) and tenant != "unknown":
                self._run_ivr(tenant, target, queue=kind == "queue")
                return
            if kind == "agent" and self._agent is not None and tenant != "unknown":   # agent codes (CC-02)
                run_agent_call(self._session, self._agent, tenant, target, self._active)
                return
            log.warning("no_call_application", destination=destination, app=app,
                        action="handing back to the dialplan fallback")
            try:
                self._session.send("exit")
            except Exception as exc:    # the caller is gone already: nothing to hand back
                log.info("hand_back_skipped", reason=str(exc) or type(exc).__name__)

    def _take(self, tenant: str, call_uuid: str) -> bool:
        """The call is ours now: cancel the dialplan's scheduled fallback transfer
        (its task id, ``last_sched_id`` on the node) and clear ``hibiki_handoff`` so later lookups route it
        normally. False when the fallback fired already (the call is on its way there).

        Only ``sched_del``'s reply is waited for (whether the call is ours depends on it);
        ``uuid_setvar`` is sent without waiting: FreeSWITCH runs a socket's ``api`` commands in
        order, so it is done before the application's first command, and a refusal (the channel
        is gone, which that command finds out too) is logged when its reply comes."""
        try:
            if self._handoff_task:
                reply = str(getattr(self._session.send(f"api sched_del {self._handoff_task}"), "data", "") or "")
                if not reply.startswith("+OK Deleted: 1"):
                    log.warning("handoff_missed", task=self._handoff_task, reply=reply.strip()[:80],
                                action="the dialplan's fallback has the call")
                    return False
            command = f"api uuid_setvar {call_uuid} hibiki_handoff"
            post = getattr(self._session, "post", None)
            if post is None:
                self._session.send(command)
            else:
                post(command).rawlink(lambda result: _setvar_done(result, tenant, call_uuid))
        except Exception as exc:   # the caller is gone, or the socket
            log.info("take_failed", reason=str(exc) or type(exc).__name__)
            return False
        return True

    def _run_ivr(self, tenant: str, ivr_id: str, *, queue: bool = False) -> None:
        """The IVR ``ivr_id``, or with ``queue`` the queue of that id without an IVR."""
        import gevent

        assert self._ivr is not None
        channel = EslChannel(self._session)
        channel.node = self._node
        if self._active is not None:
            self._active.add(channel, gevent.get_hub())
        outcome = Outcome.HAND_BACK
        try:
            call = IvrCall(channel, self._ivr, tenant, ivr_id)
            outcome = call.run_queue(ivr_id) if queue else call.run()
        except Exception:
            log.exception("ivr_crashed", ivr_id=ivr_id, action="handing back to the dialplan fallback")
        finally:
            # After a transfer the socket is only released; otherwise FreeSWITCH goes on with
            # the dialplan's next action, the fallback route.
            channel.hand_back()
            if outcome in (Outcome.HAND_BACK, Outcome.RELEASED):
                log.warning("ivr_handed_back", ivr_id=ivr_id, outcome=str(outcome))
            if self._active is not None:
                self._active.discard(channel)
