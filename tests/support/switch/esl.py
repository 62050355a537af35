"""A small inbound event-socket client (raw ESL, as fs_cli speaks it): ``api`` commands and
events. Tests use it to ask FreeSWITCH what happened (``show channels``, RTP statistics with
``uuid_dump``) and to watch channel events."""

from __future__ import annotations

import queue
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field


@dataclass
class EslMessage:
    headers: dict[str, str]
    body: str = ""


@dataclass
class EslEvent:
    """A plain-format event: its headers (URL-decoded) and body."""

    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    @property
    def name(self) -> str:
        return self.headers.get("Event-Name", "")

    def get(self, key: str, default: str = "") -> str:
        return self.headers.get(key, default)


def _parse_headers(text: str, decode: bool) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if ": " in line:
            key, value = line.split(": ", 1)
            headers[key] = urllib.parse.unquote(value) if decode else value
    return headers


class Esl:
    """One connection to FreeSWITCH's inbound event socket, authenticated."""

    def __init__(self, host: str, port: int, password: str, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._buffer = b""
        self._replies: queue.Queue[EslMessage] = queue.Queue()
        self.events: queue.Queue[EslEvent] = queue.Queue()
        self._lock = threading.Lock()
        self.closed = False
        greeting = self._read_message()
        if greeting.headers.get("Content-Type") != "auth/request":
            raise ConnectionError(f"unexpected greeting {greeting.headers}")
        self.sock.sendall(f"auth {password}\n\n".encode())
        reply = self._read_message()
        if not reply.headers.get("Reply-Text", "").startswith("+OK"):
            raise PermissionError(f"event socket refused the password: {reply.headers.get('Reply-Text')}")
        self.sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _read_exact(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("event socket closed")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _read_message(self) -> EslMessage:
        while b"\n\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("event socket closed")
            self._buffer += chunk
        head, self._buffer = self._buffer.split(b"\n\n", 1)
        headers = _parse_headers(head.decode(errors="replace"), decode=False)
        body = ""
        if "Content-Length" in headers:
            body = self._read_exact(int(headers["Content-Length"])).decode(errors="replace")
        return EslMessage(headers, body)

    def _read_loop(self) -> None:
        try:
            while True:
                message = self._read_message()
                kind = message.headers.get("Content-Type", "")
                if kind == "text/event-plain":
                    head, _, body = message.body.partition("\n\n")
                    self.events.put(EslEvent(_parse_headers(head, decode=True), body))
                elif kind in ("api/response", "command/reply"):
                    self._replies.put(message)
                elif kind == "text/disconnect-notice":
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True

    def _command(self, text: str, timeout: float) -> EslMessage:
        with self._lock:
            self.sock.sendall(f"{text}\n\n".encode())
            return self._replies.get(timeout=timeout)

    def api(self, command: str, timeout: float = 15.0) -> str:
        """``api <command>``: FreeSWITCH's answer text (``-ERR ...`` included)."""
        return self._command(f"api {command}", timeout).body

    def subscribe(self, *names: str) -> None:
        """``event plain <names>`` (e.g. ``CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE``, or ``ALL``)."""
        reply = self._command("event plain " + " ".join(names), 10.0)
        if not reply.headers.get("Reply-Text", "").startswith("+OK"):
            raise RuntimeError(f"event subscription refused: {reply.headers}")

    def wait_event(self, name: str, timeout: float = 15.0, **match: str) -> EslEvent:
        """The next event called ``name`` whose headers equal ``match`` (other events are dropped:
        use one connection per kind of wait)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {name} event matching {match} within {timeout} s")
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if event.name == name and all(event.get(k) == v for k, v in match.items()):
                return event

    def close(self) -> None:
        try:
            self.sock.sendall(b"exit\n\n")
        except OSError:
            pass
        self.sock.close()
