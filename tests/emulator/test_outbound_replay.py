"""Replays esl/esl_outbound_session.log against the emulator (byte for byte where deterministic)."""
from __future__ import annotations

import asyncio

from fsemu import FreeSwitchEmulator
from fsemu.channel import ChannelSeed
from fsemu.esl_wire import EslMessage, parse_message, parse_stream
from fsemu.events import ScriptedClock, Sequencer
from fsemu.fixtures import connect_reply_bytes, session_log_commands, session_log_messages

from emulator.helpers import Controller, recv, send

STAMPS = [1795419363972805, 1795419363972805, 1795419363992814, 1795419364012878, 1795419364012878,
          1795419364012878, 1795419364012878, 1795419365395662, 1795419368012838, 1795419368032837,
          1795419368032837, 1795419368032837, 1795419368032837, 1795419368032837]
APP_UUIDS = ["e8a78afe-9084-4889-9fd2-85d18b3bb5da", "93f130de-2ef0-4842-9376-006e9eb7c268",
             "6a08b752-bc1f-41d8-bbfe-7bde787704fe"]


def dialplan(port: int) -> str:
    return f"""<document type="freeswitch/xml"><section name="dialplan"><context name="default">
<extension name="to_controller"><condition field="destination_number" expression="^7100$">
<action application="socket" data="127.0.0.1:{port} async full"/>
</condition></extension></context></section></document>"""


def normalise(data: bytes, port: int) -> bytes:
    """The controller cannot always listen on 8084: map its port back to the captured one."""
    if port == 8084:
        return data
    out = b""
    for msg in parse_stream(data):
        body = msg.body.replace(f"127.0.0.1%3A{port}".encode(), b"127.0.0.1%3A8084")
        headers = [(k, str(len(body)) if k == "Content-Length" and msg.body else v.replace(
            f"127.0.0.1%3A{port}", "127.0.0.1%3A8084")) for k, v in msg.headers]
        out += EslMessage(headers, body).serialize()
    return out


async def _controller(port_pref: int = 8084) -> Controller:
    try:
        return await Controller().start(port_pref)
    except OSError:
        return await Controller().start(0)


async def _start_replay() -> tuple[FreeSwitchEmulator, Controller, object, asyncio.StreamReader, asyncio.StreamWriter]:
    ids = iter(APP_UUIDS)
    emu = FreeSwitchEmulator(uuid_factory=lambda: next(ids, "00000000-0000-0000-0000-000000000000"))
    await emu.start()
    ctl = await _controller()
    call = await emu.place_call(seed=ChannelSeed.capture(), dialplan_xml=dialplan(ctl.port))
    r, w = await ctl.accept()
    # from here on the switch clock / sequence are those of the capture
    emu.switch.clock = ScriptedClock(STAMPS)
    emu.switch.seq = Sequencer(993)
    return emu, ctl, call, r, w


async def test_connect_reply_is_byte_identical() -> None:
    emu, ctl, call, r, w = await _start_replay()
    try:
        await send(w, "connect")
        raw = await asyncio.wait_for(r.readuntil(b"\n\n"), 5)
        expected = connect_reply_bytes()
        if ctl.port != 8084:
            raw = raw.replace(f"127.0.0.1%3A{ctl.port}".encode(), b"127.0.0.1%3A8084")
        assert raw == expected
        msg, rest = parse_message(raw)
        assert rest == b"" and msg.headers[-4:] == [("Content-Type", "command/reply"), ("Reply-Text", "%2BOK%0A"),
                                                    ("Socket-Mode", "async"), ("Control", "full")]
    finally:
        w.close()
        await call.finished
        await ctl.close()
        await emu.stop()


async def test_session_log_replay() -> None:
    emu, ctl, call, r, w = await _start_replay()
    captured = session_log_messages()
    cap_replies = [m.raw for m in captured if m.lines[0].startswith("Content-Type: command/reply")]
    cap_events = [m.raw for m in captured if m.lines[0].startswith("Content-Length")]
    cap_notice = [m.raw for m in captured if m.lines[0] == "Content-Type: text/disconnect-notice"]
    try:
        cmds = session_log_commands()
        assert [c[0] for c in cmds] == ["connect", "myevents", "linger", "sendmsg", "sendmsg"]
        await send(w, *cmds[0])
        await asyncio.wait_for(r.readuntil(b"\n\n"), 5)  # the connect reply (tested above)
        got: list[EslMessage] = []
        for c in cmds[1:3]:
            await send(w, *c)
            got.append(await recv(r))
        w.write(("\n".join(cmds[3]) + "\n\n" + "\n".join(cmds[4]) + "\n\n").encode())
        await w.drain()
        # both sendmsg replies, then the events up to the playback's EXECUTE_COMPLETE
        while sum(1 for m in got if m.get("Content-Type") == "text/event-plain") < 6:
            got.append(await recv(r))
        call.hangup_by_caller()  # "then the caller hangs up"
        while got[-1].get("Content-Type") != "text/disconnect-notice":
            got.append(await recv(r))
        replies = [m.serialize() for m in got if m.get("Content-Type") == "command/reply"]
        events = [normalise(m.serialize(), ctl.port) for m in got if m.get("Content-Type") == "text/event-plain"]
        assert replies == cap_replies
        assert len(events) == len(cap_events)
        for mine, theirs in zip(events, cap_events):
            assert mine.decode().split("\n") == theirs.decode().split("\n")
        assert got[-1].serialize() == cap_notice[0]
        # what the channel recorded
        assert call.executed == [("socket", f"127.0.0.1:{ctl.port} async full"), ("answer", ""),
                                 ("playback", "tone_stream://%(1000,0,440)")]
        assert call.hangup_cause == "NORMAL_CLEARING"
    finally:
        w.close()
        await call.finished
        await ctl.close()
        await emu.stop()
