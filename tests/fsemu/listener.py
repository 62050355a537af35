"""mod_event_socket listener logic shared by inbound and outbound connections.

Source: src/mod/event_handlers/mod_event_socket/mod_event_socket.c (v1.10.12):
``parse_command`` reply texts, ``event_handler`` (event lists, ``filter``, myevents by
Unique-ID), event framing ``Content-Length: N\\nContent-Type: text/event-<fmt>\\n\\n<body>``,
``send_disconnect`` and the linger notice, ``api_exec`` (``api/response``; unknown command
``-ERR <cmd> Command not found!\\n``), ``bgapi`` (``~Reply-Text: +OK Job-UUID``) and
BACKGROUND_JOB.
"""
from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Callable

from .esl_wire import EslCommand
from .events import Event

if TYPE_CHECKING:
    from .emulator import FreeSwitchEmulator
    from .session import CallSession

__all__ = ["Listener", "MYEVENTS", "DISCONNECT_MESSAGE"]

log = logging.getLogger("fsemu")
DISCONNECT_MESSAGE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
MYEVENTS = {"CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
            "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
            "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_PARK",
            "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK",
            "DETECTED_SPEECH", "DTMF", "NOTALK", "TALK"}
KNOWN_EVENTS = MYEVENTS | {"CUSTOM", "CLONE", "CHANNEL_CALLSTATE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "API",
                           "BACKGROUND_JOB", "HEARTBEAT", "RE_SCHEDULE", "CODEC", "PLAYBACK_START",
                           "PLAYBACK_STOP", "RECORD_START", "RECORD_STOP", "PRESENCE_IN", "CALL_UPDATE",
                           "SHUTDOWN", "STARTUP", "LOG", "MESSAGE", "CHANNEL_PROGRESS", "REQUEST_PARAMS",
                           "ALL", "SESSION_HEARTBEAT", "DTMF", "GENERAL", "COMMAND", "TRAP", "NOTIFY"}


class Listener:
    """One ESL connection (inbound or outbound)."""

    def __init__(self, emu: "FreeSwitchEmulator", writer: asyncio.StreamWriter,
                 session: "CallSession | None" = None, *, full: bool = True, asyncmode: bool = True) -> None:
        self.emu = emu
        self.writer = writer
        self.session = session
        self.full = full
        self.asyncmode = asyncmode
        self.outbound = session is not None
        self.authed = self.outbound
        self.running = True
        self.format = "plain"
        self.events_on = False
        self.all_events = False
        self.event_list: set[str] = set()
        self.custom: set[str] = set()
        self.myevents_uuid: str | None = session.ch.uuid if session else None
        self.myevents = False
        self.filters: list[tuple[str, str]] = []
        self.linger: int | None = None
        self.log_level: int | None = None
        self.held: list[Event] = []
        self.closed = asyncio.Event()

    # ---- output -------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self.writer.is_closing():
            return
        try:
            self.writer.write(data)
        except Exception:
            log.debug("write failed", exc_info=True)

    def reply(self, text: str) -> None:
        if text.startswith("~"):
            self.send(("Content-Type: command/reply\n" + text[1:]).encode("utf-8"))
        else:
            self.send(f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode("utf-8"))

    def send_event(self, ev: Event) -> None:
        body = ev.serialize_json() if self.format == "json" else ev.serialize_plain()
        if self.format == "xml":
            body = ev.serialize_plain()  # XML rendering is not emulated; plain body sent
        self.send(f"Content-Length: {len(body)}\nContent-Type: text/event-{self.format}\n\n".encode() + body)

    def send_disconnect(self, message: str = DISCONNECT_MESSAGE) -> None:
        mlen = len(message.encode("utf-8"))
        if self.session is not None:
            head = (f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {self.session.ch.uuid}\n"
                    f"Content-Disposition: disconnect\nContent-Length: {mlen}\n\n")
        else:
            head = f"Content-Type: text/disconnect-notice\nContent-Length: {mlen}\n\n"
        self.send(head.encode("utf-8") + message.encode("utf-8"))

    # ---- event routing (event_handler) ---------------------------------------------------
    def wants(self, ev: Event) -> bool:
        if not self.events_on:
            return False
        if not (self.all_events or ev.name in self.event_list):
            return False
        if ev.name == "CUSTOM" and ev.subclass and not self.all_events and ev.subclass not in self.custom:
            return False
        if self.filters:
            send = False
            for name, comp in self.filters:
                hval = ev.get(name)
                if hval is None:
                    continue
                pos = True
                c = comp
                while c and c[0] in "+- ":
                    pos = c[0] != "-" if c[0] in "+-" else pos
                    c = c[1:]
                if send and pos:
                    continue
                cmp = bool(re.search(c[1:-1] if c.startswith("/") and c.endswith("/") else c[1:], hval)) \
                    if comp.startswith("/") else hval.lower() == c.lower()
                if cmp:
                    if pos:
                        send = True
                    else:
                        send = False
                        break
            if not send:
                return False
        if self.myevents and ev.get("Unique-ID") != self.myevents_uuid:
            return False
        return True

    def on_event(self, ev: Event) -> None:
        if not self.running:
            return
        if self.outbound and not self.events_on:
            if ev.get("Unique-ID") == self.myevents_uuid:
                self.held.append(ev)
            return
        if self.wants(ev):
            self.send_event(ev)

    def _release_held(self) -> None:
        held, self.held = self.held, []
        for ev in held:
            if self.wants(ev):
                self.send_event(ev)

    # ---- commands (parse_command) --------------------------------------------------------
    async def handle(self, cmd: EslCommand) -> None:
        text = cmd.command.split("\r")[0].split("\n")[0]
        low = text.lower()
        if "unload" in low and "mod_event_socket" in low or "reload" in low and "mod_event_socket" in low:
            self.reply("-ERR command not found")
            return
        if low.startswith("exit") or low.startswith("..."):
            self.running = False
            self.reply("+OK bye")
            return
        if not self.authed:
            if low.startswith("auth "):
                if text[5:] == self.emu.password:
                    self.authed = True
                    self.reply("+OK accepted")
                else:
                    self.running = False
                    self.reply("-ERR invalid")
                return
            self.reply("-ERR command not found")
            return
        from .commands import dispatch
        reply = await dispatch(self, cmd, text)
        if reply is not None:
            self.reply(reply or "-ERR command not found")
        if self.events_on and self.held:
            self._release_held()  # events queued before the subscription follow its reply

    def subscribe(self, names: list[str]) -> int:
        count = 0
        custom = False
        for n in names:
            if custom:
                self.custom.add(n)
                continue
            up = n.upper()
            if up not in KNOWN_EVENTS:
                continue
            count += 1
            if up == "ALL":
                self.all_events = True
            self.event_list.add(up)
            if up == "CUSTOM":
                custom = True
        if count:
            self.events_on = True
        return count

    def enable_myevents(self) -> None:
        self.event_list |= MYEVENTS
        self.myevents = True
        self.events_on = True
