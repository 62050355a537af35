"""Interop with the real greenswitch client (run in a subprocess: it is gevent based)."""
from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path

from fsemu import FreeSwitchEmulator

PEER = str(Path(__file__).with_name("greenswitch_peer.py"))


async def _line(proc: asyncio.subprocess.Process, timeout: float = 20) -> dict:
    assert proc.stdout is not None
    raw = await asyncio.wait_for(proc.stdout.readline(), timeout)
    assert raw, "greenswitch peer exited"
    return json.loads(raw)


async def test_greenswitch_inbound() -> None:
    async with FreeSwitchEmulator() as emu:
        proc = await asyncio.create_subprocess_exec(sys.executable, PEER, "inbound", str(emu.esl_port), "ClueCon",
                                                    stdout=asyncio.subprocess.PIPE)
        try:
            first = await _line(proc)
            assert "is ready" in first["status"]
            assert first["events_reply"] == "+OK event listener enabled plain"
            dp = """<document type="freeswitch/xml"><section name="dialplan"><context name="default">
<extension name="a"><condition field="destination_number" expression="^1$"><action application="answer"/>
</condition></extension></context></section></document>"""
            call = await emu.place_call(destination="1", dialplan_xml=dp)
            second = await _line(proc)
            assert second["answered"] == [call.uuid]
            await call.finished
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_greenswitch_outbound_application() -> None:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(sys.executable, PEER, "outbound", str(port),
                                                stdout=asyncio.subprocess.PIPE)
    try:
        assert (await _line(proc))["listening"] == port
        dp = f"""<document type="freeswitch/xml"><section name="dialplan"><context name="default">
<extension name="ivr"><condition field="destination_number" expression="^7100$">
<action application="socket" data="127.0.0.1:{port} async full"/>
<action application="set" data="after_socket=reached"/>
</condition></extension></context></section></document>"""
        async with FreeSwitchEmulator() as emu:
            for _ in range(100):  # the peer binds right after printing
                try:
                    r, w = await asyncio.open_connection("127.0.0.1", port)
                    w.close()
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            call = await emu.place_call(destination="7100", caller_id_number="1234", dialplan_xml=dp)
            result = await _line(proc)
            await asyncio.wait_for(call.finished, 10)
            assert result == {"uuid": call.uuid, "caller": "1234", "playback_response": "FILE PLAYED"}
            assert [a for a, _ in call.executed] == ["socket", "answer", "playback", "hangup"]
            assert call.hangup_cause == "NORMAL_CLEARING"
            assert "after_socket" not in call.variables  # the channel was down when socket returned
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
