"""One call's outbound event-socket session (greenswitch ``OutboundSession``), as an IVR uses it.

FreeSWITCH 1.10 behaviour relied on (signalwire/freeswitch, tag v1.10.12):

* ``sendmsg`` with ``call-command: execute`` queues the application on the channel; the
  ``socket`` application's park loop runs it (``switch_ivr_parse_event``, src/switch_ivr.c).
  The ``event-uuid`` header becomes the channel's ``app_uuid``, which
  ``switch_core_session_exec`` (src/switch_core_session.c) puts as ``Application-UUID`` on
  CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE: ``execute`` waits for the completion of
  *its* execution, whatever else runs. Header values are taken raw (``read_packet``,
  mod_event_socket.c), and the data is split on spaces and ``${}``-expanded by the applications.
* ``myevents`` (outbound mode) subscribes to this channel's events; CHANNEL_EXECUTE_COMPLETE
  carries the channel variables (``variable_<name>``).
* ``play_and_get_digits`` (mod_dptools.c ``play_and_get_digits_function`` →
  ``switch_play_and_get_digits`` and ``switch_ivr_read`` in src/switch_ivr_play_say.c): with
  ``max_tries`` 1 it plays the file, waits ``timeout`` ms for ``max_digits`` keys, stores a key
  matching the regex in ``<var>``, a key that does not in ``<var>_invalid`` (both cleared
  first), sets ``read_result``, and plays ``invalid_file`` after a try that failed either way
  (invalid key *or* timeout). A key that is also a terminator is dropped when ``max_digits``
  is 1, so terminators are ``none`` (no DTMF is "none"; only ``""`` defaults to ``#``).
  ``silence`` as the prompt plays nothing.
* Without ``linger``, when the channel hangs up FreeSWITCH sends the disconnect notice and
  closes the socket (``listener_run``); an application running then may never report its
  completion, so every wait ends on CHANNEL_HANGUP, the notice, or the socket closing.
* ``exit`` closes the socket: the park loop ends (CF_CONTROLLED cleared), ``socket`` returns
  and the dialplan goes on with its next action, unless the channel was transferred.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from hibiki.common import dialstring
from hibiki.common.logging import get_logger

log = get_logger("hibiki.callcontrol.ivr")
DIGIT_VARIABLE = "hibiki_ivr_digit"
FAILED_TRY_SOUND = "silence_stream://250"   # FreeSWITCH plays invalid_file after any failed try
# The directory honours a hibiki_route_<kind>_<target> destination only on a channel whose
# hibiki_route_grant names exactly that destination: a channel variable only a controller
# (through a vouched-for session) can set, never a caller (issue 10, item 3).
ROUTE_GRANT = "hibiki_route_grant"


# Events of the channel no handler of the session reads (it reads CHANNEL_EXECUTE_COMPLETE,
# CHANNEL_HANGUP and CHANNEL_BRIDGE; answers, hang-ups and recordings are read from the inbound
# socket): each would be serialized by FreeSWITCH and read by callcontrol for nothing. A name
# FreeSWITCH does not know is ignored by ``nixevent``.
UNUSED_EVENTS = ("CHANNEL_EXECUTE", "CHANNEL_STATE", "CHANNEL_CALLSTATE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
                 "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_DATA", "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE",
                 "CHANNEL_OUTGOING", "CHANNEL_UUID", "DTMF", "TALK", "NOTALK", "DETECTED_SPEECH",
                 "CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY",
                 "CHANNEL_HOLD", "CHANNEL_UNHOLD", "PLAYBACK_START", "PLAYBACK_STOP", "RECORD_START", "RECORD_STOP",
                 "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CALL_UPDATE", "RECV_INFO", "RECV_RTCP_MESSAGE",
                 "SEND_MESSAGE", "RECV_MESSAGE", "CODEC", "SESSION_HEARTBEAT", "CALL_SECURE")


_BREAKS_FRAME = re.compile(r"[\r\n\x00]")
_STREAM = re.compile(r"(tone_stream|silence_stream)://[0-9A-Za-z%(),;.=]{1,200}")


def _sendmsg(app: str, arg: str, app_uuid: str) -> str:
    if _BREAKS_FRAME.search(app + arg):   # a line break would end the header and start a command of its own
        raise dialstring.UnsafeValue("application argument", arg)
    command = f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\nevent-uuid: {app_uuid}"
    return command + f"\nexecute-app-arg: {arg}" if arg else command


class CallerGone(Exception):
    """The channel hung up or the event socket closed: nothing more can be done on the call."""


class ConnectionLost(CallerGone):
    """The event socket closed with no hangup: FreeSWITCH goes on with the dialplan (fallback)."""


class Released(Exception):
    """The service is stopping: the call goes back to its dialplan."""


class CommandRefused(Exception):
    """FreeSWITCH answered a command with ``-ERR``."""


class EslChannel:
    def __init__(self, session: Any) -> None:
        from gevent.event import Event

        self._session = session
        self._waiting: dict[str, Any] = {}       # Application-UUID -> AsyncResult
        self._pending: list[tuple[str, Any]] = []   # commands sent whose reply is not read yet
        self._ended: type[Exception] | None = None
        self.gone = Event()
        self.hangup_cause = ""
        self.data: Mapping[str, str] = session.session_data or {}   # decoded when read: no copy
        self.uuid = self.data.get("Unique-ID", "")
        self.node = ""          # the pool's name of the FreeSWITCH node that vouched for the session ("" unverified)
        session.register_handle("CHANNEL_EXECUTE_COMPLETE", self._completed)
        session.register_handle("CHANNEL_HANGUP", self._hung_up)
        session.register_handle("DISCONNECT", self._disconnected)
        receiver = getattr(session, "_receive_events_greenlet", None)
        if receiver is not None:      # the socket closed without a notice (controller side)
            receiver.link(lambda _: self._lost())

    # ---- commands ---------------------------------------------------------------------------
    def subscribe(self) -> None:
        """This channel's events, less those the IVR never waits for: every event costs the
        controller the decoding of its ~170 headers, and CHANNEL_EXECUTE alone doubles the
        events per application (``nixevent`` drops them from myevents' list, mod_event_socket.c).
        Neither reply is waited for here: they are read (and checked) with the next waited command's,
        which FreeSWITCH answers after these two (one round trip less per call)."""
        self._send("myevents", wait=False)
        self._send("nixevent " + " ".join(UNUSED_EVENTS), wait=False)

    def execute(self, app: str, arg: str = "") -> Mapping[str, str]:
        """Run ``app`` on the channel; the headers of its CHANNEL_EXECUTE_COMPLETE."""
        from gevent.event import AsyncResult

        self._check()
        app_uuid = str(uuid.uuid4())
        done = AsyncResult()
        self._waiting[app_uuid] = done
        try:
            self._send(_sendmsg(app, arg, app_uuid))
            headers: Mapping[str, str] = done.get()
            return headers
        finally:
            self._waiting.pop(app_uuid, None)

    def queue(self, app: str, arg: str = "") -> None:
        """Queue ``app`` without waiting for it: the channel runs queued applications in order.
        Nor is the socket's ``+OK`` waited for: it is read with the next command's reply (one
        round trip for ``set``, ``set``, ``bridge`` instead of three; a refusal still raises
        ``CommandRefused``, from that next command)."""
        self._send(_sendmsg(app, arg, str(uuid.uuid4())), wait=False)

    def set(self, name: str, value: str) -> None:
        self.queue("set", f"{name}={value}")

    def transfer(self, destination: str, context: str) -> Mapping[str, str]:
        """``transfer <destination> XML <context>``; an internal route (``hibiki_route_...``)
        gets its grant first, which the directory's dialplan checks."""
        from hibiki.common import dialstring

        argument = dialstring.transfer(destination, context)     # UnsafeValue: nothing sent
        if destination.startswith("hibiki_route_"):
            self.set(ROUTE_GRANT, destination)
        return self.execute("transfer", argument)

    def collect(self, greeting: str, timeout_ms: int, keys: frozenset[str]) -> str:
        """Play ``greeting`` and wait for one key; ``""`` when none came."""
        if not dialstring.SOUND.fullmatch(greeting) and not _STREAM.fullmatch(greeting):
            raise dialstring.UnsafeValue("sound", greeting)   # one argument of several: no space, nothing to expand
        regex = "^[" + "".join(sorted(keys)) + "]$" if keys else "^$"
        headers = self.execute("play_and_get_digits", f"1 1 1 {timeout_ms} none {greeting} {FAILED_TRY_SOUND} "
                                                      f"{DIGIT_VARIABLE} {regex} {timeout_ms}")
        digit = headers.get(f"variable_{DIGIT_VARIABLE}") or headers.get(f"variable_{DIGIT_VARIABLE}_invalid") or ""
        if not digit and headers.get("variable_read_result") not in ("timeout", "success"):
            log.warning("digits_not_read", read_result=headers.get("variable_read_result", ""), greeting=greeting)
        return digit

    def break_media(self) -> None:
        """Stop what the channel plays now (hold music before handing the call back)."""
        try:
            self._session.send(f"api uuid_break {self.uuid} all")
        except Exception:   # gone already: nothing plays
            pass

    def break_playback(self) -> None:
        """Stop the playback running now (hold music, an announcement), leaving queued
        applications alone: ``uuid_break`` without ``all`` sets CF_BREAK, which the playing file
        sees (~25 ms on 1.10.12); the next application's start clears it, so with nothing
        playing it does nothing. On ``play_and_get_digits`` it stops the prompt only: the digit
        wait goes on (``all`` too)."""
        try:
            self._session.send(f"api uuid_break {self.uuid}")
        except Exception:   # gone already: nothing plays
            pass

    def api(self, command: str) -> str:
        """An API command over this session's socket; its reply body."""
        if _BREAKS_FRAME.search(command):
            raise dialstring.UnsafeValue("API command", command)
        return str(getattr(self._send(f"api {command}"), "data", "") or "")

    def on(self, event: str, handler: Any) -> None:
        """Call ``handler(event)`` for each of this channel's ``event`` (on the event greenlet)."""
        self._session.register_handle(event, handler)

    def hand_back(self) -> None:
        """Leave the socket: FreeSWITCH goes on with the dialplan (or the transfer)."""
        try:
            self._session.send("exit")
        except Exception:   # gone already: nothing to hand back
            pass

    def release(self) -> None:
        """Called on the hub when the service stops: every wait ends with ``Released``."""
        self._end(Released)

    def _send(self, command: str, wait: bool = True) -> Any:
        """``command``'s reply; with ``wait=False`` (a session that can pipeline, ``OutboundWire.post``)
        it is sent at once and its reply read with the next waited command's (FreeSWITCH answers a
        socket's commands in order). The replies of earlier commands are checked first either way."""
        from greenswitch.esl import NotConnectedError, OutboundSessionHasGoneAway

        self._check()
        post = getattr(self._session, "post", None)
        try:
            if post is None:
                self._settle()
                return self._checked(command, self._session.send(command))
            result = post(command)
        except (NotConnectedError, OutboundSessionHasGoneAway, OSError) as exc:
            self._end(ConnectionLost)
            ended = self._ended or ConnectionLost
            raise ended(str(exc) or type(exc).__name__) from None
        self._pending.append((command, result))
        return self._settle() if wait else None

    def _settle(self) -> Any:
        """Read the replies of the commands sent (in order); the last one's."""
        from greenswitch.esl import NotConnectedError, OutboundSessionHasGoneAway

        reply = None
        while self._pending:
            command, result = self._pending.pop(0)
            try:
                reply = result.get()
            except (NotConnectedError, OutboundSessionHasGoneAway, OSError) as exc:
                self._pending.clear()
                self._end(ConnectionLost)
                ended = self._ended or ConnectionLost
                raise ended(str(exc) or type(exc).__name__) from None
            self._checked(command, reply)
        return reply

    @staticmethod
    def _checked(command: str, reply: Any) -> Any:
        text = str(getattr(reply, "data", "") or "")
        if text.startswith("-ERR"):
            raise CommandRefused(f"{command.splitlines()[0]}: {text.strip()}")
        return reply

    @property
    def ended_by(self) -> type[Exception] | None:
        """``CallerGone``, ``ConnectionLost`` or ``Released`` once the call can no longer be
        used (the first of them), else None."""
        return self._ended

    def _check(self) -> None:
        if self._ended is not None:
            raise self._ended()

    # ---- events (on greenswitch's event greenlet) -------------------------------------------
    def _completed(self, event: Any) -> None:
        headers: Mapping[str, str] = event.headers
        waiter = self._waiting.get(headers.get("Application-UUID", ""))
        if waiter is not None and not waiter.ready():
            waiter.set(headers)

    def _hung_up(self, event: Any) -> None:
        self.hangup_cause = event.headers.get("Hangup-Cause", "") or self.hangup_cause
        self._end(CallerGone)

    def _disconnected(self, _event: Any) -> None:
        self._end(CallerGone)

    def _lost(self) -> None:
        from greenswitch.esl import OutboundSessionHasGoneAway

        self._end(ConnectionLost)
        for pending in list(getattr(self._session, "_commands_sent", [])):   # replies that will never come
            if not pending.ready():
                pending.set_exception(OutboundSessionHasGoneAway())

    def _end(self, why: type[Exception]) -> None:
        if self._ended is None:
            self._ended = why
        self.gone.set()
        for waiter in list(self._waiting.values()):
            if not waiter.ready():
                waiter.set_exception(why())
