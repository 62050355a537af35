"""The outbound event-socket server FreeSWITCH connects to (``socket host:8084 async full``).

greenswitch speaks the protocol (hardened in ``esl.session``); it is gevent based, so the
server runs on a gevent hub in a thread of its own, and talks to the asyncio side (NATS,
the node check) only through thread-safe hand-offs. Unlike greenswitch's own server loop it
accepts without polling and never calls ``sys.exit``. Every connection is a stranger until:

* its address is in the allow-list (``HIBIKI_CALLCONTROL_ESL_ALLOW``), else it is closed;
* there is room: at most ``max_sessions`` connections at once
  (``HIBIKI_CALLCONTROL_ESL_MAX_SESSIONS``); beyond it a new one is closed at once, so a
  flood is refused instead of wedging the port (FreeSWITCH's caller gets the dialplan's
  fallback);
* ``connect`` is answered and the session checked (``verify``: ``esl.trust``) within
  ``handshake_timeout`` seconds (``HIBIKI_CALLCONTROL_ESL_HANDSHAKE_TIMEOUT``), else it is
  closed; a session refused by the check, or a second session for a call that already has
  one, is closed without acting on anything it said.

``alive`` is the liveness of this side: the thread runs and its hub turns (a heartbeat
greenlet every 0.5 s); ``/healthz`` reports it.

``drain`` (SIGTERM, an update): the listening socket is closed (no new session: with
``SO_REUSEPORT`` the kernel gives new connections to the replica listening next to this one,
behind a Kubernetes Service they go to the ready pods) and the sessions in progress run on
until they end or the drain time is up; ``accepting`` turns false, so ``/readyz`` says 503.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hibiki.callcontrol.esl.trust import Verdict, refused
from hibiki.common.logging import get_logger

log = get_logger("hibiki.callcontrol.esl")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
HEARTBEAT_SECONDS = 0.5
STALL_SECONDS = 5.0        # a hub that has not turned for this long is not alive


class CallApplication(Protocol):
    def run(self) -> None: ...


AppFactory = Callable[[Any, Verdict], CallApplication]
Verifier = Callable[[Mapping[str, str]], Verdict]   # runs on the hub (parks its greenlet only)


@dataclass(frozen=True)
class SessionLimits:
    max_sessions: int = 2000           # connections at once, checked or not (calls included)
    handshake_timeout: float = 3.0     # seconds from accept to a checked session


@dataclass
class SessionCounters:
    accepted: int = 0
    refused_address: int = 0
    refused_full: int = 0
    refused_handshake: int = 0         # no connect reply in time, closed, or garbage
    refused_unverified: int = 0        # the node did not vouch for it
    refused_duplicate: int = 0         # the call already has a session
    trusted: int = 0


def _no_check(_: Mapping[str, str]) -> Verdict:
    return refused("no verifier")


class OutboundServer:
    def __init__(self, sock: socket.socket, app_factory: AppFactory, allow: tuple[Network, ...],
                 verify: Verifier = _no_check, limits: SessionLimits = SessionLimits()) -> None:
        from hibiki.common.net import AllowList

        self._listener = sock
        self._port = int(sock.getsockname()[1])     # the socket object is detached when served
        self._factory = app_factory
        self._allow = AllowList(allow)
        self._verify = verify
        self.limits = limits
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._hub: Any = None
        self._server: Any = None
        self._beat = time.monotonic()
        self._calls: set[str] = set()      # call UUIDs with a trusted session (hub thread only)
        self.sessions = 0                  # open connections (hub thread only)
        self.active_calls = 0
        self.counters = SessionCounters()
        self._last_full_log = 0.0
        self.accepting = True

    @property
    def port(self) -> int:
        return self._port

    @property
    def alive(self) -> bool:
        thread = self._thread
        return (thread is not None and thread.is_alive() and self._ready.is_set()
                and time.monotonic() - self._beat < STALL_SECONDS)

    async def health(self) -> dict[str, bool]:
        return {"event_socket": self.alive}

    async def readiness(self) -> dict[str, bool]:
        """Ready for new calls: alive and not draining."""
        return {"event_socket": self.alive, "accepting_calls": self.accepting}

    async def drain(self, timeout: float) -> int:
        """Take no new session (the listening socket is closed) and wait until the sessions in
        progress have ended, at most ``timeout`` seconds; the number still open then."""
        import asyncio

        if self.accepting and self._hub is not None and self._server is not None:
            closed = threading.Event()

            def close() -> None:
                try:
                    self._server.stop_accepting()
                    self._server.socket.close()
                finally:
                    closed.set()

            self._hub.loop.run_callback_threadsafe(close)
            await asyncio.to_thread(closed.wait, 5)
        self.accepting = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.sessions and loop.time() < deadline:
            await asyncio.sleep(0.2)
        return self.sessions

    async def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="esl-outbound", daemon=True)
        self._thread.start()
        import asyncio

        await asyncio.to_thread(self._ready.wait, 10)

    async def stop(self) -> None:
        import asyncio

        if self._hub is not None and self._server is not None:
            self._hub.loop.run_callback_threadsafe(self._server.stop, 5)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)

    def _run(self) -> None:
        import gevent
        import gevent.socket
        from gevent.server import StreamServer

        self._hub = gevent.get_hub()
        listener = gevent.socket.socket(self._listener.family, self._listener.type, fileno=self._listener.detach())
        self._server = StreamServer(listener, self._handle)
        self._server.start()
        heart = gevent.spawn(self._heartbeat)
        self._ready.set()
        try:
            self._server.serve_forever()
        finally:
            heart.kill(block=False)

    def _heartbeat(self) -> None:
        import gevent

        while True:
            self._beat = time.monotonic()
            gevent.sleep(HEARTBEAT_SECONDS)

    def _handle(self, sock: Any, address: tuple[str, int]) -> None:
        self.counters.accepted += 1
        if address[0] not in self._allow:
            self.counters.refused_address += 1
            log.warning("esl_refused", peer=address[0], reason="address not in allow-list")
            sock.close()
            return
        if self.sessions >= self.limits.max_sessions:
            self.counters.refused_full += 1
            now = time.monotonic()
            if now - self._last_full_log > 1.0:   # one line a second, however big the flood
                self._last_full_log = now
                log.error("esl_refused", peer=address[0], reason="session limit reached",
                          max_sessions=self.limits.max_sessions, refused=self.counters.refused_full)
            sock.close()
            return
        self.sessions += 1
        try:
            self._serve(sock, address)
        finally:
            self.sessions -= 1

    def _serve(self, sock: Any, address: tuple[str, int]) -> None:
        import gevent

        from hibiki.callcontrol.esl.session import OutboundWire

        session = OutboundWire(address, sock)
        verdict: Verdict | None = None
        call_uuid = ""
        try:
            try:
                with gevent.Timeout(self.limits.handshake_timeout):
                    session.connect(self.limits.handshake_timeout)
                    verdict = self._verify(session.session_data or {})
            except (Exception, gevent.Timeout) as exc:
                self.counters.refused_handshake += 1
                log.info("esl_refused", peer=address[0], reason="handshake failed",
                         error=session.failure or str(exc) or type(exc).__name__)
                return
            data = session.session_data or {}
            call_uuid = data.get("Unique-ID", "")
            if not verdict.trusted:
                self.counters.refused_unverified += 1
                log.warning("esl_refused", peer=address[0], call_uuid=call_uuid[:64] or None,
                            reason="session not vouched for by a FreeSWITCH node", detail=verdict.reason,
                            claimed_app=data.get("variable_hibiki_app", "")[:64],
                            claimed_tenant=data.get("variable_hibiki_tenant", "")[:64])
                return
            if call_uuid in self._calls:
                self.counters.refused_duplicate += 1
                call_uuid, duplicate = "", call_uuid
                log.warning("esl_refused", peer=address[0], call_uuid=duplicate,
                            reason="the call already has a session")
                return
            self._calls.add(call_uuid)
            self.counters.trusted += 1
            self.active_calls += 1
            try:
                self._factory(session, verdict).run()
            finally:
                self.active_calls -= 1
        except Exception:
            log.exception("call_application_failed", call_uuid=call_uuid or None, peer=address[0])
        finally:
            self._calls.discard(call_uuid)
            session.stop()
