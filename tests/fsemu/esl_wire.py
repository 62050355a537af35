"""ESL framing, as mod_event_socket 1.10 reads and writes it.

* FS -> client: header block ``Name: value\\n`` lines ended by a blank line; when a
  ``Content-Length`` header is present that many body bytes follow (mod_event_socket.c:
  ``read_packet``/``api_exec``/event sending).
* client -> FS (``read_packet``): bytes are read until two consecutive ``\\n`` (``\\r`` does not
  break the count), leading CR/LF are skipped, the first line is the command, following lines
  ``name: value`` (spaces after the colon skipped) become headers; ``content-length`` makes FS
  read that many body bytes.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

__all__ = ["EslFramingError", "EslMessage", "parse_message", "parse_stream", "read_message",
           "EslCommand", "parse_command_block", "read_command"]

MAX_HEADER_BYTES = 10485760  # read_packet max_len


class EslFramingError(ValueError):
    """The bytes are not a valid ESL message."""


@dataclass
class EslMessage:
    """A message FS sends: ordered headers and an optional body."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def get(self, name: str, default: str | None = None) -> str | None:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return default

    @property
    def content_type(self) -> str | None:
        return self.get("Content-Type")

    def serialize(self) -> bytes:
        out = "".join(f"{k}: {v}\n" for k, v in self.headers).encode("utf-8") + b"\n"
        return out + self.body


def _parse_header_block(block: bytes) -> list[tuple[str, str]]:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EslFramingError(f"header block is not UTF-8: {exc}") from exc
    headers: list[tuple[str, str]] = []
    for line in text.split("\n"):
        if not line:
            continue
        name, sep, value = line.partition(": ")
        if not sep or not name:
            raise EslFramingError(f"malformed header line {line!r}")
        headers.append((name, value))
    return headers


def _content_length(headers: list[tuple[str, str]]) -> int:
    for k, v in headers:
        if k.lower() == "content-length":
            if not v.isdigit():
                raise EslFramingError(f"bad Content-Length {v!r}")
            return int(v)
    return 0


def parse_message(data: bytes) -> tuple[EslMessage, bytes]:
    """Parse one message from *data*; return it and the remaining bytes."""
    end = data.find(b"\n\n")
    if end < 0:
        raise EslFramingError("incomplete header block")
    headers = _parse_header_block(data[:end])
    if not headers:
        raise EslFramingError("empty header block")
    clen = _content_length(headers)
    start = end + 2
    if len(data) - start < clen:
        raise EslFramingError("incomplete body")
    return EslMessage(headers, data[start:start + clen]), data[start + clen:]


def parse_stream(data: bytes) -> list[EslMessage]:
    out = []
    while data:
        msg, data = parse_message(data)
        out.append(msg)
    return out


async def read_message(reader: asyncio.StreamReader) -> EslMessage:
    """Read one FS->client message (raises EslFramingError / asyncio.IncompleteReadError)."""
    block = await reader.readuntil(b"\n\n")
    headers = _parse_header_block(block[:-2])
    if not headers:
        raise EslFramingError("empty header block")
    clen = _content_length(headers)
    body = await reader.readexactly(clen) if clen else b""
    return EslMessage(headers, body)


@dataclass
class EslCommand:
    """A command as mod_event_socket's ``read_packet`` builds it."""

    command: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def get(self, name: str) -> str | None:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return None


def parse_command_block(block: bytes) -> tuple[EslCommand, int]:
    """Parse the header block (without body); return the command and its content-length."""
    text = block.decode("utf-8", errors="replace")
    lines = [ln.rstrip("\r") for ln in text.replace("\r\n", "\n").split("\n")]
    lines = [ln.split("\r")[0] for ln in lines if ln]
    if not lines:
        raise EslFramingError("empty command")
    cmd = EslCommand(lines[0])
    clen = 0
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue  # read_packet ignores lines without a colon
        value = value.lstrip(" ")
        cmd.headers.append((name, value))
        if name.lower() == "content-length":
            try:
                clen = int(value.strip() or "0")
            except ValueError:
                clen = 0
    return cmd, max(clen, 0)


async def read_command(reader: asyncio.StreamReader) -> EslCommand:
    """Read one controller command (read_packet semantics).  EOF -> IncompleteReadError."""
    buf = bytearray()
    crcount = 0
    while True:
        ch = await reader.readexactly(1)
        if not buf and ch in (b"\r", b"\n"):
            continue
        buf += ch
        if ch == b"\n":
            crcount += 1
        elif ch != b"\r":
            crcount = 0
        if crcount == 2 or len(buf) >= MAX_HEADER_BYTES:
            break
    cmd, clen = parse_command_block(bytes(buf))
    if clen > 0:
        cmd.body = await reader.readexactly(clen)
    return cmd
