"""greenswitch's outbound session, hardened for connections nobody has vouched for yet.

Anything that reaches callcontrol's event-socket port gets an ``OutboundWire``; until the
session is checked against a FreeSWITCH node (``esl.trust``) it is just bytes from the
network. What greenswitch 0.0.19's ``OutboundSession`` does wrong with such bytes, and
what is done here instead:

* ``_read_socket`` loops on ``b""`` for ever when the peer closes inside a body (one short
  ``text/event-plain`` with ``Content-Length: 1000`` spun a core and stopped every call).
  Here a short body ends the session.
* A message without ``Content-Type``, a ``Content-Length`` that is not a number (or over
  ``MAX_BODY``), a header line over ``MAX_LINE`` bytes or a header block over
  ``MAX_HEADER`` bytes is garbage: the session ends (greenswitch's reading greenlet died
  with a ``KeyError`` and left the socket open).
* ``send`` takes a timeout (greenswitch waits for ever: a peer that accepts and stays
  silent kept ``connect`` and its file descriptor for good), uses ``sendall``, and every
  waiting command fails at once when the connection ends.
* ``stop`` never waits for a reply that may not come, closes the socket, and ends both
  greenlets (greenswitch's ``stop`` waited for ``exit``'s reply without a timeout).
* Header blocks are split into lines first and each value URL-decoded afterwards, as
  libesl does; greenswitch decodes the whole block first, so a caller-ID name carrying
  ``%0A`` could forge headers (``Application-UUID``, ``variable_*``) of its own events.
  A value is decoded when it is first read (``esl.headers.Headers``): an event carries
  ~170 headers and a call reads a few of them.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import gevent
from gevent.event import AsyncResult, Event
from greenswitch.esl import ESLEvent, NotConnectedError, OutboundSession, OutboundSessionHasGoneAway

from hibiki.callcontrol.esl.headers import Headers
from hibiki.callcontrol.esl.wire import read_exactly
from hibiki.common.digits import ascii_digits

MAX_LINE = 16 * 1024          # one header line (a channel variable's value included)
MAX_HEADER = 256 * 1024       # one header block (the connect reply carries every channel variable)
MAX_BODY = 4 * 1024 * 1024    # one body (an event with every channel variable is ~10-30 kB)


class ProtocolError(Exception):
    """The peer sent something FreeSWITCH never sends."""


class CommandTimeout(Exception):
    """No reply within the timeout."""


def _event(headers: Headers) -> Any:
    event = ESLEvent.__new__(ESLEvent)
    event.headers = headers
    return event


def parse_block(text: str) -> Headers:
    """``Name: value`` lines, each value URL-decoded on its own (libesl, ``esl.c``) when it is
    read; a line that is not a header ends the session whether or not its value is ever read."""
    raw: dict[str, str] = {}
    for line in text.split("\n"):
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise ProtocolError(f"not a header line: {line[:60]!r}")
        raw[name] = value.lstrip(" ")
    return Headers(raw, strip=True)


class OutboundWire(OutboundSession):  # type: ignore[misc]
    """One outbound session on a gevent hub: ``connect(timeout)``, then greenswitch's API."""

    def __init__(self, address: Any, sock: Any) -> None:
        self.ended = Event()
        self.failure: str | None = None     # why the reading loop stopped, when it was not a clean close
        self.peer = address[0] if address else ""
        super().__init__(address, sock)

    # ---- commands -----------------------------------------------------------------------
    def connect(self, timeout: float | None = None) -> None:
        """``connect``: the channel's data (``session_data``) within ``timeout`` seconds."""
        reply = self.send("connect", timeout)
        self.session_data = reply.headers
        self._outbound_connected = True

    def send(self, data: str, timeout: float | None = None) -> Any:
        result = self.post(data)
        try:
            return result.get(timeout=timeout)
        except gevent.Timeout:
            raise CommandTimeout(f"{data.split(' ', 1)[0].splitlines()[0]}: no reply within {timeout:g} s") from None

    def post(self, data: str) -> AsyncResult:
        """Send ``data`` without waiting: its reply settles the result returned (FreeSWITCH answers
        the commands of a socket in order, so several can be on the way at once)."""
        if not self.connected or self.ended.is_set():
            raise NotConnectedError()
        result = AsyncResult()
        self._commands_sent.append(result)
        try:
            self.sock.sendall((data + self._EOL * 2).encode("utf-8"))
        except OSError:
            self._finish("send failed")
            raise OutboundSessionHasGoneAway() from None
        return result

    def stop(self) -> None:
        """Say ``exit`` (at most 1 s) unless the peer is gone, then close, whatever happens."""
        if self.connected and self._outbound_connected and not self.ended.is_set():
            with contextlib.suppress(Exception):
                self.send("exit", 1.0)
        self.close()

    def close(self) -> None:
        """Shut the socket (the reader wakes with EOF), end both greenlets, then release the
        descriptor: the reading greenlet holds the file object's lock while it waits, and a
        socket with a file object still open is not really closed (its descriptor leaked)."""
        self._run = False
        self.connected = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        me = gevent.getcurrent()
        for greenlet in (self._receive_events_greenlet, self._process_events_greenlet):
            if greenlet is not None and greenlet is not me and not greenlet.dead:
                greenlet.kill(block=True, timeout=1)
        with contextlib.suppress(Exception):
            self.sock_file.close()
        with contextlib.suppress(OSError):
            self.sock.close()
        self._finish(None)

    # ---- reading ------------------------------------------------------------------------
    def receive_events(self) -> None:
        try:
            while self._run:
                block = self._read_block()
                if block is None:
                    break
                self.handle_event(_event(parse_block(block)))
        except (ProtocolError, ConnectionError, ValueError) as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
        except OSError as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
        finally:
            self._finish(self.failure)

    def _read_block(self) -> str | None:
        """The next header block; None on a clean close between messages."""
        lines: list[bytes] = []
        size = 0
        while True:
            line = self.sock_file.readline(MAX_LINE + 1)
            if not line:
                if lines:
                    raise ConnectionError(f"closed inside a header block ({size} bytes)")
                return None
            if not line.endswith(b"\n"):
                raise ProtocolError(f"header line over {MAX_LINE} bytes")
            if line == b"\n":
                if lines:
                    return b"".join(lines).decode("utf-8", errors="replace")
                continue          # blank lines between messages
            size += len(line)
            if size > MAX_HEADER:
                raise ProtocolError(f"header block over {MAX_HEADER} bytes")
            lines.append(line)

    def handle_event(self, event: Any) -> None:
        headers: Headers = event.headers
        kind = headers.get("Content-Type")
        if not kind:
            raise ProtocolError("message without Content-Type")
        raw_length = headers.get("Content-Length", "0") or "0"
        if not (ascii_digits(raw_length)) or int(raw_length) > MAX_BODY:
            raise ProtocolError(f"Content-Length {raw_length[:20]!r}")
        length = int(raw_length)
        body = self._read_socket(self.sock_file, length) if length else ""
        if kind == "command/reply":
            event.data = headers.get("Reply-Text", "")
            self._reply(event)
        elif kind == "api/response":
            event.data = body
            self._reply(event)
        elif kind == "text/disconnect-notice":
            if headers.get("Content-Disposition") == "linger":
                self._lingering = True
            else:
                self.connected = False
            self._esl_event_queue.put(event)
        elif kind == "text/event-plain":
            head, _, rest = body.partition("\n\n")
            event.headers = parse_block(head)
            event.data = rest
            self._esl_event_queue.put(event)
        # anything else (log/data, text/event-json, ...) was read and is dropped

    def process_events(self) -> None:
        """Handlers run in order, for every event read before the connection ended (greenswitch
        polls once a second and stops as soon as ``_run`` is false, dropping what is queued)."""
        while True:
            event = self._esl_event_queue.get()
            if event is None:        # _finish's sentinel: everything before it was handled
                return
            headers = event.headers
            if headers.get("Content-Type") == "text/disconnect-notice":
                handlers = self.event_handlers.get("DISCONNECT")
            else:
                name = headers.get("Event-Name")
                handlers = self.event_handlers.get(headers.get("Event-Subclass") if name == "CUSTOM" else name)
            for handler in list(handlers or self.event_handlers.get("*", ())):   # greenswitch: "*" when none
                self._safe_exec_handler(handler, event)

    def _reply(self, event: Any) -> None:
        if not self._commands_sent:
            raise ProtocolError("a reply nobody asked for")
        self._commands_sent.pop(0).set(event)

    _read_socket = staticmethod(read_exactly)

    def _finish(self, why: str | None) -> None:
        """The connection is over: every waiting command fails, handlers hear DISCONNECT."""
        if self.ended.is_set():
            return
        if why and self.failure is None:
            self.failure = why
        self.connected = False
        self._run = False
        self._outbound_connected = False
        waiting: list[Any] = list(self._commands_sent)
        del self._commands_sent[:]
        for result in waiting:
            if not result.ready():
                result.set_exception(OutboundSessionHasGoneAway())
        self._esl_event_queue.put(None)
        self.ended.set()
