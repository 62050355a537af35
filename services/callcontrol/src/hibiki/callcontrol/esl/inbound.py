"""One inbound event-socket connection to one FreeSWITCH node (mod_event_socket, :8021).

``NodeConnection`` connects, sends ``auth <password>``, subscribes with ``event plain``
to the channel events that place calls on nodes, background-job and heartbeat events
(``model.EVENTS``) and to whatever has a handler (``on``: e.g. ``CHANNEL_BRIDGE`` or
``CUSTOM sofia::register``; a handler added while connected subscribes at once), and hands
every event to async handlers on the asyncio loop, in the
order the node sent them. ``api``/``bgapi`` may be awaited from asyncio; each has a
timeout, so a dead or hung node never blocks a caller.

A supervising greenlet owns the connection: when it cannot connect, is refused, fails
``auth``, the socket drops, or nothing (not even the ``HEARTBEAT`` FreeSWITCH fires every
20 s) arrived for ``idle_timeout`` seconds, it closes what is left and tries again after
a backoff (0.5 s doubling to 10 s, with jitter), until ``stop``. ``state`` shows whether
the node is connected, the last error and the counters readiness and /metrics use.

Threads: the connection runs on a gevent hub in a thread of its own (``hub.GeventThread``);
everything that changes ``state`` or calls handlers runs on the asyncio loop, reached
with ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from typing import Any

from gevent.event import Event as GeventEvent

from hibiki.callcontrol.esl.errors import (
    CommandRefused,
    CommandTimeout,
    ConnectionLost,
    HandshakeFailed,
    NodeError,
    NodeUnavailable,
)
from hibiki.callcontrol.esl.hub import GeventThread, ThreadStopped
from hibiki.callcontrol.esl.model import CUSTOM_EVENTS, EVENTS, Backoff, NodeAddress, NodeEvent, NodeState
from hibiki.callcontrol.esl.wire import InboundWire
from hibiki.common.logging import get_logger

log = get_logger("hibiki.callcontrol.esl.inbound")
QUEUE_LIMIT = 10_000  # events waiting for handlers; beyond it new ones are dropped and counted

EventHandler = Callable[[NodeEvent], Awaitable[None]]
EventWatcher = Callable[[NodeEvent], None]
ConnectHook = Callable[["NodeConnection"], Coroutine[Any, Any, None]]


class NodeConnection:
    def __init__(self, address: NodeAddress, password: str, *, events: Sequence[str] = EVENTS,
                 custom_events: Sequence[str] = CUSTOM_EVENTS, backoff: Backoff = Backoff(),
                 connect_timeout: float = 5.0, api_timeout: float = 5.0, bgapi_timeout: float = 60.0,
                 idle_timeout: float | None = 60.0) -> None:
        self.address = address
        self._password = password
        self._events, self._custom_events = tuple(events), tuple(custom_events)
        self._backoff = backoff
        self._connect_timeout = connect_timeout
        self.api_timeout = api_timeout
        self.bgapi_timeout = bgapi_timeout
        self._idle_timeout = idle_timeout
        self._handlers: dict[str, list[EventHandler]] = {}
        self._watchers: list[EventWatcher] = []
        self._connect_hooks: list[ConnectHook] = []
        self._jobs: dict[str, asyncio.Future[str]] = {}
        self._state = NodeState(address.name, f"{address.host}:{address.port}")
        self._changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[NodeEvent] = asyncio.Queue(QUEUE_LIMIT)
        self._consumer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False
        self._posted: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()   # hub -> loop, in order
        self._drain_due = False      # a _drain is scheduled on the loop and has not started yet
        self._hub = GeventThread(f"esl-inbound-{address.name}")
        # gevent side (touched on the hub's thread only)
        self._wire: InboundWire | None = None
        self._stop_requested: Any = None
        self._supervisor: Any = None

    @property
    def name(self) -> str:
        return self.address.name

    @property
    def state(self) -> NodeState:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state.connected

    # ---- asyncio side -------------------------------------------------------------------
    def on(self, name: str, handler: EventHandler) -> None:
        """Call ``handler`` for events named ``name`` (``Event-Name``, or the subclass of a
        CUSTOM event such as ``sofia::register``; ``*`` for all), one event at a time."""
        self._handlers.setdefault(name, []).append(handler)
        if self._wire is not None:
            self._hub.spawn(self._subscribe_more)

    def _wanted(self) -> tuple[list[str], list[str]]:
        """The events and CUSTOM subclasses to subscribe to: the fixed ones and every handler's."""
        names, custom = list(self._events), list(self._custom_events)
        for name in list(self._handlers):
            if name == "*":          # every event the connection gets: adds none
                continue
            if "::" in name:
                custom.append(name)
            else:
                names.append(name)
        return list(dict.fromkeys(names)), list(dict.fromkeys(custom))

    @staticmethod
    def _subscription(names: list[str], custom: list[str]) -> str:
        return " ".join(["event", "plain", *names, *(["CUSTOM", *custom] if custom else [])])

    def _subscribe_more(self) -> None:
        """(hub) Subscribe the connected wire to what handlers added since it subscribed."""
        wire = self._wire
        if wire is None:
            return
        names, custom = self._wanted()
        names = [n for n in names if n not in wire.subscribed]
        custom = [c for c in custom if c not in wire.subscribed]
        if not names and not custom:
            return
        wire.subscribed.update(names + custom)
        try:
            wire.send(self._subscription(names, custom))
        except Exception as exc:   # the connection is going: the next one subscribes to everything
            log.warning("fs_node_subscribe_failed", node=self.name, error=_describe(exc))

    def watch(self, watcher: EventWatcher) -> None:
        """Call ``watcher`` synchronously on the loop for every event, before the handlers."""
        self._watchers.append(watcher)

    def on_connect(self, hook: ConnectHook) -> None:
        """Run ``hook`` as a task after every successful (re)connection."""
        self._connect_hooks.append(hook)

    async def start(self) -> None:
        """Start connecting in the background; returns at once (see ``wait_until``).
        A connection is started once; after ``stop`` make a new one."""
        self._loop = asyncio.get_running_loop()
        self._consumer = asyncio.create_task(self._consume(), name=f"esl-events-{self.name}")
        await asyncio.to_thread(self._hub.start, self._main)

    async def stop(self) -> None:
        """Say ``exit`` to the node (at most 0.5 s), close, and end the thread."""
        self._stopped = True  # what the hub still posts is ignored from now on
        self._hub.spawn(self._shutdown)
        await asyncio.to_thread(self._hub.join, 5)
        for task in [*self._tasks, *([self._consumer] if self._consumer else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks, *([self._consumer] if self._consumer else []), return_exceptions=True)
        self._fail_jobs(NodeUnavailable(self.name, "stopped"))
        self._update(connected=False)

    async def wait_until(self, predicate: Callable[[NodeState], bool], timeout: float = 10.0) -> NodeState:
        """Wait until ``predicate(state)`` holds (state changes and events wake it)."""
        async with asyncio.timeout(timeout):
            while not predicate(self._state):
                await self._changed.wait()
        return self._state

    async def api(self, command: str, timeout: float | None = None) -> str:
        """``api <command>``: the reply body, as FreeSWITCH wrote it (``-ERR ...`` included).

        FreeSWITCH runs ``api`` inside the connection's own thread (``api_exec`` called from
        ``parse_command``), so no event arrives while it runs: use ``bgapi`` for anything slow
        (originate)."""
        return await self._command(f"api {_checked(command)}", self.api_timeout if timeout is None else timeout)

    async def bgapi(self, command: str, timeout: float | None = None) -> str:
        """``bgapi <command>``: the body of its BACKGROUND_JOB event (``Job-UUID`` chosen here)."""
        wait = self.bgapi_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        job = str(uuid.uuid4())
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._jobs[job] = done
        try:
            reply = await self._command(f"bgapi {_checked(command)}\nJob-UUID: {job}", wait)
            if not reply.startswith("+OK"):
                raise CommandRefused(self.name, f"bgapi: {reply}")
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    return await done
            except TimeoutError:
                self._update(command_timeouts=self._state.command_timeouts + 1)
                raise CommandTimeout(self.name, f"bgapi: no BACKGROUND_JOB within {wait:g} s") from None
        finally:
            self._jobs.pop(job, None)

    async def _command(self, text: str, timeout: float) -> str:
        if not self._state.connected:
            raise NodeUnavailable(self.name, f"not connected ({self._state.last_error or 'connecting'})")
        future = self._hub.call(lambda: self._send(text, timeout))
        try:
            async with asyncio.timeout(timeout + 1.0):  # the hub's own timeout fires first
                return await asyncio.wrap_future(future)
        except (TimeoutError, CommandTimeout):
            self._update(command_timeouts=self._state.command_timeouts + 1)
            raise CommandTimeout(self.name, f"{text.split(' ', 1)[0]}: no reply within {timeout:g} s") from None
        except ThreadStopped:
            raise NodeUnavailable(self.name, "stopped") from None

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        """From the hub's thread: run ``fn(*args)`` on the asyncio loop (unless stopped), in the
        order posted. What is posted before the loop got to the last wake-up rides on it: one
        ``call_soon_threadsafe`` (a write to the loop's self-pipe) per batch of events, not per
        event (under load it was a tenth of callcontrol's CPU)."""
        if self._loop is None:
            return
        self._posted.append((fn, args))
        if self._drain_due:      # the scheduled _drain has not started: it takes this one too
            return
        self._drain_due = True
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: the service is going away
            pass

    def _drain(self) -> None:
        """On the loop: run what the hub posted, oldest first (the flag is cleared before the
        first is taken, so anything posted meanwhile is either taken here or wakes the loop again)."""
        self._drain_due = False
        while self._posted:
            fn, args = self._posted.popleft()
            if self._stopped:
                continue
            try:
                fn(*args)
            except Exception:
                log.exception("fs_node_post_failed", node=self.name, call=getattr(fn, "__name__", "?"))

    def _update(self, **changes: Any) -> None:
        self._state = replace(self._state, **changes)
        self._changed.set()
        self._changed = asyncio.Event()

    def _connected(self) -> None:
        state = self._state
        self._update(connected=True, connects=state.connects + 1, changed_at=time.time())
        log.info("fs_node_connected", node=self.name, address=state.address, reconnects=self._state.reconnects)
        for hook in self._connect_hooks:
            task = asyncio.create_task(hook(self))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _failed(self, error: str, was_connected: bool, retry_in: float) -> None:
        state = self._state
        if was_connected:
            log.warning("fs_node_lost", node=self.name, address=state.address, error=error, retry_in=round(retry_in, 2))
        elif error != state.last_error:
            log.warning("fs_node_connect_failed", node=self.name, address=state.address, error=error,
                        retry_in=round(retry_in, 2))
        else:  # the same failure again: one warning is enough
            log.debug("fs_node_connect_failed", node=self.name, error=error, retry_in=round(retry_in, 2))
        now = time.time()
        if not was_connected:
            self._update(last_error=error, last_error_at=now, failures=state.failures + 1)
            return
        self._update(connected=False, last_error=error, last_error_at=now, drops=state.drops + 1, changed_at=now)
        self._fail_jobs(ConnectionLost(self.name, f"connection lost: {error}"))

    def _deliver(self, event: NodeEvent) -> None:
        state = self._state
        hostname = event.headers.get("FreeSWITCH-Hostname", state.hostname)
        if event.name == "BACKGROUND_JOB":
            job = self._jobs.get(event.get("Job-UUID"))
            if job is not None and not job.done():
                job.set_result(event.body)
        for watcher in self._watchers:
            try:
                watcher(event)
            except Exception:
                log.exception("fs_event_watcher_failed", node=self.name, event_name=event.name)
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._update(events=state.events + 1, dropped_events=state.dropped_events + 1, hostname=hostname)
            if state.dropped_events % 1000 == 0:
                log.error("fs_events_dropped", node=self.name, dropped=state.dropped_events + 1,
                          reason="handlers too slow")
            return
        self._update(events=state.events + 1, hostname=hostname)

    async def _consume(self) -> None:
        while True:
            event = await self._queue.get()
            for handler in [*self._handlers.get(event.name, ()), *self._handlers.get("*", ())]:
                try:
                    await handler(event)
                except Exception:
                    log.exception("fs_event_handler_failed", node=self.name, event_name=event.name,
                                  call_uuid=event.call_uuid or None)

    def _fail_jobs(self, error: NodeError) -> None:
        for job in self._jobs.values():
            if not job.done():
                job.set_exception(error)

    # ---- gevent side (the hub's thread) -------------------------------------------------
    def _main(self) -> None:
        self._stop_requested = GeventEvent()
        self._supervisor = self._hub.greenlet(self._supervise)
        self._supervisor.join()

    def _shutdown(self) -> None:
        if self._stop_requested is None or self._stop_requested.is_set():
            return
        self._stop_requested.set()
        wire = self._wire
        if wire is not None:
            wire.goodbye(0.5)
        self._supervisor.kill(block=True, timeout=2)

    def _supervise(self) -> None:
        attempt = 0
        while not self._stop_requested.is_set():
            wire = InboundWire(self.name, self.address.host, self.address.port, self._password,
                               self._connect_timeout, self._on_wire_event)
            try:
                try:
                    wire.connect()
                    names, custom = self._wanted()
                    wire.subscribed.update(names + custom)
                    reply = wire.send(self._subscription(names, custom))
                    if not reply.data.startswith("+OK"):
                        raise HandshakeFailed(f"subscription refused: {reply.data!r}")
                except Exception as exc:  # whatever it was, the node is retried
                    wire.close()
                    delay = self._backoff.delay(attempt)
                    attempt += 1
                    self._post(self._failed, _describe(exc), False, delay)
                    self._stop_requested.wait(delay)
                    continue
                self._wire = wire
                self._subscribe_more()      # handlers added while the subscription was on its way
                self._post(self._connected)
                error = self._watch(wire)
            finally:
                self._wire = None
                wire.close()
            if self._stop_requested.is_set():
                break
            delay = self._backoff.delay(0)
            attempt = 1
            self._post(self._failed, error, True, delay)
            self._stop_requested.wait(delay)

    def _watch(self, wire: InboundWire) -> str:
        """Wait until the connection ends or goes quiet for too long; say why."""
        idle = self._idle_timeout
        while not wire.ended.wait(timeout=None if idle is None else max(idle / 4, 0.05)):
            if idle is not None and time.monotonic() - wire.last_received > idle:
                return f"nothing received for {idle:g} s (FreeSWITCH fires HEARTBEAT every 20 s)"
        return wire.failure or "connection closed by the node"

    def _on_wire_event(self, headers: Mapping[str, str], body: str) -> None:
        name = headers.get("Event-Name", "")
        if name == "CUSTOM":
            name = headers.get("Event-Subclass", name)
        self._post(self._deliver, NodeEvent(self.name, name, headers, body))

    def _send(self, text: str, timeout: float) -> str:
        wire = self._wire
        if wire is None:
            raise NodeUnavailable(self.name, "not connected")
        reply: str = wire.send(text, timeout).data
        return reply


def _checked(command: str) -> str:
    """A command must stay one line: a newline would let it smuggle in more commands."""
    if not command.strip() or "\n" in command or "\r" in command:
        raise ValueError(f"not a single-line FreeSWITCH command: {command!r}")
    return command.strip()


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, (NodeError, HandshakeFailed)) else f"{type(exc).__name__}: {text}"
