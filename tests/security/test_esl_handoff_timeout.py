"""Issue 10, item 8: a caller sat in silence (24 s, no fallback) when callcontrol accepted the
connection but never acted; FreeSWITCH's ``socket`` has no timeout of its own. The directory's
dialplan now schedules a transfer to ``hibiki_handoff_missed`` before ``socket``
(``sched_transfer +5``) which callcontrol cancels (``sched_del``) once it has taken the call.

With the directory's real dialplan on the emulator (which schedules, cancels and ends ``socket``'s
wait for ``connect`` on a transfer, as FreeSWITCH 1.10.12 does): a controller that accepts and
never speaks, and one that answers ``connect`` and then does nothing, both leave the caller on
the number's fallback route within 6 s; a real callcontrol that takes the call keeps it in the
IVR past the timer. The real-switch version is tests/freeswitch/test_esl_handoff.py."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

from fsemu import FreeSwitchEmulator
from hibiki.callcontrol.app import main as callcontrol_main
from hibiki.callcontrol.config import CallControlConfig
from hibiki.common.auth import TokenAuthority
from hibiki.directory.dialplan import HANDOFF_MISSED, HANDOFF_SECONDS
from security.esl_peer import read_command
from support.directory import directory_config, running_directory
from support.fsnode import emulator_node, vouching
from support.servers import free_port, running

DOMAIN = "ina.example.jp"


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()                         # never a word, until FreeSWITCH closes


async def connects_then_idles(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"connect\n\n")
    await reader.read()


async def test_a_controller_that_never_acts_leaves_nobody_in_silence(tmp_path: Path, nats_server: Any,
                                                                     nats_client: Any, authority: TokenAuthority) -> None:
    results: dict[str, tuple[float, Any]] = {}
    for name, behaviour in (("accepts, never speaks", silent), ("connects, then nothing", connects_then_idles)):
        controller = await asyncio.start_server(behaviour, "127.4.0.7", 0)
        address = f"127.4.0.7:{controller.sockets[0].getsockname()[1]}"
        config = directory_config(tmp_path / name.replace(" ", "_"), nats_server, callcontrol_address=address)
        async with running_directory(config, nats_client, authority, "ina") as d:
            await d.post("/api/v1/tenants", {"id": "ina", "domain": DOMAIN})
            desk = await d.post("/api/v1/tenants/ina/users", {"username": "madoguchi", "extension": "2001",
                                                              "voicemail_enabled": True})
            await d.post("/api/v1/tenants/ina/ivrs", {"id": "main", "name": "代表", "root_menu": "top", "menus": [
                {"id": "top", "greeting": {"sound": "ivr/top.wav"}, "choices": {"1": {"extension": "2001"}}}]})
            await d.post("/api/v1/tenants/ina/dids", {"number": "0265-78-1111", "target_kind": "ivr", "target": "main",
                                                      "closed_kind": "voicemail", "closed_target": desk["id"]})
            async with FreeSwitchEmulator() as emu:
                placed = time.monotonic()
                call = await emu.place_call(destination="0265781111", caller_id_number="09011112222",
                                            context="public", dialplan_url=d.fsapi)
                await asyncio.wait_for(call.finished, HANDOFF_SECONDS + 5)
                results[name] = (time.monotonic() - placed, call)
        controller.close()
    for name, (seconds, call) in results.items():
        print(f"controller that {name}: caller on the fallback after {seconds:.1f} s "
              f"(timer {HANDOFF_SECONDS} s): {call.executed[-1]}")
        assert call.channel.destination == HANDOFF_MISSED, call.executed
        assert call.executed[-1] == ("voicemail", f"default {DOMAIN} 2001")
        assert seconds < HANDOFF_SECONDS + 1.5


async def test_callcontrol_cancels_the_timer_when_it_takes_the_call(tmp_path: Path, nats_server: Any,
                                                                    nats_client: Any, authority: TokenAuthority) -> None:
    env = {"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}
    fs_port = free_port()
    control = dataclasses.replace(CallControlConfig.from_env(env), port=free_port(), esl_port=free_port(),
                                  freeswitch=emulator_node(fs_port))
    config = directory_config(tmp_path, nats_server, callcontrol_address=f"127.0.0.1:{control.esl_port}")
    control = dataclasses.replace(control, directory_grpc=f"127.0.0.1:{config.grpc_port}")
    async with running_directory(config, nats_client, authority, "ina") as d, \
            FreeSwitchEmulator(port=fs_port, playback_delay=HANDOFF_SECONDS + 3) as emu, \
            running(callcontrol_main, control):       # the greeting outlasts the timer
        await vouching(control.port)
        await d.post("/api/v1/tenants", {"id": "ina", "domain": DOMAIN})
        await d.post("/api/v1/tenants/ina/users", {"username": "madoguchi", "extension": "2001"})
        await d.post("/api/v1/tenants/ina/ivrs", {"id": "main", "name": "代表", "root_menu": "top", "menus": [
            {"id": "top", "greeting": {"sound": "ivr/top.wav"},
             "choices": {"1": {"extension": "2001"}}}]})
        await d.post("/api/v1/tenants/ina/dids", {"number": "0265-78-2222", "target_kind": "ivr", "target": "main"})
        call = await emu.place_call(destination="0265782222", caller_id_number="09011112222", context="public",
                                    dialplan_url=d.fsapi)
        await asyncio.sleep(HANDOFF_SECONDS + 1.5)
        still_there = not call.finished.done() and call.channel.destination == "0265782222"
        handoff = call.channel.variables.get("hibiki_handoff")
        call.hangup_by_caller()
        await asyncio.wait_for(call.finished, 10)
    print(f"taken by callcontrol: still in the IVR after {HANDOFF_SECONDS + 1.5} s: {still_there}; "
          f"hibiki_handoff left on the channel: {handoff!r}")
    assert still_there and handoff is None, (call.channel.destination, call.executed[6:])
    assert ("play_and_get_digits" in [app for app, _ in call.executed])
