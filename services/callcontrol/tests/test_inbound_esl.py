"""One inbound event-socket connection against the FreeSWITCH emulator and against raw
sockets that misbehave (silent, mute after auth, rude): real sockets, no mocks."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsemu import FreeSwitchEmulator
from fsemu.events import Event
from greenswitch.esl import ESLEvent
from hibiki.callcontrol.esl.errors import CommandTimeout, ConnectionLost, NodeUnavailable
from hibiki.callcontrol.esl.inbound import NodeConnection
from hibiki.callcontrol.esl.model import Backoff, NodeAddress, NodeEvent, NodeState
from hibiki.callcontrol.esl.wire import parse_plain
from support.recorder import Recorder
from support.servers import free_port

FAST = Backoff(initial=0.05, maximum=0.2)


def dialplan(*actions: str) -> str:
    steps = (a.partition(" ") for a in actions)
    body = "".join(f'<action application="{app}" data="{data}"/>' for app, _, data in steps)
    return ('<document type="freeswitch/xml"><section name="dialplan"><context name="default">'
            '<extension name="x"><condition field="destination_number" expression="^(7200)$">'
            f"{body}</condition></extension></context></section></document>")


PARKED = dialplan("set hibiki_tenant=zama", "answer", "park")


def is_parked(channel: Any) -> bool:
    return bool(channel.variables.get("current_application") == "park")


@asynccontextmanager
async def connected(port: int, password: str = "ClueCon", **options: Any) -> AsyncIterator[NodeConnection]:
    options.setdefault("backoff", FAST)
    options.setdefault("idle_timeout", None)  # the emulator fires no HEARTBEAT
    connection = NodeConnection(NodeAddress("fs1", "127.0.0.1", port), password, **options)
    await connection.start()
    try:
        yield connection
    finally:
        await connection.stop()


class RawNode:
    """A TCP server speaking as much of mod_event_socket as a test wants:
    ``silent`` says nothing; ``mute`` authenticates and subscribes, then never answers;
    ``rude`` sends mod_event_socket's ACL refusal and closes."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.commands: list[str] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.connections = 0
        self.accepted = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> RawNode:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        self.drop()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def drop(self) -> None:
        for writer in self.writers:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.accepted.set()
        self.writers.append(writer)
        try:
            if self.mode == "rude":
                text = b"Access Denied, go away.\n"
                writer.write(b"Content-Type: text/rude-rejection\nContent-Length: %d\n\n%s" % (len(text), text))
                writer.close()
                return
            if self.mode == "mute":
                writer.write(b"Content-Type: auth/request\n\n")
            while command := (await reader.readuntil(b"\n\n")).decode().strip():
                self.commands.append(command)
                if self.mode == "mute" and command.startswith("auth "):
                    writer.write(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
                elif self.mode == "mute" and command.startswith("event "):
                    writer.write(b"Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n")
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass


async def test_connects_authenticates_and_runs_api_and_bgapi() -> None:
    async with FreeSwitchEmulator() as emu, connected(emu.esl_port) as node:
        state = await node.wait_until(lambda s: s.connected)
        assert state.last_error is None and state.connects == 1 and state.reconnects == 0 and state.failures == 0
        assert "FreeSWITCH (Version 1.10.12" in await node.api("status")
        assert (await node.api("nosuchcmd x")) == "-ERR nosuchcmd Command not found!\n"  # the body, as written
        assert "is ready" in await node.bgapi("status")  # the BACKGROUND_JOB body
        assert (await node.bgapi("show calls count")).strip() == "0 total."


async def test_channel_and_dtmf_events_reach_the_handlers_in_order() -> None:
    digits = dialplan("answer", "play_and_get_digits 1 1 1 5000 # ivr/menu.wav ivr/invalid.wav choice \\d",
                      "hangup NORMAL_CLEARING")
    async with FreeSwitchEmulator() as emu, connected(emu.esl_port) as node:
        everything, answers, digits_pressed = Recorder(), Recorder(), Recorder()
        node.on("*", everything)
        node.on("CHANNEL_ANSWER", answers)
        await node.wait_until(lambda s: s.connected)
        node.on("DTMF", digits_pressed)    # not subscribed by default: a handler subscribes, even once connected
        await asyncio.sleep(0.2)
        # A caller controls its caller-ID name: it must not be able to forge headers.
        call = await emu.place_call(destination="7200", dialplan_xml=digits, dtmf=["7"],
                                    caller_id_name="Mallory\nUnique-ID: forged")
        await everything.wait_for(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE")
        mine = [e for e in everything.events if e.call_uuid == call.uuid]
        assert [e.name for e in mine] == ["CHANNEL_ANSWER", "DTMF", "CHANNEL_HANGUP_COMPLETE"]
        assert all(e.node == "fs1" and e.get("FreeSWITCH-Hostname") == "fs" for e in mine)
        assert mine[1].get("DTMF-Digit") == "7"
        assert mine[0].get("Caller-Caller-ID-Name") == "Mallory\nUnique-ID: forged"
        assert mine[2].get("Hangup-Cause") == "NORMAL_CLEARING"
        assert [e.call_uuid for e in answers.events] == [call.uuid]
        assert [e.get("DTMF-Digit") for e in digits_pressed.events] == ["7"]
        assert node.state.hostname == "fs" and node.state.events >= 3


async def test_api_commands_on_a_live_call() -> None:
    async with FreeSwitchEmulator() as emu, connected(emu.esl_port) as node:
        hangups = Recorder()
        node.on("CHANNEL_HANGUP_COMPLETE", hangups)
        await node.wait_until(lambda s: s.connected)
        call = await emu.place_call(destination="7200", dialplan_xml=PARKED)
        await call.wait_for(is_parked)
        assert await node.api(f"uuid_getvar {call.uuid} hibiki_tenant") == "zama"
        assert await node.api(f"uuid_setvar {call.uuid} hibiki_queue support") == "+OK\n"
        assert call.variables["hibiki_queue"] == "support"
        assert await node.api(f"uuid_kill {call.uuid} CALL_REJECTED") == "+OK\n"
        event = await hangups.wait_for(lambda e: e.call_uuid == call.uuid)
        assert event.get("Hangup-Cause") == "CALL_REJECTED"
        assert await node.api(f"uuid_kill {call.uuid}") == "-ERR No such channel!\n"


async def test_a_handler_that_fails_does_not_stop_the_others() -> None:
    async def broken(event: NodeEvent) -> None:
        raise RuntimeError("bug in a handler")

    async with FreeSwitchEmulator() as emu, connected(emu.esl_port) as node:
        seen = Recorder()
        node.on("CHANNEL_ANSWER", broken)
        node.on("*", seen)
        await node.wait_until(lambda s: s.connected)
        await emu.place_call(destination="7200", dialplan_xml=dialplan("answer", "hangup"))
        await seen.wait_for(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE")


async def test_a_wrong_password_is_retried_with_backoff_and_shown_as_the_error() -> None:
    backoff = Backoff(initial=0.1, maximum=0.4, jitter=0.0)
    async with FreeSwitchEmulator(password="s3cret") as emu, connected(emu.esl_port, backoff=backoff) as node:
        first = await node.wait_until(lambda s: s.failures >= 1)
        started = time.monotonic()
        assert first.last_error == "auth refused: '-ERR invalid'" and not first.connected
        with pytest.raises(NodeUnavailable, match="not connected .auth refused"):
            await node.api("status")
        await node.wait_until(lambda s: s.failures >= 4)
        waited = time.monotonic() - started
        assert 0.1 + 0.2 + 0.4 - 0.05 <= waited < 0.7 + 1.5   # 0.1, 0.2, then 0.4 (the cap)
        assert node.state.connects == 0


async def test_a_node_that_goes_away_and_comes_back_is_picked_up_again() -> None:
    async with FreeSwitchEmulator() as emu, connected(emu.esl_port) as node:
        answers = Recorder()
        node.on("CHANNEL_ANSWER", answers)
        await node.wait_until(lambda s: s.connected)
        await emu.inbound.stop()                        # FreeSWITCH's event socket goes away
        lost = await node.wait_until(lambda s: not s.connected)
        assert lost.drops == 1 and lost.last_error == "connection closed by the node"
        with pytest.raises(NodeUnavailable):
            await node.api("status")
        await node.wait_until(lambda s: s.failures >= 2)  # refused while it is away
        await emu.inbound.start()                       # ... and comes back on the same port
        back = await node.wait_until(lambda s: s.connected)
        assert back.connects == 2 and back.reconnects == 1 and "ConnectionRefusedError" in (back.last_error or "")
        call = await emu.place_call(destination="7200", dialplan_xml=PARKED)
        await answers.wait_for(lambda e: e.call_uuid == call.uuid)   # events flow again
        assert await node.api(f"uuid_getvar {call.uuid} hibiki_tenant") == "zama"


async def test_a_node_that_is_down_at_start_is_connected_when_it_comes_up() -> None:
    port = free_port()
    async with connected(port) as node:
        down = await node.wait_until(lambda s: s.failures >= 2)
        assert "ConnectionRefusedError" in (down.last_error or "")
        async with FreeSwitchEmulator(port=port):
            await node.wait_until(lambda s: s.connected)
            assert "is ready" in await node.api("status")


async def test_a_silent_peer_fails_the_handshake_in_time() -> None:
    async with RawNode("silent") as peer, connected(peer.port, connect_timeout=0.2) as node:
        state = await node.wait_until(lambda s: s.failures >= 2)
        assert state.last_error == "no auth/request within 0.2 s" and peer.connections >= 2


async def test_an_acl_refusal_is_shown_as_the_error() -> None:
    async with RawNode("rude") as peer, connected(peer.port) as node:
        state = await node.wait_until(lambda s: s.failures >= 1)
        assert "Access Denied, go away." in (state.last_error or "")


async def test_api_times_out_when_the_node_does_not_answer() -> None:
    async with RawNode("mute") as peer, connected(peer.port) as node:
        await node.wait_until(lambda s: s.connected)
        # only what callcontrol reads itself (no handler here): no bridge, DTMF, recording or REGISTER events
        assert peer.commands == ["auth ClueCon", "event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE "
                                 "BACKGROUND_JOB HEARTBEAT"]
        started = time.monotonic()
        with pytest.raises(CommandTimeout, match="fs1: api: no reply within 0.3 s"):
            await node.api("status", timeout=0.3)
        with pytest.raises(CommandTimeout):
            await node.bgapi("originate user/1000 &park", timeout=0.3)
        assert time.monotonic() - started < 2.0
        assert node.state.connected and node.state.command_timeouts == 2


async def test_a_command_waiting_for_its_reply_fails_at_once_when_the_connection_drops() -> None:
    async with RawNode("mute") as peer, connected(peer.port) as node:
        await node.wait_until(lambda s: s.connected)
        waiting = asyncio.create_task(node.api("status", timeout=30))
        while len(peer.commands) < 3:       # the command reached the node
            await asyncio.sleep(0.01)
        started = time.monotonic()
        peer.drop()
        with pytest.raises(ConnectionLost):
            await waiting
        assert time.monotonic() - started < 2.0
        await node.wait_until(lambda s: s.connects >= 2)   # and it reconnects by itself


async def test_a_connection_that_goes_quiet_is_dropped_and_made_again() -> None:
    async with RawNode("mute") as peer, connected(peer.port, idle_timeout=0.3) as node:
        state = await node.wait_until(lambda s: s.connects >= 2 and s.drops >= 1)
        assert state.last_error == "nothing received for 0.3 s (FreeSWITCH fires HEARTBEAT every 20 s)"
        assert peer.connections >= 2


@pytest.mark.parametrize("situation", ["connected to a mute node", "waiting to retry", "in the handshake"])
async def test_stop_returns_promptly(situation: str) -> None:
    async with RawNode("silent" if situation == "in the handshake" else "mute") as peer:
        options: dict[str, Any] = {"connect_timeout": 30.0}
        port = peer.port
        wait: Callable[[NodeState], bool] = lambda s: s.connected
        if situation == "waiting to retry":
            port, options["backoff"] = free_port(), Backoff(initial=30.0, maximum=30.0)
            wait = lambda s: s.failures >= 1
        node = NodeConnection(NodeAddress("fs1", "127.0.0.1", port), "ClueCon", **options)
        await node.start()
        if situation == "in the handshake":
            await asyncio.wait_for(peer.accepted.wait(), 5)   # connected, waiting for auth/request
        else:
            await node.wait_until(wait)
        started = time.monotonic()
        await node.stop()
        assert time.monotonic() - started < 1.5
        assert not node.state.connected
        assert "esl-inbound-fs1" not in [t.name for t in threading.enumerate()]   # its gevent thread ended
        with pytest.raises(NodeUnavailable):
            await node.api("status")


async def test_a_command_must_be_one_line() -> None:
    async with FreeSwitchEmulator() as emu, connected(emu.esl_port) as node:
        await node.wait_until(lambda s: s.connected)
        for smuggled in ("status\n\nauth x", "uuid_kill x\r\nexit", " "):
            with pytest.raises(ValueError):
                await node.api(smuggled)


# ---- event parsing ------------------------------------------------------------------------
def test_greenswitch_would_let_a_caller_forge_a_header_the_parser_does_not() -> None:
    event = Event("CHANNEL_ANSWER", [("Event-Name", "CHANNEL_ANSWER"), ("Unique-ID", "real"),
                                     ("Caller-Caller-ID-Name", "x\nUnique-ID: forged")])
    wire = event.serialize_plain().decode()
    assert ESLEvent(wire).headers["Unique-ID"] == "forged"  # decode first, split after
    headers, body = parse_plain(wire)
    assert headers["Unique-ID"] == "real" and headers["Caller-Caller-ID-Name"] == "x\nUnique-ID: forged"
    assert body == ""


@given(values=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=8),
       body=st.text(max_size=80))
def test_plain_events_round_trip(values: list[str], body: str) -> None:
    headers = [("Event-Name", "BACKGROUND_JOB"), *((f"H-{i}", v) for i, v in enumerate(values))]
    event = Event("BACKGROUND_JOB", headers, body or None)
    parsed, parsed_body = parse_plain(event.serialize_plain().decode("utf-8"))
    for name, value in headers:
        expected = value.split("\x00", 1)[0] or "_undef_"  # switch_url_encode stops at NUL
        assert parsed[name] == expected
    assert parsed_body == body
