"""The session thread of one channel: media, answer, hangup, app execution, park.

Sources: switch_channel.c (``switch_channel_perform_mark_pre_answered`` /
``_mark_answered`` / ``_hangup``), switch_core_session.c (``switch_core_session_exec``:
current_application/-data variables, CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE with
Application, Application-Data, Application-Response (``_none_``), Application-UUID;
"Invalid Application" -> hangup DESTINATION_OUT_OF_ORDER), switch_ivr.c (``switch_ivr_park``
CHANNEL_PARK/CHANNEL_UNPARK, ``switch_ivr_parse_event`` sendmsg execute/hangup with
current_loop/total_loops), switch_core_state_machine.c (CS_HANGUP, CS_REPORTING,
CHANNEL_HANGUP_COMPLETE).  Sequence numbers of events FS fires that the captured
myevents session does not show (CHANNEL_CALLSTATE, CODEC, PLAYBACK_START/STOP, ...) are
reserved with ``Sequencer.skip`` so numbering matches the capture; those events are not emitted.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from . import sofia_profile as sp
from .cdr import set_cdr_variables
from .channel import Q850, Channel
from .esl_wire import EslCommand
from .expand import ApiFunction, Lookup
from .expand import expand as _expand

if TYPE_CHECKING:
    from .apps import AppTable

__all__ = ["CallSession", "HangupError"]

log = logging.getLogger("fsemu")
_EXEC = ("switch_core_session.c", "switch_core_session_exec")
#: switch_caller_get_field_by_name (src/switch_caller.c): the fields the emulator's channel has
PROFILE_FIELDS = {"destination_number": "destination", "caller_id_number": "caller_id_number",
                  "caller_id_name": "caller_id_name", "orig_caller_id_number": "caller_id_number",
                  "orig_caller_id_name": "caller_id_name", "ani": "caller_id_number",
                  "username": "caller_id_number", "network_addr": "network_addr", "uuid": "uuid",
                  "source": "source", "context": "context", "chan_name": "name", "dialplan": "dialplan"}


class HangupError(Exception):
    """The channel went down while an application was running."""


class CallSession:
    """Drives one Channel; owns its private event queue (sendmsg)."""

    def __init__(self, channel: Channel, apps: "AppTable") -> None:
        self.ch = channel
        self.apps = apps
        self.private: asyncio.Queue[EslCommand] = asyncio.Queue()
        self.parked = False
        self.controlled = False
        self.on_down: list[Callable[[], None]] = []
        self.transfer_to: tuple[str, str, str] | None = None
        self.transferred = asyncio.Event()   # CF_TRANSFER: ends socket's wait for connect (switch_channel_ready)
        self.playback_delay = 0.0
        self.emulator: Any = None
        # CF_BREAK (uuid_break): set until a playback sees it, clears it and stops
        # (switch_ivr_play_file); every application's start clears it (switch_core_session_exec),
        # so a break with nothing playing, or sent before the playback began, is lost.
        self.break_requested = asyncio.Event()

    # ---- media / answer -----------------------------------------------------------------
    def pre_answer(self) -> None:
        ch = self.ch
        if ch.early_media or ch.answered or not ch.up:
            return
        ch.switch.seq.skip(2)
        ch.codec = True
        ch.apply(sp.MEDIA)
        ch.early_media = True
        ev_t = ch.switch.clock()
        ch.times["progress_media"] = ev_t
        ch.fire("CHANNEL_PROGRESS_MEDIA", ("switch_channel.c", "switch_channel_perform_mark_pre_answered", 3560),
                stamp=ev_t)
        ch.switch.seq.skip(1)
        ch.call_state = "EARLY"

    def answer(self) -> None:
        ch = self.ch
        if ch.answered or not ch.up:
            return
        self.pre_answer()
        ch.apply(sp.ANSWER)
        ch.answered = True
        ev_t = ch.switch.clock()
        ch.times["answered"] = ev_t
        ch.fire("CHANNEL_ANSWER", ("switch_channel.c", "switch_channel_perform_mark_answered", 3846), stamp=ev_t)
        ch.switch.seq.skip(2)
        ch.call_state = "ACTIVE"
        ch.apply(sp.ANSWERED)

    def media_step(self) -> None:
        """First media operation after answer: the caller's ACK/RTP arrived (PEER_ACK)."""
        if self.ch.answered and not self.ch.peer_acked:
            self.ch.peer_acked = True
            self.ch.switch.seq.skip(1)  # CODEC (the caller's ptime differs)
            self.ch.apply(sp.PEER_ACK)

    # ---- hangup -------------------------------------------------------------------------
    def hangup(self, cause: str = "NORMAL_CLEARING", *, by_caller: bool = False) -> None:
        ch = self.ch
        if not ch.up:
            return
        if cause not in Q850:
            cause = "NORMAL_CLEARING" if cause == "" else cause
        ch.switch.seq.skip(1)
        if by_caller and ch.answered:
            ch.apply(sp.RECV_BYE_BEFORE)
        ch.hangup_cause = cause
        ch.target_state = "CS_HANGUP"
        ch.hangup_event.set()
        ch.fire("CHANNEL_HANGUP", ("switch_channel.c", "switch_channel_perform_hangup", 3445))
        if by_caller:
            ch.apply(sp.RECV_BYE_AFTER)
        else:
            ch.set_var("sip_hangup_disposition", "send_bye" if ch.answered else "send_refuse")
        for cb in list(self.on_down):
            cb()

    # ---- variables ----------------------------------------------------------------------
    def lookup(self, name: str) -> str | None:
        """switch_channel_get_variable_dup: channel variable, caller-profile field, global."""
        ch = self.ch
        value = ch.variables.get(name)
        if value is None and name in PROFILE_FIELDS:
            value = str(getattr(ch, PROFILE_FIELDS[name]))
        if value is None and self.emulator is not None:
            value = self.emulator.global_vars.get(name)
        return value

    def api_function(self, name: str, args: str) -> str | None:
        return self.emulator.api.function(name, args, self) if self.emulator is not None else None

    def expand(self, data: str) -> str:
        """switch_channel_expand_variables on this channel."""
        return _expand(data, self.lookup, self.api_function)

    # ---- applications -------------------------------------------------------------------
    async def execute(self, app: str, data: str | None, app_uuid: str | None = None) -> bool:
        """switch_core_session_execute_application + switch_core_session_exec."""
        ch = self.ch
        impl = self.apps.get(app)
        if impl is None:
            log.error("Invalid Application %s", app)
            self.hangup("DESTINATION_OUT_OF_ORDER")
            return False
        app_name = impl.name
        if data:
            data = self.expand(data)
        if app_uuid is None:
            app_uuid = ch.variables.get("app_uuid") or ch.switch.new_uuid()
            ch.set_var("app_uuid", None)
        if impl.needs_media and not ch.early_media and not ch.answered:
            self.pre_answer()
        ch.executed.append((app_name, data or ""))
        ch.set_var("current_application", app_name)
        ch.set_var("current_application_data", data)
        ch.set_var("current_application_response", None)
        ch.fire("CHANNEL_EXECUTE", _EXEC + (2944,),
                post=[("Application", app_name), ("Application-Data", data or None),
                      ("Application-UUID", app_uuid)])
        self.break_requested.clear()   # switch_core_session_exec clears CF_BREAK before every application
        ch.set_var("current_application", app_name)
        ch.app_log.append((app_name, data or ""))
        try:
            await impl.run(self, data or "")
        except HangupError:
            pass
        except Exception:
            log.exception("application %s failed", app_name)
        resp = ch.variables.get("current_application_response")
        ch.fire("CHANNEL_EXECUTE_COMPLETE", _EXEC + (2967,),
                post=[("Application", app_name), ("Application-Data", data or None),
                      ("Application-Response", resp or "_none_"), ("Application-UUID", app_uuid)])
        return True

    async def media_wait(self, seconds: float, *, breakable: bool = False) -> None:
        """Wait while media plays; raise HangupError if the channel goes down. A ``breakable``
        wait (file playback) also ends at CF_BREAK, which it clears."""
        if not self.ch.up:
            raise HangupError()
        waiters = {asyncio.ensure_future(self.ch.hangup_event.wait())}
        if breakable:
            waiters.add(asyncio.ensure_future(self.break_requested.wait()))
        try:
            await asyncio.wait(waiters, timeout=max(seconds, 0) or 0, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if breakable and self.break_requested.is_set():
            self.break_requested.clear()
        if seconds <= 0:
            await asyncio.sleep(0)
        if not self.ch.up:
            raise HangupError()

    # ---- private events (sendmsg) -------------------------------------------------------
    async def parse_event(self, cmd: EslCommand) -> None:
        """switch_ivr_parse_event."""
        ch = self.ch
        what = (cmd.get("call-command") or "").strip()
        if what == "execute":
            app = cmd.get("execute-app-name")
            arg = cmd.get("execute-app-arg")
            if not arg and (cmd.get("content-type") or "").lower() == "text/plain":
                arg = cmd.body.decode("utf-8", "replace")
            loops_h = cmd.get("loops")
            loops = int(loops_h) if loops_h and loops_h.lstrip("-").isdigit() else 1
            if not app:
                return
            x = 0
            while x < loops or loops < 0:
                if cmd.get("event-uuid"):
                    ch.set_var("app_uuid", cmd.get("event-uuid"))
                ch.set_var("current_loop", str(x + 1))
                ch.set_var("total_loops", str(loops))
                if not await self.execute(app, arg):
                    break
                if not ch.up:
                    break
                x += 1
                if x >= 1:  # FS stops looping when the app took < 0.5 s
                    break
            ch.set_var("current_loop", None)
            ch.set_var("total_loops", None)
        elif what == "hangup":
            self.hangup(cmd.get("hangup-cause") or "NORMAL_CLEARING")
        elif not what:
            log.error("Invalid Command!")

    async def park(self) -> None:
        """switch_ivr_park: CHANNEL_PARK, process private events until unparked/down."""
        ch = self.ch
        self.parked = True
        ch.fire("CHANNEL_PARK", ("switch_ivr.c", "switch_ivr_park", 1002))
        getter: asyncio.Future[EslCommand] | None = None
        downer = asyncio.ensure_future(ch.hangup_event.wait())
        try:
            while ch.up and self.parked:
                if getter is None:
                    getter = asyncio.ensure_future(self.private.get())
                done, _ = await asyncio.wait({getter, downer}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    cmd = getter.result()
                    getter = None
                    await self.parse_event(cmd)
        finally:
            downer.cancel()
            if getter is not None:
                getter.cancel()
        self.parked = False
        ch.fire("CHANNEL_UNPARK", ("switch_ivr.c", "switch_ivr_park", 1213))

    async def park_silently(self, until: asyncio.Event) -> None:
        """Static (non-async) socket mode: run sendmsg commands until the listener ends."""
        while self.ch.up and not until.is_set():
            getter = asyncio.ensure_future(self.private.get())
            stop = asyncio.ensure_future(until.wait())
            down = asyncio.ensure_future(self.ch.hangup_event.wait())
            done, _ = await asyncio.wait({getter, stop, down}, return_when=asyncio.FIRST_COMPLETED)
            for f in (stop, down):
                f.cancel()
            if getter in done:
                await self.parse_event(getter.result())
            else:
                getter.cancel()

    def transfer(self, ext: str, dialplan: str = "XML", context: str | None = None) -> None:
        """switch_ivr_session_transfer: new destination, routing starts again."""
        ch = self.ch
        ch.destination = ext
        ch.dialplan = dialplan or "XML"
        ch.context = context or ch.context
        ch.times["transfer"] = ch.switch.clock()
        self.transfer_to = (ext, ch.dialplan, ch.context)
        self.transferred.set()
        if self.parked:
            self.unpark()

    def unpark(self) -> None:
        self.parked = False
        self.private.put_nowait(EslCommand("noop"))

    # ---- end of call --------------------------------------------------------------------
    def finish(self) -> None:
        """CS_HANGUP -> CS_REPORTING (CHANNEL_HANGUP_COMPLETE) -> CS_DESTROY."""
        ch = self.ch
        if ch.up:
            self.hangup("NORMAL_CLEARING")
        ch.set_state("CS_HANGUP")
        ch.switch.seq.skip(2)
        ch.call_state = "HANGUP"
        stamp = ch.switch.clock()
        ch.times["hungup"] = stamp
        ch.set_state("CS_REPORTING", fire=False)
        ch.fire("CHANNEL_STATE", ("switch_channel.c", "switch_channel_perform_set_running_state", 2408),
                variables=False, stamp=stamp)
        set_cdr_variables(ch)
        ch.fire("CHANNEL_HANGUP_COMPLETE", ("switch_core_state_machine.c", "switch_core_session_reporting_state", 943),
                pre=[("Hangup-Cause", ch.hangup_cause or "NORMAL_CLEARING")], stamp=stamp)
        ch.state = "CS_DESTROY"
        ch.switch.remove_channel(ch)
        ch.done_event.set()
        ch.notify()


Runner = Callable[[CallSession, str], Awaitable[None]]


def expand_variables(variables: dict[str, str], data: str, lookup: Lookup | None = None,
                     api: ApiFunction | None = None) -> str:
    """switch_channel_expand_variables (see expand.py): ``lookup`` finds a variable (the
    channel's, then its caller-profile field, then a global), ``api`` runs ``${api(args)}``."""
    return _expand(data, lookup or variables.get, api)
