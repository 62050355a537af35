"""API commands (mod_commands.c v1.10.12 texts): status, uptime, show channels/calls count,
uuid_kill, uuid_bridge (minimal), uuid_transfer, hupall, originate (minimal), version,
global_getvar, uuid_getvar, uuid_setvar, eval, echo; mod_sofia's sofia_contact.  ``function``
runs the ones ``${api(args)}`` may call during variable expansion (sofia_contact, echo).  Unknown -> None (the caller answers
``-ERR <cmd> Command not found!``)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .channel import Q850

if TYPE_CHECKING:
    from .emulator import FreeSwitchEmulator
    from .session import CallSession

__all__ = ["Api"]

VERSION = "1.10.12-release git 0 2024-08-02 21:23:05Z 64bit"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class Api:
    def __init__(self, emu: "FreeSwitchEmulator") -> None:
        self.emu = emu

    async def execute(self, name: str, arg: str | None) -> str | None:
        fn = getattr(self, "cmd_" + name.lower(), None) if name.replace("_", "").isalnum() else None
        if fn is None:
            return None
        result: str = await fn((arg or "").strip())
        return result

    def function(self, name: str, arg: str, session: "CallSession | None" = None) -> str | None:
        """An API command run by variable expansion on a channel (switch_api_execute with the
        session); None = not emulated."""
        low = name.lower()
        if low == "sofia_contact":
            return self.emu.registrar.sofia_contact(arg, session.ch.variables if session is not None else None)
        if low == "echo":
            return arg
        return None

    async def background(self, job: str, name: str, arg: str | None) -> None:
        reply = await self.execute(name, arg)
        if reply is None:
            reply = f"-ERR {name} Command not found!\n"
        sw = self.emu.switch
        ev = sw.new_event("BACKGROUND_JOB", ("mod_event_socket.c", "api_exec", 1572))
        ev.add("Job-UUID", job)
        ev.add("Job-Command", name)
        ev.add("Job-Command-Arg", arg)
        ev.body = reply or "Command returned no output!"
        sw.fire(ev)

    async def cmd_status(self, _: str) -> str:
        sw = self.emu.switch
        up = max(sw.clock() - sw.started_us, 0)
        yr, rem = divmod(up, 365 * 86400 * 10**6)
        day, rem = divmod(rem, 86400 * 10**6)
        hr, rem = divmod(rem, 3600 * 10**6)
        mi, rem = divmod(rem, 60 * 10**6)
        sec, rem = divmod(rem, 10**6)
        ms, us = divmod(rem, 1000)
        n = len(sw.channels)
        return (f"UP {_plural(yr, 'year')}, {_plural(day, 'day')}, {_plural(hr, 'hour')}, "
                f"{_plural(mi, 'minute')}, {_plural(sec, 'second')}, {_plural(ms, 'millisecond')}, "
                f"{_plural(us, 'microsecond')}\n"
                f"FreeSWITCH (Version {VERSION}) is ready\n"
                f"{sw.session_counter} session(s) since startup\n"
                f"{n} session(s) - peak {sw.sessions_peak}, last 5min {sw.sessions_peak} \n"
                "0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n"
                "1000 session(s) max\nmin idle cpu 0.00/100.00\n"
                "Current Stack Size/Max 240K/8192K\n")

    async def cmd_uptime(self, arg: str) -> str:
        scales = {"": 10**6, "us": 1, "microseconds": 1, "ms": 1000, "milliseconds": 1000, "s": 10**6,
                  "seconds": 10**6, "m": 60 * 10**6, "minutes": 60 * 10**6, "h": 3600 * 10**6,
                  "hours": 3600 * 10**6, "d": 86400 * 10**6, "days": 86400 * 10**6}
        if arg.lower() not in scales:
            return "-USAGE: [us|ms|s|m|h|d|microseconds|milliseconds|seconds|minutes|hours|days]\n"
        sw = self.emu.switch
        return f"{(sw.clock() - sw.started_us) // scales[arg.lower()]}"

    async def cmd_version(self, _: str) -> str:
        return f"FreeSWITCH Version {VERSION} (git 0 2024-08-02 21:23:05Z 64bit)"

    async def cmd_show(self, arg: str) -> str:
        chans = list(self.emu.switch.channels.values())
        a = arg.lower().split()
        if a[:2] == ["calls", "count"] or a[:2] == ["channels", "count"]:
            return f"\n{len(chans)} total.\n\n"
        if a[:1] in (["channels"], ["calls"]):
            lines = ["uuid,direction,created,created_epoch,name,state,cid_name,cid_num,dest,application"]
            for c in chans:
                lines.append(f"{c.uuid},inbound,,{c.created_us // 10**6},{c.name},{c.state},{c.caller_id_name},"
                             f"{c.caller_id_number},{c.destination},{c.variables.get('current_application', '')}")
            return "\n".join(lines) + f"\n\n{len(chans)} total.\n"
        return "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status\n"

    async def cmd_uuid_kill(self, arg: str) -> str:
        parts = arg.split()
        if not parts:
            return "-USAGE: <uuid> [cause]\n"
        s = self.emu.sessions.get(parts[0])
        if s is None or not s.ch.up:
            return "-ERR No such channel!\n"
        s.hangup(parts[1] if len(parts) > 1 else "NORMAL_CLEARING")
        return "+OK\n"

    async def cmd_uuid_break(self, arg: str) -> str:
        """mod_commands break_function: ``all`` also flushes the queued (sendmsg) applications."""
        parts = arg.split()
        if not parts:
            return "-USAGE: <uuid> [all]\n"
        s = self.emu.sessions.get(parts[0])
        if s is None:
            return "-ERR No such channel!\n"
        if len(parts) > 1 and "all" in parts[1]:
            while not s.private.empty():
                s.private.get_nowait()
        s.break_requested.set()
        return "+OK\n"

    async def cmd_uuid_transfer(self, arg: str) -> str:
        parts = arg.split()
        if len(parts) < 2:
            return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
        s = self.emu.sessions.get(parts[0])
        if s is None:
            return "-ERR No such channel!\n"
        rest = [p for p in parts[1:] if p not in ("-bleg", "-both")]
        s.transfer(rest[0], rest[1] if len(rest) > 1 else "XML", rest[2] if len(rest) > 2 else None)
        return "+OK\n"

    async def cmd_uuid_bridge(self, arg: str) -> str:
        parts = arg.split()
        if len(parts) != 2:
            return "-USAGE: <uuid> <other_uuid>\n"
        a, b = (self.emu.sessions.get(p) for p in parts)
        if a is None or b is None:
            return f"-ERR Invalid uuid {parts[0] if a is None else parts[1]}\n"
        return f"+OK {parts[1]}\n"

    async def cmd_hupall(self, arg: str) -> str:
        parts = arg.split()
        cause = parts[0] if parts else "MANAGER_REQUEST"
        cause = cause if cause in Q850 else "MANAGER_REQUEST"
        for s in list(self.emu.sessions.values()):
            if len(parts) >= 3 and s.ch.get_var(parts[1]) != parts[2]:
                continue
            s.hangup(cause)
        if len(parts) >= 3:
            return f"+OK hangup all channels matching [{parts[1]}]=[{parts[2]}] with cause: {cause}\n"
        return f"+OK hangup all channels with cause {cause}\n"

    async def cmd_uuid_getvar(self, arg: str) -> str:
        parts = arg.split()
        s = self.emu.sessions.get(parts[0]) if parts else None
        if s is None:
            peer = self.emu.peer_vars.get(parts[0]) if parts else None   # a bridged B-leg
            if peer is None:
                return "-ERR No such channel!\n"
            v = peer.get(parts[1]) if len(parts) > 1 else None
            return v if v is not None else "_undef_"
        v = s.ch.get_var(parts[1]) if len(parts) > 1 else None
        return v if v is not None else "_undef_"

    async def cmd_global_getvar(self, arg: str) -> str:
        """``core_uuid`` and ``hostname`` are the core's (switch_core.c sets them at start)."""
        core = self.emu.switch.core
        return {"core_uuid": core.core_uuid, "hostname": core.hostname}.get(arg, self.emu.global_vars.get(arg, ""))

    async def cmd_sched_del(self, arg: str) -> str:
        if not arg:
            return "-ERR Invalid syntax\n"
        return f"+OK Deleted: {self.emu.scheduler.delete(arg)}\n"

    async def cmd_uuid_setvar(self, arg: str) -> str:
        parts = arg.split(" ", 2)
        s = self.emu.sessions.get(parts[0]) if parts else None
        if s is None:
            return "-ERR No such channel!\n"
        if len(parts) > 1:
            s.ch.set_var(parts[1], parts[2] if len(parts) > 2 else None)
        return "+OK\n"

    async def cmd_originate(self, arg: str) -> str:
        parts = arg.split()
        if len(parts) < 2:
            return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"
        result = await self.emu.originate(parts[0], parts[1])
        return result

    async def cmd_sofia_contact(self, arg: str) -> str:
        """mod_sofia.c sofia_contact_function: ``[profile/]<user>@<domain>``."""
        return self.emu.registrar.sofia_contact(arg)

    async def cmd_echo(self, arg: str) -> str:
        return arg

    async def cmd_eval(self, arg: str) -> str:
        """mod_commands.c eval_function: ``[uuid:<uuid> ]<text>``. ``${name}`` is looked up among the
        headers of a CHANNEL_DATA event of that channel (``variable_<name>`` for channel variables,
        ``Unique-ID``, ...; none when there is no such channel), then among global variables, and
        replaced by "" when neither has it (switch_event_expand_headers; a header's value is not
        expanded again). Only plain ``${name}`` references are handled."""
        headers: dict[str, str] = {}
        if arg.startswith("uuid:"):
            uuid, _, arg = arg[5:].partition(" ")
            s = self.emu.sessions.get(uuid)
            if s is not None:
                for name, value in [*s.ch.basic_data(), *((f"variable_{k}", v) for k, v in s.ch.variables.items())]:
                    headers.setdefault(name, value)
        if not arg:
            return ""

        def value(match: "re.Match[str]") -> str:
            name = match.group(1)
            found = headers.get(name)
            return found if found is not None else self.emu.global_vars.get(name, "")

        return re.sub(r"\$\{([^${}]+)\}", value, arg)
