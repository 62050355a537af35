"""Outbound event socket: the ``socket`` application (``socket host:port async full``).

Source: mod_event_socket.c (v1.10.12) ``socket_function``, ``parse_command`` (``connect``:
CHANNEL_DATA with the ``Channel-`` caller profile, channel data, then ``Content-Type:
command/reply``, ``Reply-Text: +OK\\n``, ``Socket-Mode``, ``Control`` serialised with URL
encoding and *no* extra framing), ``read_packet`` (linger notice, disconnect), and the capture
esl/esl_outbound_connect_reply.raw + esl/esl_outbound_session.log.
When the controller closes the socket the listener ends, CF_CONTROLLED is cleared, the park
loop exits (CHANNEL_UNPARK), ``socket`` completes and the dialplan continues with the next action.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .esl_wire import EslFramingError, read_command
from .listener import Listener

if TYPE_CHECKING:
    from .emulator import FreeSwitchEmulator
    from .session import CallSession

__all__ = ["OutboundListener", "socket_app"]

log = logging.getLogger("fsemu")


class OutboundListener(Listener):
    def __init__(self, emu: "FreeSwitchEmulator", reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 session: "CallSession", *, full: bool, asyncmode: bool) -> None:
        super().__init__(emu, writer, session, full=full, asyncmode=asyncmode)
        self.reader = reader
        self.connected = asyncio.Event()
        self.finished = asyncio.Event()
        self.down_handled = False

    def on_connect(self) -> None:
        assert self.session is not None
        ch = self.session.ch
        ev = ch.switch.new_event("CHANNEL_DATA", ("mod_event_socket.c", "parse_command", 2021))
        ev.headers += ch.caller_profile_headers("Channel")
        ch.event_data(ev)
        ev.headers += [("Content-Type", "command/reply"), ("Reply-Text", "+OK\n"),
                       ("Socket-Mode", "async" if self.asyncmode else "static"),
                       ("Control", "full" if self.full else "single-channel")]
        self.send(ev.serialize_plain())
        self.connected.set()

    def on_event(self, ev: "Event") -> None:  # type: ignore[name-defined]  # noqa: F821
        super().on_event(ev)
        if self.session is None or not self.running:
            return
        if ev.get("Unique-ID") != self.session.ch.uuid:
            return
        if ev.name == "CHANNEL_HANGUP" and self.linger is None and not self.down_handled:
            self.down_handled = True
            self.send_disconnect()
            self.close()
        elif ev.name == "CHANNEL_HANGUP_COMPLETE" and self.linger is not None and not self.down_handled:
            self.down_handled = True
            ch = self.session.ch
            self.send((f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {ch.uuid}\n"
                       f"Content-Disposition: linger\nChannel-Name: {ch.name}\nLinger-Time: {self.linger}\n"
                       "Content-Length: 0\n\n").encode("utf-8"))
            if self.linger >= 0:
                asyncio.get_running_loop().call_later(self.linger, self._linger_expired)

    def _linger_expired(self) -> None:
        self.send_disconnect()
        self.close()

    def close(self) -> None:
        self.running = False
        try:
            self.writer.close()
        except Exception:
            pass
        self.finished.set()

    async def run(self) -> None:
        try:
            first = await asyncio.wait_for(read_command(self.reader), 25)
            await self.handle(first)
            while self.running:
                cmd = await read_command(self.reader)
                await self.handle(cmd)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError, EslFramingError, OSError):
            pass
        except Exception:
            log.exception("outbound listener failed")
        if self.running and not self.writer.is_closing():
            self.send_disconnect()
        self.close()


async def socket_app(s: "CallSession", data: str) -> None:
    argv = data.split(" ") if data else []
    if not argv or not argv[0]:
        log.error("Parse Error!")
        return
    host, port = argv[0], 8084
    if ":" in host:
        host, _, p = host.rpartition(":")
        port = int(p) if p.isdigit() else 0
    if "/" in str(port):
        pass
    s.ch.set_var("socket_host", host)
    full = any(a.lower() == "full" for a in argv[1:])
    asyncmode = any(a.lower() == "async" for a in argv[1:])
    emu = s.emulator
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        log.error("Socket Error!")
        return
    li = OutboundListener(emu, reader, writer, s, full=full, asyncmode=asyncmode)
    emu.switch.sinks.append(li.on_event)
    s.controlled = True
    task = asyncio.ensure_future(li.run())
    try:
        waits = {asyncio.ensure_future(li.connected.wait()), asyncio.ensure_future(li.finished.wait()),
                 asyncio.ensure_future(s.ch.hangup_event.wait()), asyncio.ensure_future(s.transferred.wait())}
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        fin = asyncio.ensure_future(li.finished.wait())
        fin.add_done_callback(lambda _f: s.unpark() if s.parked else None)
        if li.connected.is_set() and not li.finished.is_set() and s.transfer_to is None:
            if asyncmode:
                await s.park()
            else:
                await s.park_silently(li.finished)
        fin.cancel()
    finally:
        s.controlled = False
        if li.finished.is_set() or not s.ch.up:
            pass
        asyncio.ensure_future(_detach_later(emu, li, task))


async def _detach_later(emu: "FreeSwitchEmulator", li: OutboundListener, task: "asyncio.Future[None]") -> None:
    await li.finished.wait()
    if li.on_event in emu.switch.sinks:
        emu.switch.sinks.remove(li.on_event)
    await task
