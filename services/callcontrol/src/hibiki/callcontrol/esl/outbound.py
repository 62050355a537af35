"""The outbound event-socket server FreeSWITCH connects to (``socket host:8084 async full``).

greenswitch speaks the protocol; it is gevent based, so the server runs on a gevent
hub in a thread of its own, and talks to the asyncio side (NATS) only through
thread-safe hand-offs. Unlike greenswitch's own server loop it accepts without
polling, refuses addresses outside the allow-list, and never calls ``sys.exit``.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import Any, Protocol

from hibiki.common.logging import get_logger
from hibiki.common.net import AllowList

log = get_logger("hibiki.callcontrol.esl")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CallApplication(Protocol):
    def run(self) -> None: ...


AppFactory = Callable[[Any], CallApplication]


class OutboundServer:
    def __init__(self, sock: socket.socket, app_factory: AppFactory, allow: tuple[Network, ...]) -> None:
        self._listener = sock
        self._factory = app_factory
        self._allow = AllowList(allow)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._hub: Any = None
        self._server: Any = None
        self.active_calls = 0

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

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
        self._ready.set()
        self._server.serve_forever()

    def _handle(self, sock: Any, address: tuple[str, int]) -> None:
        from greenswitch.esl import OutboundSession

        if address[0] not in self._allow:
            log.warning("esl_refused", peer=address[0], reason="address not in allow-list")
            sock.close()
            return
        session = OutboundSession(address, sock)
        self.active_calls += 1
        try:
            session.connect()
            self._factory(session).run()
        except Exception:
            uuid = (session.session_data or {}).get("Unique-ID", "")
            log.exception("call_application_failed", call_uuid=uuid or None, peer=address[0])
        finally:
            self.active_calls -= 1
            session.stop()
