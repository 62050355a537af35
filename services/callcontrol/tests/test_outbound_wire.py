"""The hardened outbound session (``esl.session``) and the server's liveness (``esl.outbound``)."""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import quote, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hibiki.callcontrol.esl.outbound import STALL_SECONDS, OutboundServer
from hibiki.callcontrol.esl.session import ProtocolError, parse_block
from hibiki.callcontrol.esl.wire import parse_plain

names = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_-]{0,30}\Z")
values = st.text(max_size=80)


@given(st.dictionaries(names, values, max_size=12))
def test_a_header_block_reads_back_what_was_encoded(headers: dict[str, str]) -> None:
    """Each value url-encoded on its own line (as FreeSWITCH writes them) reads back exactly,
    however many ``%0A``/``%3A`` it carries: no value can forge another header."""
    block = "".join(f"{name}: {quote(value, safe='')}\n" for name, value in headers.items())
    assert parse_block(block) == {name: value.strip() for name, value in headers.items()}


@given(st.text(max_size=60).filter(lambda line: line and ":" not in line and "\n" not in line))
def test_a_line_without_a_colon_is_garbage(line: str) -> None:
    with pytest.raises(ProtocolError):
        parse_block(f"Content-Type: command/reply\n{line}\n")


def eager_block(text: str) -> dict[str, str]:
    """The reading before values were decoded lazily: split, then every value decoded at once."""
    headers: dict[str, str] = {}
    for line in text.split("\n"):
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise ProtocolError(line)
        headers[name] = unquote(value.lstrip(" ")).strip()
    return headers


def eager_plain(text: str) -> tuple[dict[str, str], str]:
    head, _, rest = text.partition("\n\n")
    headers: dict[str, str] = {}
    for line in head.split("\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers[name] = unquote(value.lstrip(" "))
    return headers, (rest if "Content-Length" in headers else "")


# blocks as FreeSWITCH writes them, and hostile ones: raw '%', bad escapes, encoded line
# breaks, spaces, colons, invalid UTF-8 sequences once decoded, lines without a colon
hostile_text = st.lists(st.sampled_from(["a", "Z", "0", " ", ":", "%", "-", "_", "\n", "\r", "\t", "\u3042", "%0A",
                                          "%3A", "%ZZ", "%E3%81%82", "%FF", "%C3", "%20", "%2"]),
                        max_size=80).map("".join)
encoded_blocks = st.dictionaries(names, values, max_size=12).map(
    lambda headers: "".join(f"{name}: {quote(value, safe=' ')}\n" for name, value in headers.items()))


@given(st.one_of(hostile_text, encoded_blocks), st.lists(st.text(max_size=40), max_size=5))
def test_lazy_decoding_reads_what_eager_decoding_read(block: str, reads: list[str]) -> None:
    """Whatever the block, the lazily decoded headers are the eagerly decoded ones: the same
    refusal (ProtocolError), the same names in the same order, the same values, read in any
    order, any number of times, and ``get``/``in`` on names that are not there."""
    try:
        expected = eager_block(block)
    except ProtocolError:
        with pytest.raises(ProtocolError):
            parse_block(block)
        return
    lazy = parse_block(block)
    for name in [*reads, *reversed(list(expected)), *reads]:
        assert lazy.get(name) == expected.get(name)
        assert lazy.get(name, "-") == expected.get(name, "-")
        assert (name in lazy) == (name in expected)
    assert list(lazy) == list(expected) and len(lazy) == len(expected)
    assert dict(lazy) == expected and lazy == expected
    plain, body = parse_plain(block)
    expected_plain, expected_body = eager_plain(block)
    assert list(plain) == list(expected_plain) and body == expected_body
    assert {name: plain[name] for name in reversed(list(plain))} == expected_plain


def test_a_caller_id_name_cannot_forge_a_header() -> None:
    forged = quote("x\nApplication-UUID: 1234\nvariable_hibiki_ivr_digit: 9", safe="")
    parsed = parse_block(f"Caller-Caller-ID-Name: {forged}\nEvent-Name: CHANNEL_EXECUTE_COMPLETE\n")
    assert set(parsed) == {"Caller-Caller-ID-Name", "Event-Name"}


async def test_a_hub_that_stops_turning_is_not_alive() -> None:
    """/healthz reports ``event_socket``: False when the event-socket thread is wedged (a greenlet
    that never yields, like greenswitch's EOF spin) or gone."""
    listener = socket.socket()
    listener.bind(("127.4.0.8", 0))
    listener.listen(8)
    server = OutboundServer(listener, lambda session, verdict: None, ())   # type: ignore[arg-type,return-value]
    await server.start()
    try:
        assert await server.health() == {"event_socket": True}
        server._hub.loop.run_callback_threadsafe(time.sleep, STALL_SECONDS + 1.5)   # blocks the hub
        await asyncio.sleep(STALL_SECONDS + 0.5)
        wedged = await server.health()
        await asyncio.sleep(2.5)
        recovered = await server.health()
    finally:
        await server.stop()
    assert wedged == {"event_socket": False} and recovered == {"event_socket": True}
    assert await server.health() == {"event_socket": False}                 # stopped


def test_event_socket_settings() -> None:
    from hibiki.callcontrol.config import CallControlConfig
    from hibiki.common.errors import ConfigError

    default = CallControlConfig.from_env({})
    assert (default.esl_limits.max_sessions, default.esl_limits.handshake_timeout, default.esl_verify) == (2000, 3.0, True)
    moved = CallControlConfig.from_env({"HIBIKI_CALLCONTROL_ESL_MAX_SESSIONS": "100",
                                        "HIBIKI_CALLCONTROL_ESL_HANDSHAKE_TIMEOUT": "0.5",
                                        "HIBIKI_CALLCONTROL_ESL_VERIFY": "off"})
    assert (moved.esl_limits.max_sessions, moved.esl_limits.handshake_timeout, moved.esl_verify) == (100, 0.5, False)
    with pytest.raises(ConfigError, match="HIBIKI_CALLCONTROL_ESL_VERIFY=off trusts anyone"):
        CallControlConfig.from_env({"HIBIKI_CALLCONTROL_ESL_VERIFY": "off", "HIBIKI_CALLCONTROL_HOST": "0.0.0.0"})
    with pytest.raises(ConfigError, match="HIBIKI_CALLCONTROL_ESL_VERIFY='maybe'"):
        CallControlConfig.from_env({"HIBIKI_CALLCONTROL_ESL_VERIFY": "maybe"})
    with pytest.raises(ConfigError, match="HIBIKI_CALLCONTROL_ESL_MAX_SESSIONS"):
        CallControlConfig.from_env({"HIBIKI_CALLCONTROL_ESL_MAX_SESSIONS": "0"})


def _peer_frames(sock: socket.socket, count: int, timeout: float = 5.0) -> list[str]:
    """Read ``count`` commands (``\\n\\n``-ended frames) as FreeSWITCH's listener would."""
    import gevent

    data = b""
    with gevent.Timeout(timeout):
        while data.count(b"\n\n") < count:
            chunk = sock.recv(65536)
            assert chunk, "the controller closed the socket"
            data += chunk
    return [frame for frame in data.decode().split("\n\n") if frame][:count]


def _reply(sock: socket.socket, text: str) -> None:
    sock.sendall(f"Content-Type: command/reply\nReply-Text: {quote(text, safe=' +-:')}\n\n".encode())


def test_set_and_queue_are_pipelined_and_a_refusal_still_surfaces() -> None:
    """``set``/``queue`` do not wait for the socket's ``+OK``: the commands leave together and
    their replies (FreeSWITCH answers a socket's commands in order) are read with the next waited
    command's, one round trip instead of one each. A ``-ERR`` to one of them still raises
    ``CommandRefused`` (from that next command), and nothing waits for ever on a closed socket."""
    import gevent
    import gevent.socket

    from hibiki.callcontrol.esl.session import OutboundWire
    from hibiki.callcontrol.ivr.channel import CommandRefused, ConnectionLost, EslChannel

    ours, theirs = gevent.socket.socketpair()
    wire = OutboundWire(("127.0.0.1", 0), ours)
    wire.session_data = {"Unique-ID": "5e2f6c1a-0000-4000-8000-000000000001"}
    channel = EslChannel(wire)

    def waited() -> str:
        return str(channel.api("uuid_getvar 5e2f6c1a-0000-4000-8000-000000000001 hibiki_queue"))

    with gevent.Timeout(5, AssertionError("set/queue waited for a reply the switch has not sent")):
        channel.set("hibiki_queue", "q1")
        channel.queue("unset", "playback_terminators")
    answer = gevent.spawn(waited)
    frames = _peer_frames(theirs, 3)       # all three sent before any reply
    assert [f.splitlines()[0] for f in frames] == ["sendmsg", "sendmsg", "api uuid_getvar "
                                                   "5e2f6c1a-0000-4000-8000-000000000001 hibiki_queue"]
    assert "execute-app-arg: hibiki_queue=q1" in frames[0] and "execute-app-name: unset" in frames[1]
    assert not answer.ready()
    _reply(theirs, "+OK")
    _reply(theirs, "+OK")
    theirs.sendall(b"Content-Type: api/response\nContent-Length: 2\n\nq1")
    assert answer.get(timeout=5) == "q1"

    channel.set("hibiki_ivr_path", "main:1")          # refused by the switch
    refused = gevent.spawn(waited)
    assert len(_peer_frames(theirs, 2)) == 2
    _reply(theirs, "-ERR invalid session id")
    theirs.sendall(b"Content-Type: api/response\nContent-Length: 2\n\nq1")
    with pytest.raises(CommandRefused, match="-ERR invalid session id"):
        refused.get(timeout=5)

    channel.set("hibiki_queue", "q2")                  # the switch goes away before replying
    lost = gevent.spawn(waited)
    _peer_frames(theirs, 2)
    theirs.close()
    with pytest.raises(ConnectionLost):
        lost.get(timeout=5)
    wire.close()
