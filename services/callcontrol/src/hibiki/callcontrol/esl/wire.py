"""greenswitch's inbound client, hardened for a connection that lives for months.

greenswitch's ``InboundESL`` gives the framing loop (``receive_events``) and the reply
matching (``handle_event`` for ``auth/request``, ``command/reply``, ``api/response``).
What a long-lived connection needs beyond it is added here (greenswitch 0.0.19):

* ``connect`` resolves names and IPv6 (greenswitch opens ``AF_INET`` only), turns on TCP
  keepalive, and waits for ``auth/request`` at most ``timeout`` seconds (greenswitch waits
  forever on a peer that accepts and stays silent).
* ``send`` waits at most ``timeout`` seconds for its reply (greenswitch: forever),
  serialises writers and uses ``sendall``. Replies stay matched first in, first out, so a
  late reply is taken by its own abandoned waiter and never by the next command.
* When the connection ends, commands still waiting fail at once with ``ConnectionLost``
  (greenswitch's inbound client leaves them waiting forever) and ``ended`` is set.
* ``_read_socket`` raises on a connection closed inside a message (greenswitch loops on
  ``b""`` forever, blocking the hub) and replaces invalid UTF-8.
* Event bodies are split into lines first and each value URL-decoded afterwards, as
  FreeSWITCH's libesl does (``libs/esl/src/esl.c``, ``text/event-plain``). greenswitch
  decodes the whole body first, so a caller-ID name carrying ``%0A`` could forge headers.
  A value is decoded when it is first read (``esl.headers.Headers``), not on arrival.
* Events go straight to ``on_event`` from the reading greenlet: greenswitch's queue and
  ``process_events`` poll once a second and drop what is queued when the socket closes.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.socket
from gevent.event import AsyncResult, Event
from gevent.lock import Semaphore
from greenswitch.esl import InboundESL

from hibiki.callcontrol.esl.headers import Headers, split_block
from hibiki.callcontrol.esl.errors import (
    AuthFailed,
    CommandTimeout,
    ConnectionLost,
    HandshakeFailed,
    NodeUnavailable,
)

EventSink = Callable[[Headers, str], None]
_REPLIES = ("auth/request", "command/reply", "api/response")
_KEEPALIVE = (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))  # a dead peer: about 25 s


def parse_plain(text: str) -> tuple[Headers, str]:
    """Headers and body of a ``text/event-plain`` event (``switch_event_serialize``, encoded):
    split into lines now, each value URL-decoded when it is first read."""
    head, _, rest = text.partition("\n\n")
    headers = Headers(split_block(head))
    return headers, (rest if "Content-Length" in headers else "")


def read_exactly(sock: Any, length: int) -> str:
    """``length`` bytes of a message body; a connection closed inside it raises (greenswitch's
    own loop spins on ``b""`` for ever). Shared by the inbound client and the outbound sessions."""
    data = b""
    while len(data) < length:
        chunk = sock.read(length - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {length} bytes")
        data += chunk
    return data.decode("utf-8", errors="replace")


class InboundWire(InboundESL):  # type: ignore[misc]
    """One connection attempt; runs on a gevent hub. Use once: connect, send, close."""

    def __init__(self, node: str, host: str, port: int, password: str, timeout: float, on_event: EventSink) -> None:
        super().__init__(host, port, password, timeout)
        self.node = node
        self.subscribed: set[str] = set()   # event names and CUSTOM subclasses sent with "event plain"
        self._commands_sent: list[Any] = []   # greenswitch's reply waiters, oldest first
        self.sock: Any = None
        self.sock_file: Any = None
        self.ended = Event()
        self.last_received = time.monotonic()
        self.failure: str | None = None       # why the reading loop stopped, when it raised
        self.rejection: str | None = None     # text/rude-rejection body (mod_event_socket's ACL)
        self._on_event = on_event
        self._send_lock = Semaphore()

    # ---- connection ---------------------------------------------------------------------
    def connect(self) -> None:
        self.sock = gevent.socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in _KEEPALIVE:
            if hasattr(socket, name):
                self.sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
        self.sock.settimeout(None)
        self.sock_file = self.sock.makefile("rb")
        self.connected = True
        self.start_event_handlers()
        gevent.wait([self._auth_request_event, self.ended], timeout=self.timeout, count=1)
        if self.rejection is not None:
            raise HandshakeFailed(f"refused: {self.rejection.strip()!r} (not in the node's apply-inbound-acl?)")
        if not self._auth_request_event.is_set():
            raise HandshakeFailed("closed before auth/request" if self.ended.is_set()
                                  else f"no auth/request within {self.timeout:g} s")
        reply = self.send(f"auth {self.password}")
        if reply.data != "+OK accepted":
            raise AuthFailed(f"auth refused: {reply.data!r}")

    def goodbye(self, timeout: float) -> None:
        """``exit`` (FreeSWITCH answers ``+OK bye`` and closes), then close in any case."""
        with contextlib.suppress(Exception):
            if self.connected and not self.ended.is_set():
                self.send("exit", timeout)
        self.close()

    def close(self) -> None:
        self._run = False
        self.connected = False
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reading greenlet with EOF
            with contextlib.suppress(OSError):
                self.sock.close()
        reader = self._receive_events_greenlet
        if reader is not None and reader is not gevent.getcurrent():
            reader.join(timeout=2)
            if not reader.dead:
                reader.kill(block=False)
        if self.sock_file is not None:
            with contextlib.suppress(Exception):
                self.sock_file.close()
        self.ended.set()

    # ---- commands -----------------------------------------------------------------------
    def send(self, data: str, timeout: float | None = None) -> Any:
        """Send one command; its reply (greenswitch's ``ESLEvent``, text in ``.data``)."""
        verb = data.split(" ", 1)[0]
        if not self.connected or self.ended.is_set():
            raise NodeUnavailable(self.node, "not connected")
        result = AsyncResult()
        with self._send_lock:
            self._commands_sent.append(result)
            try:
                self.sock.sendall((data + self._EOL * 2).encode("utf-8"))
            except OSError as exc:
                self.close()
                raise ConnectionLost(self.node, f"{verb}: send failed: {exc}") from None
        wait = self.timeout if timeout is None else timeout
        try:
            return result.get(timeout=wait)
        except gevent.Timeout:
            raise CommandTimeout(self.node, f"{verb}: no reply within {wait:g} s") from None

    # ---- reading (greenswitch's receive_events calls handle_event per message) ----------
    def start_event_handlers(self) -> None:
        self._receive_events_greenlet = gevent.spawn(self.receive_events)

    def receive_events(self) -> None:
        try:
            super().receive_events()
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
        finally:
            self.connected = False
            self._run = False
            waiting, self._commands_sent = self._commands_sent, []
            for result in waiting:
                if not result.ready():
                    result.set_exception(ConnectionLost(self.node, "connection lost before the reply"))
            self.ended.set()

    def handle_event(self, event: Any) -> None:
        self.last_received = time.monotonic()
        kind = event.headers.get("Content-Type")
        if kind in _REPLIES:
            super().handle_event(event)
            return
        length = int(event.headers.get("Content-Length") or 0)
        body = self._read_socket(self.sock_file, length) if length > 0 else ""
        if kind == "text/event-plain":
            self._on_event(*parse_plain(body))
        elif kind == "text/rude-rejection":
            self.rejection = body
            self.connected = False
            self._auth_request_event.set()
        # text/disconnect-notice: the socket closes next; anything else is read and dropped

    _read_socket = staticmethod(read_exactly)
