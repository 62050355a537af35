"""Draining (issue 16, updates without downtime): a callcontrol told to stop takes no new
event-socket session, the replica listening on the same address (SO_REUSEPORT) gets them all,
and the sessions in progress run on until they end (or the drain time is up)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import uuid

from hibiki.callcontrol.esl.outbound import OutboundServer
from hibiki.callcontrol.esl.trust import Verdict
from hibiki.common.net import bind_tcp

HOST = "127.4.0.9"
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


class HeldCall:
    """A call application that runs until ``release`` is set (it yields to the hub meanwhile)."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def run(self) -> None:
        import gevent

        while not self.release.is_set():
            gevent.sleep(0.05)


def trusted(_: object) -> Verdict:
    return Verdict(True, "test", "", "")


def server(port: int, release: threading.Event) -> OutboundServer:
    sock = bind_tcp(HOST, port, "test event socket", reuse_port=True)
    return OutboundServer(sock, lambda session, verdict: HeldCall(release), LOOPBACK, trusted)


def switch_side(port: int) -> socket.socket:
    """What FreeSWITCH's ``socket`` application does: connect, answer ``connect`` with the channel."""
    conn = socket.create_connection((HOST, port), timeout=5)
    data = b""
    while b"\n\n" not in data:
        chunk = conn.recv(4096)
        assert chunk, "closed before connect"
        data += chunk
    assert data.startswith(b"connect")
    conn.sendall(f"Content-Type: command/reply\nReply-Text: +OK\nUnique-ID: {uuid.uuid4()}\n"
                 "Channel-Name: sofia/internal/test\n\n".encode())
    return conn


def received_exit(conn: socket.socket) -> bool:
    conn.settimeout(5)
    data = b""
    while b"exit" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return False
        data += chunk
    return True


async def until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_draining_replica_keeps_its_calls_and_the_new_one_takes_the_new_calls() -> None:
    old_calls, new_calls = threading.Event(), threading.Event()
    old = server(0, old_calls)
    port = old.port
    await old.start()
    new: OutboundServer | None = None
    conns: list[socket.socket] = []
    try:
        in_progress = switch_side(port)
        await until(lambda: old.active_calls == 1)
        new = server(port, new_calls)            # the replacement, on the same address
        await new.start()
        assert await old.readiness() == {"event_socket": True, "accepting_calls": True}
        drain = asyncio.create_task(old.drain(30))
        await until(lambda: not old.accepting)
        assert await old.readiness() == {"event_socket": True, "accepting_calls": False}
        assert await new.readiness() == {"event_socket": True, "accepting_calls": True}
        for _ in range(6):                       # new calls during the drain: all on the new replica
            conns.append(await asyncio.to_thread(switch_side, port))
        await until(lambda: new.active_calls == 6)
        assert (old.counters.accepted, old.active_calls, new.counters.trusted) == (1, 1, 6)
        await asyncio.sleep(0.5)
        assert not drain.done()                  # the call in progress holds the drain
        old_calls.set()                          # ... until it ends by itself
        assert await asyncio.to_thread(received_exit, in_progress)   # served to its end, not cut
        assert await asyncio.wait_for(drain, 10) == 0
    finally:
        old_calls.set()
        new_calls.set()
        for conn in conns:
            conn.close()
        await old.stop()
        if new is not None:
            await new.stop()


async def test_the_drain_ends_when_its_time_is_up() -> None:
    held = threading.Event()
    old = server(0, held)
    await old.start()
    conn = switch_side(old.port)
    try:
        await until(lambda: old.active_calls == 1)
        assert await old.drain(0.5) == 1          # still there: app.py hands it back to its dialplan
        refused = socket.socket()
        assert refused.connect_ex((HOST, old.port)) != 0    # nobody listens there any more
        refused.close()
    finally:
        held.set()
        await old.stop()
        conn.close()


def test_drain_settings() -> None:
    from hibiki.callcontrol.config import CallControlConfig
    from hibiki.common.errors import ConfigError

    import pytest

    default = CallControlConfig.from_env({})
    assert (default.drain_seconds, default.esl_reuse_port) == (540.0, False)
    moved = CallControlConfig.from_env({"HIBIKI_CALLCONTROL_DRAIN_SECONDS": "30",
                                        "HIBIKI_CALLCONTROL_ESL_REUSEPORT": "on"})
    assert (moved.drain_seconds, moved.esl_reuse_port) == (30.0, True)
    with pytest.raises(ConfigError, match="HIBIKI_CALLCONTROL_ESL_REUSEPORT='yes'"):
        CallControlConfig.from_env({"HIBIKI_CALLCONTROL_ESL_REUSEPORT": "yes"})
    with pytest.raises(ConfigError, match="HIBIKI_CALLCONTROL_DRAIN_SECONDS"):
        CallControlConfig.from_env({"HIBIKI_CALLCONTROL_DRAIN_SECONDS": "-1"})
