"""The hardened outbound session (``esl.session``) and the server's liveness (``esl.outbound``)."""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hibiki.callcontrol.esl.outbound import STALL_SECONDS, OutboundServer
from hibiki.callcontrol.esl.session import ProtocolError, parse_block

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
