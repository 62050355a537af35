"""Inbound event socket server (mod_event_socket ``listener_run`` for accepted connections).

``Content-Type: auth/request\\n\\n`` on connect; ``auth <pw>`` -> ``+OK accepted`` or
``-ERR invalid`` followed by the disconnect notice and close; 25 s to authenticate
(``read_packet(listener, &event, 25)``); ``exit`` -> ``+OK bye`` then the disconnect notice
``Disconnected, goodbye.\\nSee you at ClueCon! http://www.cluecon.com/\\n``.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .esl_wire import EslFramingError, read_command
from .listener import Listener

if TYPE_CHECKING:
    from .emulator import FreeSwitchEmulator

__all__ = ["InboundServer"]

log = logging.getLogger("fsemu")


class InboundServer:
    def __init__(self, emu: "FreeSwitchEmulator", host: str = "127.0.0.1", port: int = 0,
                 auth_timeout: float = 25.0) -> None:
        self.emu = emu
        self.host = host
        self.port = port
        self.auth_timeout = auth_timeout
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    @property
    def connections(self) -> int:
        """Inbound event-socket clients connected now (a controller that uses the emulator as its node)."""
        return len(self._conns)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._conns):
                w.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        li = Listener(self.emu, writer)
        self.emu.switch.sinks.append(li.on_event)
        try:
            li.send(b"Content-Type: auth/request\n\n")
            while li.running:
                timeout = None if li.authed else self.auth_timeout
                cmd = await asyncio.wait_for(read_command(reader), timeout)
                await li.handle(cmd)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError, EslFramingError, OSError):
            pass
        except Exception:
            log.exception("inbound listener failed")
        finally:
            self._conns.discard(writer)
            li.running = False
            if li.on_event in self.emu.switch.sinks:
                self.emu.switch.sinks.remove(li.on_event)
            li.send_disconnect()
            try:
                await writer.drain()
                writer.close()
            except Exception:
                pass
            self._conns.discard(writer)
