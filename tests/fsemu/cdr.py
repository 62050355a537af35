"""CDR variables at CS_REPORTING: ``switch_channel_set_timestamps`` (src/switch_channel.c)
order and arithmetic, plus hangup_cause/hangup_cause_q850/digits_dialed and the captured RTP
statistics (sofia_profile.RTP_STATS)."""
from __future__ import annotations

from . import sofia_profile as sp
from .causes import cause_q850
from .channel import Channel
from .events import date_local

__all__ = ["set_cdr_variables"]


def set_cdr_variables(ch: Channel) -> None:
    """switch_channel_set_timestamps (+ hangup_cause, digits_dialed, RTP stats)."""
    t = ch.times
    cause = ch.hangup_cause or "NORMAL_CLEARING"
    ch.set_var("hangup_cause", cause)
    ch.set_var("hangup_cause_q850", str(cause_q850(cause)))
    ch.set_var("digits_dialed", "none")
    c = ch.created_us
    ch.set_var("start_stamp", date_local(c))
    ch.set_var("profile_start_stamp", date_local(c))
    for key in ("answered", "bridged", "last_hold", "resurrect", "progress", "progress_media"):
        name = {"answered": "answer", "last_hold": "hold"}.get(key, key)
        if t[key]:
            ch.set_var(f"{name}_stamp", date_local(t[key]))
    ch.set_var("end_stamp", date_local(t["hungup"]))
    def epochs(name: str, us: int) -> None:
        ch.set_var(f"{name}_epoch", str(us // 1_000_000))
        ch.set_var(f"{name}_uepoch", str(us))
    epochs("start", c)
    epochs("profile_start", c)
    epochs("answer", t["answered"])
    epochs("bridge", t["bridged"])
    epochs("last_hold", t["last_hold"])
    ch.set_var("hold_accum_seconds", str(t["hold_accum"] // 1_000_000))
    ch.set_var("hold_accum_usec", str(t["hold_accum"]))
    ch.set_var("hold_accum_ms", str(t["hold_accum"] // 1000))
    epochs("resurrect", t["resurrect"])
    epochs("progress", t["progress"])
    epochs("progress_media", t["progress_media"])
    epochs("end", t["hungup"])
    h = t["hungup"]
    def s(a: int) -> int: return h // 1_000_000 - a // 1_000_000
    def ms(a: int) -> int: return h // 1000 - a // 1000
    ans, pm, pr, br = t["answered"], t["progress_media"], t["progress"], t["bridged"]
    wait = br > c
    last_app, last_arg = ch.app_log[-1] if ch.app_log else ("", "")
    ch.set_var("last_app", last_app)
    ch.set_var("last_arg", last_arg)
    ch.set_var("caller_id", f'"{ch.caller_id_name}" <{ch.caller_id_number}>')
    vals = [
        ("duration", s(c)), ("billsec", s(ans) if ans else 0), ("progresssec", pr // 10**6 - c // 10**6 if pr else 0),
        ("answersec", ans // 10**6 - c // 10**6 if ans else 0), ("waitsec", br // 10**6 - c // 10**6 if wait else 0),
        ("progress_mediasec", pm // 10**6 - c // 10**6 if pm else 0), ("flow_billsec", s(c) if ans else 0),
        ("mduration", ms(c)), ("billmsec", ms(ans) if ans else 0),
        ("progressmsec", pr // 1000 - c // 1000 if pr else 0), ("answermsec", ans // 1000 - c // 1000 if ans else 0),
        ("waitmsec", br // 1000 - c // 1000 if wait else 0),
        ("progress_mediamsec", pm // 1000 - c // 1000 if pm else 0), ("flow_billmsec", ms(c) if ans else 0),
        ("uduration", h - c), ("billusec", h - ans if ans else 0), ("progressusec", pr - c if pr else 0),
        ("answerusec", ans - c if ans else 0), ("waitusec", br - c if wait else 0),
        ("progress_mediausec", pm - c if pm else 0), ("flow_billusec", h - c if ans else 0)]
    for k, v in vals:
        ch.set_var(k, str(v))
    if ch.codec:
        ch.apply(sp.RTP_STATS)

