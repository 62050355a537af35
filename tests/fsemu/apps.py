"""Dialplan applications (mod_dptools, mod_event_socket ``socket``, a few others).

Sources: src/mod/applications/mod_dptools/mod_dptools.c (argument parsing of
play_and_get_digits, playback's ``FILE PLAYED`` response, set/export/unset),
src/switch_ivr_play_say.c (``switch_play_and_get_digits`` / ``switch_ivr_read``: tries,
terminators, ``read_result``, ``<var>_invalid``, transfer on failure), src/switch_channel.c
(DTMF event headers DTMF-Digit/DTMF-Duration/DTMF-Source).  Media is simulated: files always
exist and play for ``CallSession.playback_delay`` seconds (tone_stream durations are computed).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

if TYPE_CHECKING:
    from .session import CallSession

__all__ = ["App", "AppTable", "default_apps"]

log = logging.getLogger("fsemu")
Run = Callable[["CallSession", str], Awaitable[None]]


@dataclass
class App:
    name: str
    run: Run
    needs_media: bool = False


class AppTable:
    def __init__(self) -> None:
        self._apps: dict[str, App] = {}

    def add(self, name: str, run: Run, *, needs_media: bool = False) -> None:
        self._apps[name] = App(name, run, needs_media)

    def get(self, name: str) -> App | None:
        return self._apps.get(name)


def _tone_ms(path: str) -> int | None:
    m = re.match(r"tone_stream://(?:L=(\d+);)?%\((\d+),(\d+)", path)
    if not m:
        return None
    loops = int(m.group(1) or 1)
    return loops * (int(m.group(2)) + int(m.group(3)))


async def _play(s: "CallSession", path: str) -> None:
    s.media_step()
    s.ch.switch.seq.skip(1)  # PLAYBACK_START (not in the myevents set)
    ms = _tone_ms(path)
    await s.media_wait(s.playback_delay if ms is None else min(ms / 1000.0, s.playback_delay), breakable=True)
    ms = int(s.playback_delay * 1000) if ms is None else ms
    s.ch.set_var("playback_last_offset_pos", str(ms * 8))
    s.ch.set_var("playback_seconds", str(ms // 1000))
    s.ch.set_var("playback_ms", str(ms))
    s.ch.set_var("playback_samples", str(ms * 8))
    s.ch.switch.seq.skip(1)  # PLAYBACK_STOP


async def app_answer(s: "CallSession", _: str) -> None:
    s.answer()


async def app_pre_answer(s: "CallSession", _: str) -> None:
    s.pre_answer()


async def app_ring_ready(s: "CallSession", _: str) -> None:
    if not s.ch.times["progress"]:
        s.ch.times["progress"] = s.ch.switch.clock()


async def app_set(s: "CallSession", data: str) -> None:
    name, _, value = data.partition("=")
    if name:
        s.ch.set_var(name.strip(), value or None)


async def app_export(s: "CallSession", data: str) -> None:
    name, _, value = data.partition("=")
    name = name.strip()
    if name.startswith("nolocal:"):
        name = name[8:]
    else:
        s.ch.set_var(name, value or None)
    old = s.ch.get_var("export_vars")
    names = old.split(",") if old else []
    if name and name not in names:
        s.ch.set_var("export_vars", ",".join(names + [name]))


async def app_unset(s: "CallSession", data: str) -> None:
    s.ch.set_var(data.strip(), None)


async def app_playback(s: "CallSession", data: str) -> None:
    await _play(s, data)
    s.ch.set_var("current_application_response", "FILE PLAYED")


async def app_sleep(s: "CallSession", data: str) -> None:
    ms = int(data) if data.strip().isdigit() else 0
    await s.media_wait(min(ms / 1000.0, s.playback_delay))


def _fire_dtmf(s: "CallSession", digit: str) -> None:
    s.ch.fire("DTMF", ("switch_channel.c", "switch_channel_queue_dtmf", 677),
              post=[("DTMF-Digit", digit), ("DTMF-Duration", "2000"), ("DTMF-Source", "RTP")])


async def _read(s: "CallSession", min_d: int, max_d: int, prompt: str | None, var: str | None,
                terminators: str) -> tuple[str, str]:
    """switch_ivr_read: returns (status, digits)."""
    ch = s.ch
    ch.set_var("read_result", None)
    if var:
        ch.set_var(var, None)
    if prompt:
        await _play(s, prompt)
    digits, term, status = "", "", "success"
    while len(digits) < max_d:
        if not ch.dtmf:
            status = "timeout"
            break
        d = ch.dtmf.pop(0)
        _fire_dtmf(s, d)
        if d in terminators:
            term = d
            break
        digits += d
    if term:
        ch.set_var("read_terminator_used", term)
    if min_d and len(digits) < min_d:
        status = "too_small"
    ch.set_var("read_result", {"success": "success", "timeout": "timeout"}.get(status, "failure"))
    if max_d == 1 and len(digits) == 1 and digits in terminators:
        digits = ""
    if var and digits:
        ch.set_var(var, digits)
    return status, digits


async def app_play_and_get_digits(s: "CallSession", data: str) -> None:
    argv = data.split(" ") if data else []
    if not argv or not data.strip():
        log.error("No arguments specified.")
        return
    def arg(i: int) -> str | None:
        return argv[i] if len(argv) > i else None
    def num(i: int, default: int) -> int:
        v = arg(i)
        return int(v) if v and v.lstrip("-").isdigit() else default
    min_d = max(num(0, 0), 0)
    max_d = max(num(1, 0), min_d)
    tries = num(2, 0)
    terms = arg(4) or "#"
    prompt, invalid, var, regex, xfer = arg(5), arg(6), arg(7), arg(8), " ".join(argv[10:]) or None
    ch = s.ch
    if regex and var:
        ch.set_var(f"{var}_invalid", None)
    while ch.up and tries > 0:
        status, digits = await _read(s, min_d, max_d, prompt, var, terms)
        if status == "timeout" and len(digits) >= min_d:
            status = "success"
        if min_d == 0 and not digits and ch.get_var("read_terminator_used"):
            return
        if not (status == "too_small" and not digits) and status == "success" and digits:
            if not regex or re.search(regex, digits):
                return
            ch.set_var(var or "", None)
            if var:
                ch.set_var(f"{var}_invalid", digits)
        if not ch.up:
            break
        if invalid:
            await _play(s, invalid)
        tries -= 1
    if xfer:
        target = xfer.split(" ")
        s.transfer(target[0], target[1] if len(target) > 1 else "XML", target[2] if len(target) > 2 else None)


async def app_hangup(s: "CallSession", data: str) -> None:
    s.hangup(data.strip() or "NORMAL_CLEARING")


async def app_transfer(s: "CallSession", data: str) -> None:
    parts = data.split()
    if parts:
        s.transfer(parts[0], parts[1] if len(parts) > 1 else "XML", parts[2] if len(parts) > 2 else None)


async def app_park(s: "CallSession", _: str) -> None:
    await s.park()


async def app_noop(s: "CallSession", data: str) -> None:
    """Applications whose effect is only recorded (record_session, log, info, ...)."""


async def app_record_session(s: "CallSession", data: str) -> None:
    s.media_step()


def default_apps() -> AppTable:
    t = AppTable()
    for name, fn, media in [
        ("answer", app_answer, False), ("pre_answer", app_pre_answer, False),
        ("ring_ready", app_ring_ready, False), ("set", app_set, False), ("export", app_export, False),
        ("unset", app_unset, False), ("playback", app_playback, True), ("sleep", app_sleep, False),
        ("play_and_get_digits", app_play_and_get_digits, True), ("hangup", app_hangup, False),
        ("transfer", app_transfer, False), ("park", app_park, False), ("log", app_noop, False),
        ("info", app_noop, False), ("record_session", app_record_session, True),
        ("stop_record_session", app_noop, False), ("voicemail", app_noop, True),
        ("valet_park", app_park, False), ("intercept", app_noop, False),
        ("privacy", app_noop, False),  # mod_dptools privacy_function: caller-profile flags only
        ("hash", app_noop, False), ("pickup", app_noop, False),  # mod_hash, mod_dptools: recorded only
        ("bind_meta_app", app_noop, False),  # the binding only (keys pressed later: the real-switch tier)
    ]:
        t.add(name, fn, needs_media=media)
    return t
