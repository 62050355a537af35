"""ESL framing: property tests."""
from __future__ import annotations

import asyncio

from hypothesis import given, strategies as st

from fsemu.esl_wire import EslFramingError, EslMessage, parse_command_block, parse_message, parse_stream
from fsemu.events import Event, CoreInfo

NAME = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=":"), min_size=1,
               max_size=20).filter(lambda s: s.lower() != "content-length")
VALUE = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40).filter(
    lambda s: not s.startswith(" "))


@st.composite
def messages(draw: st.DrawFn) -> EslMessage:
    headers = draw(st.lists(st.tuples(NAME, VALUE), min_size=1, max_size=8))
    body = draw(st.binary(max_size=200))
    if body:
        headers = [("Content-Length", str(len(body)))] + headers
    return EslMessage(headers, body)


@given(messages())
def test_parse_serialize_roundtrip(msg: EslMessage) -> None:
    parsed, rest = parse_message(msg.serialize())
    assert rest == b"" and parsed == msg


@given(st.lists(messages(), min_size=1, max_size=4))
def test_stream_roundtrip(msgs: list[EslMessage]) -> None:
    assert parse_stream(b"".join(m.serialize() for m in msgs)) == msgs


@given(st.binary(max_size=300))
def test_parse_arbitrary_bytes(data: bytes) -> None:
    try:
        parse_stream(data)
    except EslFramingError:
        pass


@given(st.binary(max_size=300))
def test_parse_command_arbitrary(data: bytes) -> None:
    try:
        cmd, clen = parse_command_block(data)
        assert clen >= 0 and "\n" not in cmd.command
    except EslFramingError:
        pass


@given(st.lists(st.tuples(NAME, VALUE), max_size=6), st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                                                                       blacklist_characters="\x00"),
                                                               max_size=50))
def test_event_plain_is_one_frame(headers: list[tuple[str, str]], body: str) -> None:
    ev = Event.create("CUSTOM", CoreInfo(), stamp=1795419363972805, seq=1, calling=("f.c", "fn", 1))
    ev.headers += headers
    ev.body = body or None
    data = ev.serialize_plain()
    frame = f"Content-Length: {len(data)}\nContent-Type: text/event-plain\n\n".encode() + data
    (msg,) = parse_stream(frame)
    assert msg.body == data
