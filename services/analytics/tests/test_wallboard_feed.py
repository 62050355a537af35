"""The wallboard's decoder of the ACD's NATS messages (hibiki.analytics.wallboard.feed.decode):
what the ACD publishes becomes the model's events with the same call, queue, agent and times, and
anything else (any subject, any bytes) is either ignored or refused with ValueError, never a crash."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.analytics.wallboard import model as m
from hibiki.analytics.wallboard.feed import decode
from hibiki.common.errors import StartupError
from hibiki.events.v1 import acd_pb2, agent_pb2, meta_pb2


def meta(call: str = "") -> meta_pb2.EventMeta:
    out = meta_pb2.EventMeta(id=str(uuid.uuid4()), tenant="t1", source="acd", call_uuid=call)
    out.occurred_at.FromNanoseconds(1_765_000_000_123_000_000)
    return out


AT = 1_765_000_000.123


def test_the_acd_events_become_model_events() -> None:
    call = str(uuid.uuid4())
    cases = [
        ("acd.queued", acd_pb2.CallQueued(meta=meta(call), queue_id="water", position=2), [m.Entered(call, "water", AT)]),
        ("acd.answered", acd_pb2.QueueCallAnswered(meta=meta(call), queue_id="water", agent_id="a1", wait_ms=12_500),
         [m.Answered(call, "water", "a1", 12.5, AT)]),
        ("acd.left", acd_pb2.CallLeftQueue(meta=meta(call), queue_id="water", reason="abandoned", wait_ms=3000),
         [m.Left(call, "water", "abandoned", 3.0, AT)]),
        ("acd.overflowed", acd_pb2.CallOverflowed(meta=meta(call), from_queue="water", to_queue="night", wait_ms=30_000),
         [m.Left(call, "water", "overflowed", 30.0, AT), m.Entered(call, "night", AT)]),
        ("acd.ended", acd_pb2.QueueCallEnded(meta=meta(call), queue_id="water", agent_id="a1", talk_ms=61_000),
         [m.Ended(call, "water", "a1", 61.0, AT)]),
        ("agent.state_changed", agent_pb2.AgentStateChanged(
            meta=meta(call), agent_id="a1", previous=agent_pb2.AGENT_STATE_TALKING,
            current=agent_pb2.AGENT_STATE_AFTER_CALL_WORK, queue_ids=["water"], call_uuid=call),
         [m.AgentChanged("a1", m.AgentState.AFTER_CALL_WORK, AT, ("water",), call, m.AgentState.TALKING)]),
        ("acd.offered", acd_pb2.CallOffer(meta=meta(call), queue_id="water"), []),
        ("agent.disposition_saved", agent_pb2.DispositionSaved(meta=meta(call), agent_id="a1"), []),
    ]
    for kind, message, expected in cases:
        tenant, events = decode(f"hibiki.t1.{kind}", message.SerializeToString())
        assert tenant == "t1"
        assert [_rounded(e) for e in events] == expected, kind


def _rounded(event: m.Event) -> m.Event:
    import dataclasses
    return dataclasses.replace(event, at=round(event.at, 3))


def test_reserved_counts_as_ringing_and_an_unknown_state_is_ignored() -> None:
    reserved = agent_pb2.AgentStateChanged(meta=meta(), agent_id="a1", current=agent_pb2.AGENT_STATE_RESERVED)
    unknown = agent_pb2.AgentStateChanged(meta=meta(), agent_id="a1", current=99)  # type: ignore[arg-type]
    assert decode("hibiki.t1.agent.state_changed", reserved.SerializeToString())[1][0].state is m.AgentState.RINGING
    assert decode("hibiki.t1.agent.state_changed", unknown.SerializeToString())[1] == []


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.sampled_from(["hibiki.t1.acd.queued", "hibiki.t1.acd.answered",
                                                        "hibiki..acd.left", "hibiki.t1.agent.state_changed"])),
       st.binary(max_size=200))
def test_any_subject_and_bytes_are_decoded_ignored_or_refused(subject: str, payload: bytes) -> None:
    try:
        tenant, events = decode(subject, payload)
    except ValueError:
        return
    assert subject.split(".")[1] == tenant and tenant
    for event in events:
        if isinstance(event, m.AgentChanged):
            assert event.agent_id
        else:
            assert event.call_id and event.queue_id


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["acd.queued", "acd.answered", "acd.left", "acd.overflowed", "acd.ended",
                        "agent.state_changed"]), st.binary(max_size=200))
def test_garbage_under_a_real_subject_never_crashes_the_board(kind: str, payload: bytes) -> None:
    board = m.Board("t1")
    try:
        _, events = decode(f"hibiki.t1.{kind}", payload)
    except ValueError:
        return
    for event in events:
        board.apply(event)
    figures = board.figures(time.time())
    assert figures.offered == figures.answered + figures.abandoned + figures.timed_out + figures.cancelled \
        + figures.node_lost + figures.overflowed + figures.waiting


def test_a_call_whose_node_was_lost_counts_as_node_lost_not_cancelled_and_out_of_the_rates() -> None:
    """``acd.left`` reason ``node_lost`` (its FreeSWITCH node was lost) is told apart from a call
    callcontrol took away (``cancelled``) by the event alone, and counts in neither rate."""
    board = m.Board("t1")
    board.configure({"water": 20.0}, {})
    for n, reason in enumerate(("node_lost", "cancelled", "node_lost")):
        call = f"c{n}"
        for kind, message in (("acd.queued", acd_pb2.CallQueued(meta=meta(call), queue_id="water", position=1)),
                              ("acd.left", acd_pb2.CallLeftQueue(meta=meta(call), queue_id="water", reason=reason,
                                                                 wait_ms=4000))):
            for event in decode(f"hibiki.t1.{kind}", message.SerializeToString())[1]:
                board.apply(event)
    answered = acd_pb2.QueueCallAnswered(meta=meta("c3"), queue_id="water", agent_id="a1", wait_ms=5000)
    board.apply(m.Entered("c3", "water", AT))
    for event in decode("hibiki.t1.acd.answered", answered.SerializeToString())[1]:
        board.apply(event)
    figures = board.figures(AT + 60, "water")
    assert (figures.offered, figures.node_lost, figures.cancelled, figures.answered) == (4, 2, 1, 1)
    assert figures.answer_rate == 1 / 2 and figures.service_level == 1 / 2    # c1 (cancelled) and c3 count


async def test_the_feed_started_before_its_stream_answers_waits_for_it(tmp_path: Any) -> None:
    """At startup JetStream may be electing a leader (here: no stream yet): the feed waits, one
    warning line an attempt and no traceback, instead of failing the service's start; once the
    stream answers it delivers the ACD's events."""
    import asyncio

    import nats
    import structlog

    from hibiki.analytics.wallboard.feed import Feed
    from hibiki.common import bus
    from support.servers import NatsServer

    server = NatsServer(tmp_path)
    server.start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream(timeout=2)
        got: list[tuple[str, list[Any]]] = []
        arrived = asyncio.Event()

        async def sink(tenant: str, events: list[Any]) -> None:
            got.append((tenant, events))
            arrived.set()

        feed = Feed(js, sink, stop=asyncio.Event())
        with structlog.testing.capture_logs() as logs:
            starting = asyncio.create_task(feed.start())
            await asyncio.sleep(1.5)
            assert not starting.done()
            await bus.ensure_events_stream(js)
            await asyncio.wait_for(starting, 30)
        waits = [line for line in logs if line["event"] == "jetstream_unavailable"]
        assert waits and all("wallboard feed" in w["what"] and "exc_info" not in w for w in waits)
        call = str(uuid.uuid4())
        await bus.publish(js, "hibiki.t1.acd.queued",
                          acd_pb2.CallQueued(meta=meta(call), queue_id="water").SerializeToString(), str(uuid.uuid4()))
        await asyncio.wait_for(arrived.wait(), 30)
        [(tenant, [entered])] = got
        assert (tenant, entered.call_id, entered.queue_id) == ("t1", call, "water") and entered.at == pytest.approx(AT)

        stopped = asyncio.Event()            # stopped while it waits: a clean StartupError, no hang
        never = Feed(nc.jetstream(timeout=1, domain="nowhere"), sink, stop=stopped)
        waiting = asyncio.create_task(never.start())
        await asyncio.sleep(1.0)
        stopped.set()
        with pytest.raises(StartupError):
            await asyncio.wait_for(waiting, 15)
        await feed.stop()
        await nc.close()
    finally:
        server.stop()
