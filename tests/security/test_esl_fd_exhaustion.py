"""Issue 10, items 6 and 7: bad connections to callcontrol's outbound event socket.

Before: 300 connect-and-close connections took callcontrol from 29 to 329 file descriptors,
300 idle ones to 629, never released; at the limit ``/healthz`` hung and a caller sat in
silence. One ``text/event-plain`` with ``Content-Length: 1000``, a short body and a close
made greenswitch's reader spin (a full core) and stopped call handling for good.

Here callcontrol runs as its own process (so its descriptors and CPU can be counted) with the
emulator as its node, at most 100 sessions and a 1 s handshake. 1,000 bad connections:
400 connect-and-close, 300 idle (held past the handshake timeout, 3x the session bound at
once) and 300 garbage (the short body above, an over-long line, no Content-Type, a bad
Content-Length, a reply nobody asked for). Then: descriptors back where they were, no CPU
spent while idle, ``/healthz`` 200 and a real call taken. While the idle flood holds the
bound, a real call is refused at once and its caller gets the dialplan's fallback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from fsemu import FreeSwitchEmulator
from support.servers import free_port

HOST = "127.4.0.6"
MAX_SESSIONS = 100

GARBAGE = [
    b"Content-Type: text/event-plain\nContent-Length: 1000\n\nshort body",     # item 7: then close
    b"X" * 40_000,                                                             # one line, no end
    b"Reply-Text: +OK\n\n",                                                    # no Content-Type
    b"Content-Type: api/response\nContent-Length: lots\n\n",
    b"Content-Type: command/reply\nReply-Text: +OK\n\nContent-Type: command/reply\nReply-Text: +OK\n\n",
    b"\xff\xfe\x00garbage\x00\n\n",
]


def dialplan(tenant: str, esl: str) -> str:
    return f"""<document type="freeswitch/xml"><section name="dialplan"><context name="default">
<extension name="agent"><condition field="destination_number" expression="^(\\*51)$">
  <action application="set" data="hibiki_tenant={tenant}"/>
  <action application="set" data="hibiki_app=agent:bogus"/>
  <action application="socket" data="{esl} async full"/>
  <action application="hangup" data="NORMAL_TEMPORARY_FAILURE"/>
</condition></extension></context></section></document>"""


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def connect_and_close(port: int) -> None:
    _, writer = await asyncio.open_connection(HOST, port)
    writer.close()


async def idle(port: int, seconds: float) -> bool:
    """Hold a connection without a word; True when callcontrol closed it first."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        return await asyncio.wait_for(reader.read(), seconds) is not None
    except (TimeoutError, ConnectionError):
        return False
    finally:
        writer.close()


async def garbage(port: int, payload: bytes, keep_open: bool) -> bool:
    """Send ``payload``; with ``keep_open`` wait for callcontrol to close (True when it did)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(payload)
        await writer.drain()
        if not keep_open:
            return True
        async with asyncio.timeout(5):
            while await reader.read(4096):
                pass
        return True
    except (TimeoutError, ConnectionError):
        return False
    finally:
        writer.close()


async def test_a_thousand_bad_connections_leak_nothing_and_calls_still_work(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: Any) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    started = await nats_client.subscribe(f"hibiki.{tenant}.call.started")
    await nats_client.flush()
    async with FreeSwitchEmulator(host=HOST) as emu:
        http_port, esl_port = free_port(), free_port()
        env = {**os.environ, "HIBIKI_NATS_URL": nats_server.url, "HIBIKI_DATA_DIR": str(tmp_path),
               "HIBIKI_LOG_LEVEL": "warning", "HIBIKI_CALLCONTROL_HOST": HOST,
               "HIBIKI_CALLCONTROL_PORT": str(http_port), "HIBIKI_CALLCONTROL_ESL_PORT": str(esl_port),
               "HIBIKI_CALLCONTROL_FREESWITCH_NODES": f"fs={HOST}:{emu.esl_port}",
               "HIBIKI_CALLCONTROL_ESL_MAX_SESSIONS": str(MAX_SESSIONS),
               "HIBIKI_CALLCONTROL_ESL_HANDSHAKE_TIMEOUT": "1",
               "HIBIKI_CALLCONTROL_DIRECTORY_GRPC": f"127.4.0.9:{free_port()}",
               "HIBIKI_CALLCONTROL_ACD_GRPC": f"127.4.0.9:{free_port()}"}
        log = (tmp_path / "callcontrol.log").open("wb")
        process = subprocess.Popen([sys.executable, "-m", "hibiki.stack.cli", "serve", "callcontrol"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            async with httpx.AsyncClient(base_url=f"http://{HOST}:{http_port}", timeout=5) as http:
                for _ in range(600):
                    try:
                        if (await http.get("/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert process.poll() is None, (tmp_path / "callcontrol.log").read_text()[-2000:]
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)
                before = fds(process.pid)

                for _ in range(4):                                  # 400 connect-and-close
                    await asyncio.gather(*(connect_and_close(esl_port) for _ in range(100)))
                await asyncio.sleep(1.5)
                phases = {"connect-and-close": fds(process.pid)}
                holders = [asyncio.ensure_future(idle(esl_port, 4.0)) for _ in range(300)]   # 300 idle at once
                await asyncio.sleep(0.3)
                during = fds(process.pid)
                health_during = (await http.get("/healthz")).status_code
                refused_call = await emu.place_call(destination="*51", dialplan_xml=dialplan(tenant, f"{HOST}:{esl_port}"))
                await asyncio.wait_for(refused_call.finished, 10)
                closed_by_callcontrol = sum(await asyncio.gather(*holders))
                await asyncio.sleep(1.5)
                phases["idle"] = fds(process.pid)
                closed_garbage = 0
                for round_ in range(3):                             # 300 garbage
                    results = await asyncio.gather(*(garbage(esl_port, GARBAGE[i % len(GARBAGE)], keep_open=round_ > 0)
                                                     for i in range(100)))
                    closed_garbage += sum(results) if round_ > 0 else 0
                    await asyncio.sleep(1.5)
                    phases[f"garbage round {round_ + 1}"] = fds(process.pid)
                await asyncio.sleep(1.5)                           # handshakes still open time out
                after = fds(process.pid)
                cpu_before = cpu_seconds(process.pid)
                await asyncio.sleep(2.0)
                idle_cpu = cpu_seconds(process.pid) - cpu_before
                health = await http.get("/healthz")
                call = await emu.place_call(destination="*51", dialplan_xml=dialplan(tenant, f"{HOST}:{esl_port}"))
                await asyncio.wait_for(call.finished, 10)
                taken = await started.next_msg(timeout=5)
                metrics_ok = process.poll() is None
        finally:
            process.terminate()
            process.wait(10)
            log.close()
    print(f"callcontrol fds: {before} before, {during} during 300 idle connections (bound {MAX_SESSIONS}), "
          f"{after} after 1,000 bad connections")
    print("fds after each phase:", phases)
    print(f"idle connections closed by callcontrol: {closed_by_callcontrol}/300; garbage connections left open "
          f"by the peer and closed by callcontrol: {closed_garbage}/200; CPU while idle afterwards: {idle_cpu:.2f} s/2 s")
    print(f"/healthz during the flood {health_during}, after {health.status_code}; refused call executed "
          f"{[app for app, _ in refused_call.executed]}")
    assert metrics_ok
    assert after <= before + 3, (before, after)
    assert during <= before + MAX_SESSIONS + 10
    assert closed_by_callcontrol == 300 and closed_garbage == 200
    assert idle_cpu < 0.5
    assert health_during == 200 and health.status_code == 200 and health.json()["checks"]["event_socket"] is True
    assert refused_call.executed[-1] == ("hangup", "NORMAL_TEMPORARY_FAILURE")     # the fallback, at once
    assert taken.subject == f"hibiki.{tenant}.call.started"
    assert call.executed[-1] == ("hangup", "NORMAL_TEMPORARY_FAILURE")
