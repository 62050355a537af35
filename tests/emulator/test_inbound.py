"""Inbound event socket server through real sockets."""
from __future__ import annotations

import asyncio
import json

from fsemu import FreeSwitchEmulator
from fsemu.esl_wire import parse_stream

from emulator.helpers import event_name, recv, recv_until, send

DP = """<document type="freeswitch/xml"><section name="dialplan"><context name="default">
<extension name="x"><condition field="destination_number" expression="^(7200)$">
<action application="set" data="served_by=xml_curl"/><action application="answer"/>
<action application="playback" data="tone_stream://%(1500,0,440)"/>
<action application="hangup" data="NORMAL_CLEARING"/></condition></extension></context></section></document>"""


async def _connect(emu: FreeSwitchEmulator):
    r, w = await asyncio.open_connection("127.0.0.1", emu.esl_port)
    m = await recv(r)
    assert m.headers == [("Content-Type", "auth/request")]
    return r, w


async def test_auth_api_and_events() -> None:
    async with FreeSwitchEmulator() as emu:
        r, w = await _connect(emu)
        await send(w, "api status")
        m = await recv(r)
        assert m.get("Reply-Text") == "-ERR command not found"  # not authenticated yet
        await send(w, "auth ClueCon")
        assert (await recv(r)).get("Reply-Text") == "+OK accepted"
        await send(w, "api status")
        m = await recv(r)
        assert m.content_type == "api/response" and int(m.get("Content-Length") or 0) == len(m.body)
        assert b"FreeSWITCH (Version 1.10.12" in m.body and b"is ready" in m.body
        await send(w, "api nosuchcmd foo")
        m = await recv(r)
        assert m.body == b"-ERR nosuchcmd Command not found!\n"
        await send(w, "event plain CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE")
        assert (await recv(r)).get("Reply-Text") == "+OK event listener enabled plain"
        call = await emu.place_call(destination="7200", dialplan_xml=DP)
        msgs = await recv_until(r, lambda m: event_name(m) == "CHANNEL_HANGUP_COMPLETE")
        assert [event_name(m) for m in msgs] == ["CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"]
        assert f"Unique-ID: {call.uuid}".encode() in msgs[0].body
        await call.finished
        await send(w, "bgapi show calls count")
        m = await recv(r)
        job = m.get("Job-UUID")
        assert m.get("Reply-Text") == f"+OK Job-UUID: {job}"
        await send(w, "event json BACKGROUND_JOB")
        assert (await recv(r)).get("Reply-Text") == "+OK event listener enabled json"
        await send(w, "bgapi status")
        m = await recv(r)
        job = m.get("Job-UUID")
        ev = await recv(r)
        assert ev.content_type == "text/event-json"
        obj = json.loads(ev.body)
        assert obj["Event-Name"] == "BACKGROUND_JOB" and obj["Job-UUID"] == job and "is ready" in obj["_body"]
        await send(w, "noevents")
        assert (await recv(r)).get("Reply-Text") == "+OK no longer listening for events"
        await send(w, "bogus")
        assert (await recv(r)).get("Reply-Text") == "-ERR command not found"
        await send(w, "exit")
        assert (await recv(r)).get("Reply-Text") == "+OK bye"
        notice = await recv(r)
        assert notice.content_type == "text/disconnect-notice"
        assert notice.body == b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
        assert await r.read() == b""


async def test_bad_password_disconnects() -> None:
    async with FreeSwitchEmulator(password="secret") as emu:
        r, w = await _connect(emu)
        await send(w, "auth ClueCon")
        assert (await recv(r)).get("Reply-Text") == "-ERR invalid"
        assert (await recv(r)).content_type == "text/disconnect-notice"
        assert await asyncio.wait_for(r.read(), 5) == b""


async def test_uuid_kill_and_sendmsg() -> None:
    dp = DP.replace('<action application="playback" data="tone_stream://%(1500,0,440)"/>',
                    '<action application="park"/>')
    async with FreeSwitchEmulator() as emu:
        r, w = await _connect(emu)
        await send(w, "auth ClueCon")
        await recv(r)
        call = await emu.place_call(destination="7200", dialplan_xml=dp)
        await call.wait_for(lambda c: c.variables.get("current_application") == "park")
        await send(w, f"sendmsg {call.uuid}", "call-command: execute", "execute-app-name: set",
                   "execute-app-arg: foo=bar")
        assert (await recv(r)).get("Reply-Text") == "+OK"
        await call.wait_for(lambda c: c.variables.get("foo") == "bar")
        await send(w, "sendmsg 00000000-dead", "call-command: hangup")
        assert (await recv(r)).get("Reply-Text") == "-ERR invalid session id [00000000-dead]"
        await send(w, f"api uuid_kill {call.uuid}")
        assert (await recv(r)).body == b"+OK\n"
        await call.finished
        assert call.hangup_cause == "NORMAL_CLEARING" and call.state == "CS_DESTROY"
        await send(w, f"api uuid_kill {call.uuid}")
        assert (await recv(r)).body == b"-ERR No such channel!\n"
        w.close()


async def test_uuid_break_stops_the_playback_running() -> None:
    """mod_commands break_function sets CF_BREAK; switch_ivr_play_file clears it and stops."""
    dp = DP.replace('<action application="playback" data="tone_stream://%(1500,0,440)"/>',
                    '<action application="playback" data="local_stream://moh"/>'
                    '<action application="set" data="between=1"/>'
                    '<action application="playback" data="local_stream://moh"/>')
    async with FreeSwitchEmulator(playback_delay=30.0) as emu:
        r, w = await _connect(emu)
        await send(w, "auth ClueCon")
        await recv(r)
        await send(w, "api uuid_break 00000000-dead")
        assert (await recv(r)).body == b"-ERR No such channel!\n"
        call = await emu.place_call(destination="7200", dialplan_xml=dp)
        await call.wait_for(lambda c: c.variables.get("current_application") == "playback")
        await send(w, f"api uuid_break {call.uuid}")
        assert (await recv(r)).body == b"+OK\n"
        await call.wait_for(lambda c: c.variables.get("between") == "1")
        assert call.variables.get("current_application_response") in (None, "FILE PLAYED")
        await send(w, f"api uuid_break {call.uuid}")
        assert (await recv(r)).body == b"+OK\n"
        await asyncio.wait_for(call.finished, 5)        # the second playback stopped too
        assert [app for app, _ in call.executed].count("playback") == 2
        w.close()


async def test_a_uuid_break_with_nothing_playing_is_lost() -> None:
    """switch_core_session_exec clears CF_BREAK before every application (checked on 1.10.12: a
    break sent while the channel is idle, or before a playback began, does not stop it)."""
    dp = DP.replace('<action application="playback" data="tone_stream://%(1500,0,440)"/>',
                    '<action application="sleep" data="300"/>'
                    '<action application="playback" data="local_stream://moh"/>')
    async with FreeSwitchEmulator(playback_delay=0.6) as emu:
        r, w = await _connect(emu)
        await send(w, "auth ClueCon")
        await recv(r)
        call = await emu.place_call(destination="7200", dialplan_xml=dp)
        await call.wait_for(lambda c: c.variables.get("current_application") == "sleep")
        await send(w, f"api uuid_break {call.uuid}")      # nothing plays yet
        assert (await recv(r)).body == b"+OK\n"
        started = asyncio.get_running_loop().time()
        await call.wait_for(lambda c: c.variables.get("current_application") == "playback")
        await asyncio.wait_for(call.finished, 5)
        assert asyncio.get_running_loop().time() - started >= 0.5   # the playback played whole
        w.close()
