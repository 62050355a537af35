"""A raw peer of callcontrol's outbound event socket: whatever a network attacker can send.

``fake_session`` plays FreeSWITCH: it reads callcontrol's ``connect``, answers it with
made-up channel data (the connect reply's wire format, ``mod_event_socket.c``: url-encoded
header lines, ``Content-Type: command/reply`` last), answers ``+OK`` to every later command
and returns them all, so a test can count what callcontrol did for it."""

from __future__ import annotations

import asyncio
from urllib.parse import quote


async def read_command(reader: asyncio.StreamReader) -> str | None:
    """One command (lines up to a blank line); None when callcontrol closed the socket."""
    lines: list[str] = []
    while True:
        line = await reader.readline()
        if not line:
            return None
        text = line.decode("utf-8", "replace").rstrip("\n")
        if not text:
            if lines:
                return "\n".join(lines)
            continue
        lines.append(text)


def connect_reply(channel: dict[str, str]) -> bytes:
    block = "".join(f"{name}: {quote(value, safe='')}\n" for name, value in channel.items())
    return (block + "Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n").encode()


async def fake_session(host: str, port: int, channel: dict[str, str], linger: float = 10.0) -> list[str]:
    """Every command callcontrol sent after ``connect`` (callcontrol's closing ``exit`` included)."""
    reader, writer = await asyncio.open_connection(host, port)
    commands: list[str] = []
    try:
        first = await asyncio.wait_for(read_command(reader), 5)
        assert first == "connect", first
        writer.write(connect_reply(channel))
        await writer.drain()
        while True:
            try:
                command = await asyncio.wait_for(read_command(reader), linger)
            except TimeoutError:
                break
            if command is None:
                break
            commands.append(command)
            reply = "+OK bye" if command == "exit" else "+OK"
            if command.startswith("api "):
                writer.write(f"Content-Type: api/response\nContent-Length: {len(reply) + 1}\n\n{reply}\n".encode())
            else:
                writer.write(f"Content-Type: command/reply\nReply-Text: {reply}\n\n".encode())
            await writer.drain()
    finally:
        writer.close()
    return commands
