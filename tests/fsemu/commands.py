"""``parse_command`` of mod_event_socket.c (v1.10.12) after authentication.

Returns the Reply-Text (``~`` prefix = raw header block), ``""`` for ``-ERR command not
found``, or None when the command already answered (connect, api, bgapi).
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .esl_wire import EslCommand

if TYPE_CHECKING:
    from .listener import Listener

__all__ = ["dispatch"]

LOG_LEVELS = {"console": 0, "alert": 1, "crit": 2, "err": 3, "error": 3, "warning": 4, "notice": 5,
              "info": 6, "debug": 7, "0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7}


async def dispatch(li: "Listener", cmd: EslCommand, text: str) -> str | None:
    low = text.lower()
    emu = li.emu
    if low.startswith("filter "):
        rest = text[7:].lstrip(" ")
        name, _, val = rest.partition(" ")
        if name.lower() == "delete" and val:
            name, _, v2 = val.partition(" ")
            if name.lower() == "all":
                li.filters = []
            else:
                li.filters = [f for f in li.filters if not (f[0].lower() == name.lower() and (not v2 or f[1] == v2))]
            return f"+OK filter deleted. [{name}][{v2 or '(null)'}]"
        if val:
            if name.lower() == "add":
                name, _, val = val.partition(" ")
            li.filters.append((name, val))
            return f"+OK filter added. [{name}]=[{val}]"
        return "-ERR invalid syntax"
    if li.session is not None and low.startswith("resume"):
        li.session.ch.set_var("socket_resume", "true")
        return "+OK"
    if li.session is not None or low.startswith("myevents "):
        if low.startswith("connect"):
            if li.session is not None:
                li.on_connect()
            return None
        if low.startswith("getvar"):
            _, sep, arg = text.partition(" ")
            return (li.session.ch.get_var(arg) or "") if (sep and li.session) else ""
        if low.startswith("myevents"):
            if li.myevents:
                return "-ERR aready enabled."
            if li.session is None:
                parts = text[9:].split(" ")
                uuid, fmt = parts[0], (parts[1] if len(parts) > 1 else None)
                if uuid not in emu.switch.channels:
                    if fmt:
                        return "-ERR invalid uuid"
                li.myevents_uuid = uuid
            if "xml" in text or "XML" in text:
                li.format = "xml"
            if "json" in text or "JSON" in text:
                li.format = "json"
            li.enable_myevents()
            return "+OK Events Enabled"
    if low.startswith("divert_events"):
        if li.session is None:
            return "-ERR not controlling a session."
        onoff = text[13:].strip()
        if not onoff:
            return "-ERR missing value."
        return "+OK events diverted" if onoff.lower() == "on" else "+OK events not diverted"
    if low.startswith("sendmsg"):
        uuid = text[7:].strip() or cmd.get("session-id") or ""
        if li.session is not None and uuid == li.session.ch.uuid:
            uuid = ""
        if not uuid and li.session is not None:
            li.session.private.put_nowait(cmd)
            return "+OK"
        target = emu.sessions.get(uuid) if uuid else None
        if target is None:
            return f"-ERR invalid session id [{uuid or '(null)'}]"
        target.private.put_nowait(cmd)
        return "+OK"
    if li.outbound and not li.full:
        return ""
    if low.startswith("sendevent"):
        uid = emu.switch.new_uuid()
        return f"+OK {uid}"
    if low.startswith("api "):
        api_cmd = text[4:]
        name, _, arg = api_cmd.partition(" ")
        reply = await emu.api.execute(name, arg or None)
        if reply is None:
            reply = f"-ERR {name} Command not found!\n"
        if not reply:
            reply = "-ERR no reply\n"
        data = reply.encode("utf-8")
        li.send(f"Content-Type: api/response\nContent-Length: {len(data)}\n\n".encode() + data)
        return None
    if low.startswith("bgapi "):
        api_cmd = text[6:]
        name, _, arg = api_cmd.partition(" ")
        job = cmd.get("job-uuid") or emu.switch.new_uuid()
        li.reply(f"~Reply-Text: +OK Job-UUID: {job}\nJob-UUID: {job}\n\n")
        asyncio.ensure_future(emu.api.background(job, name, arg or None))
        return None
    if low.startswith("log"):
        level = text[4:].strip() if len(text) > 3 else ""
        lvl = LOG_LEVELS.get(level.lower(), 7 if not level else None)
        if lvl is None:
            return "-ERR invalid log level"
        li.log_level = lvl
        return f"+OK log level {level} [{lvl}]"
    if low.startswith("linger"):
        if li.session is None:
            return "-ERR not controlling a session"
        arg = text[7:] if len(text) > 7 and text[6] == " " else ""
        if arg:
            try:
                li.linger = int(arg.strip() or "0")
            except ValueError:
                li.linger = 0
            return f"+OK will linger {li.linger} seconds"
        li.linger = -1
        return "+OK will linger"
    if low.startswith("nolinger"):
        if li.session is None:
            return "-ERR not controlling a session"
        li.linger = None
        return "+OK will not linger"
    if low.startswith("nolog"):
        if li.log_level is not None:
            li.log_level = None
            return "+OK no longer logging"
        return "-ERR not loging"
    if low.startswith("event"):
        parts = text[5:].split(" ")[1:] if " " in text else []
        names = []
        for i, p in enumerate(parts):
            if i == 0 and p.lower() in ("plain", "json", "xml"):
                li.format = p.lower()
                continue
            if p:
                names.append(p)
        if not li.subscribe(names):
            return "-ERR no keywords supplied"
        return f"+OK event listener enabled {li.format}"
    if low.startswith("nixevent"):
        names = [p for p in text.split(" ")[1:] if p]
        count = 0
        for n in names:
            count += 1
            if n.upper() == "ALL":
                li.event_list.clear()
                li.all_events = False
            else:
                li.event_list.discard(n.upper())
        return "+OK events nixed" if count else "-ERR no keywords supplied"
    if low.startswith("noevents"):
        if li.events_on:
            li.events_on = False
            li.all_events = False
            li.event_list.clear()
            li.custom.clear()
            return "+OK no longer listening for events"
        return "-ERR not listening for events"
    return ""
