"""Dialplan execution and applications, end to end through sockets."""
from __future__ import annotations

import asyncio

from fsemu import FreeSwitchEmulator
from fsemu.fixtures import xml_curl_dir
from fsemu.urlencode import decode_form

from emulator.helpers import Controller, event_name, recv, recv_until, send


def doc(actions: str, expr: str = "^(7100)$", extra: str = "") -> str:
    return f"""<document type="freeswitch/xml"><section name="dialplan"><context name="default">
<extension name="main"><condition field="destination_number" expression="{expr}">{actions}</condition></extension>
{extra}</context></section></document>"""


async def _http_server(payload: bytes, status: int = 200):
    bodies: asyncio.Queue[bytes] = asyncio.Queue()

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        clen = int([ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")][0].split(b":")[1])
        await bodies.put(await r.readexactly(clen))
        w.write(f"HTTP/1.1 {status} OK\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload)
        await w.drain()
        w.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], bodies


async def test_served_dialplan_7200_over_xml_curl() -> None:
    served = (xml_curl_dir() / "served_dialplan_response_7200.xml").read_bytes()
    server, port, bodies = await _http_server(served)
    try:
        async with FreeSwitchEmulator() as emu:
            call = await emu.place_call(destination="7200", dialplan_url=f"http://127.0.0.1:{port}/fsapi")
            await asyncio.wait_for(call.finished, 5)
            body = dict(decode_form(await bodies.get()))
            assert body["section"] == "dialplan" and body["Caller-Destination-Number"] == "7200"
            assert body["Unique-ID"] == call.uuid
            assert call.executed == [("set", "served_by=xml_curl"), ("answer", ""),
                                     ("playback", "tone_stream://%(1500,0,440)"), ("hangup", "NORMAL_CLEARING")]
            assert call.variables["served_by"] == "xml_curl"
            assert call.hangup_cause == "NORMAL_CLEARING" and call.state == "CS_DESTROY"
            names = call.event_names()
            assert names.index("CHANNEL_ANSWER") < names.index("CHANNEL_HANGUP") < names.index("CHANNEL_HANGUP_COMPLETE")
    finally:
        server.close()


async def test_not_found_and_http_error_mean_no_route() -> None:
    not_found = b'<document type="freeswitch/xml"><section name="result"><result status="not found"/></section></document>'
    for payload, status in ((not_found, 200), (b"<document/>", 500)):
        server, port, _ = await _http_server(payload, status)
        try:
            async with FreeSwitchEmulator() as emu:
                call = await emu.place_call(destination="7200", dialplan_url=f"http://127.0.0.1:{port}/fsapi")
                await asyncio.wait_for(call.finished, 5)
                assert call.hangup_cause == "NO_ROUTE_DESTINATION" and call.executed == []
        finally:
            server.close()


async def test_unknown_application_hangs_up() -> None:
    async with FreeSwitchEmulator() as emu:
        call = await emu.place_call(dialplan_xml=doc('<action application="no_such_app"/><action application="answer"/>'))
        await asyncio.wait_for(call.finished, 5)
        assert call.hangup_cause == "DESTINATION_OUT_OF_ORDER" and call.executed == []


async def test_conditions_substitution_and_anti_actions() -> None:
    dp = doc('<action application="set" data="ext=$1"/>', expr="^(71)(00)$") + ""
    dp = dp.replace("</condition></extension>", """</condition></extension>
<extension name="never"><condition field="caller_id_number" expression="^9"><action application="set" data="x=1"/>
<anti-action application="set" data="anti=$0"/></condition></extension>""", 1)
    async with FreeSwitchEmulator() as emu:
        call = await emu.place_call(dialplan_xml=dp)
        await asyncio.wait_for(call.finished, 5)
        assert call.variables["ext"] == "71" and call.variables["DP_MATCH"] == "ARRAY::7100|:71|:00"
        assert "anti" not in call.variables  # first matching extension without continue stops the hunt


async def test_play_and_get_digits_success_and_dtmf_events() -> None:
    pagd = '<action application="play_and_get_digits" data="1 3 3 5000 # ivr/menu.wav ivr/invalid.wav choice \\d+"/>'
    async with FreeSwitchEmulator() as emu:
        call = await emu.place_call(dialplan_xml=doc('<action application="answer"/>' + pagd), dtmf=["4", "2", "#"])
        await asyncio.wait_for(call.finished, 5)
        assert call.variables["choice"] == "42" and call.variables["read_result"] == "success"
        dtmf = [e for e in call.events if e.name == "DTMF"]
        assert [e.get("DTMF-Digit") for e in dtmf] == ["4", "2", "#"]
        assert dtmf[0].headers[-3:] == [("DTMF-Digit", "4"), ("DTMF-Duration", "2000"), ("DTMF-Source", "RTP")]


async def test_play_and_get_digits_failure_transfers() -> None:
    pagd = ('<action application="play_and_get_digits" '
            'data="2 2 2 5000 # ivr/menu.wav ivr/invalid.wav choice ^[12]+$ 3000 operator XML default"/>')
    extra = """<extension name="op"><condition field="destination_number" expression="^operator$">
<action application="set" data="at_operator=yes"/></condition></extension>"""
    async with FreeSwitchEmulator() as emu:
        call = await emu.place_call(dialplan_xml=doc('<action application="answer"/>' + pagd, extra=extra),
                                    dtmf=["9", "9", "7"])
        await asyncio.wait_for(call.finished, 5)
        assert call.variables.get("choice_invalid") == "99"
        assert call.variables["at_operator"] == "yes" and call.channel.destination == "operator"


async def test_bridge_answer_fail_and_continue_on_fail() -> None:
    actions = ('<action application="set" data="continue_on_fail=true"/>'
               '<action application="bridge" data="user/1001@example.com"/>'
               '<action application="set" data="after=1"/>'
               '<action application="set" data="hangup_after_bridge=true"/>'
               '<action application="bridge" data="{ignore_early_media=true}user/1002@example.com|user/1003@example.com"/>'
               '<action application="set" data="not_reached=1"/>')
    async with FreeSwitchEmulator() as emu:
        call = await emu.place_call(dialplan_xml=doc(actions),
                                    answering_endpoints={"user/1001@example.com": "USER_BUSY",
                                                         "user/1003@example.com": 0})
        await asyncio.wait_for(call.finished, 5)
        assert call.variables["after"] == "1" and "not_reached" not in call.variables
        assert call.variables["DIALSTATUS"] == "SUCCESS"
        names = call.event_names()
        assert "CHANNEL_BRIDGE" in names and "CHANNEL_UNBRIDGE" in names
        assert call.hangup_cause == "NORMAL_CLEARING"


async def test_bridge_failure_hangs_up_with_cause() -> None:
    async with FreeSwitchEmulator() as emu:
        call = await emu.place_call(dialplan_xml=doc('<action application="bridge" data="user/1001"/>'),
                                    answering_endpoints={"user/1001": "USER_BUSY"})
        await asyncio.wait_for(call.finished, 5)
        assert call.hangup_cause == "USER_BUSY" and call.variables["originate_disposition"] == "USER_BUSY"


async def test_socket_closed_by_controller_falls_back_to_next_action() -> None:
    ctl = await Controller().start()
    actions = (f'<action application="socket" data="127.0.0.1:{ctl.port} async full"/>'
               '<action application="answer"/><action application="set" data="fallback=yes"/>')
    try:
        async with FreeSwitchEmulator() as emu:
            call = await emu.place_call(dialplan_xml=doc(actions))
            r, w = await ctl.accept()
            await send(w, "connect")
            await asyncio.wait_for(r.readuntil(b"\n\n"), 5)
            await send(w, "myevents")
            msgs = await recv_until(r, lambda m: event_name(m) == "CHANNEL_PARK")
            assert msgs[0].get("Reply-Text") == "+OK Events Enabled"
            w.close()  # the controller goes away
            await asyncio.wait_for(call.finished, 5)
            assert [a for a, _ in call.executed] == ["socket", "answer", "set"]
            assert call.variables["fallback"] == "yes"
            names = call.event_names()
            assert names.index("CHANNEL_UNPARK") < names.index("CHANNEL_ANSWER")
    finally:
        await ctl.close()


async def test_socket_unreachable_continues() -> None:
    actions = ('<action application="socket" data="127.0.0.1:1 async full"/>'
               '<action application="set" data="fallback=yes"/>')
    async with FreeSwitchEmulator() as emu:
        call = await emu.place_call(dialplan_xml=doc(actions))
        await asyncio.wait_for(call.finished, 5)
        assert call.variables["fallback"] == "yes"


async def test_outbound_without_linger_gets_disconnect_notice() -> None:
    ctl = await Controller().start()
    try:
        async with FreeSwitchEmulator() as emu:
            call = await emu.place_call(dialplan_xml=doc(
                f'<action application="socket" data="127.0.0.1:{ctl.port} async full"/>'))
            r, w = await ctl.accept()
            await send(w, "connect")
            await asyncio.wait_for(r.readuntil(b"\n\n"), 5)
            await send(w, "myevents")
            await recv(r)
            await send(w, "getvar socket_host")
            assert (await recv_until(r, lambda m: m.get("Content-Type") == "command/reply"))[-1].get(
                "Reply-Text") == "127.0.0.1"
            await send(w, "sendmsg", "call-command: hangup", "hangup-cause: USER_BUSY")
            msgs = await recv_until(r, lambda m: m.get("Content-Type") == "text/disconnect-notice")
            notice = msgs[-1]
            assert notice.get("Content-Disposition") == "disconnect"
            assert notice.get("Controlled-Session-UUID") == call.uuid
            assert notice.body == b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
            await asyncio.wait_for(call.finished, 5)
            assert call.hangup_cause == "USER_BUSY"
    finally:
        await ctl.close()


async def test_200_concurrent_ivr_calls() -> None:
    pagd = '<action application="play_and_get_digits" data="1 1 3 5000 # ivr/menu.wav ivr/invalid.wav choice \\d"/>'
    async with FreeSwitchEmulator(playback_delay=0.01) as emu:
        calls = [await emu.place_call(caller_id_number=str(2000 + i),
                                      dialplan_xml=doc('<action application="answer"/>' + pagd), dtmf=[str(i % 10)])
                 for i in range(200)]
        await asyncio.wait_for(asyncio.gather(*(c.finished for c in calls)), 30)
        assert all(c.variables.get("choice") == str(i % 10) for i, c in enumerate(calls))
        assert not emu.switch.channels
