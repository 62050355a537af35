"""Calls on the real FreeSWITCH folded into analytics' call records: everything the stack
announced on NATS for the tenant (callcontrol's legs, the IVR's steps, the ACD's decisions) goes
through analytics' own decoder and ingestor into a ClickHouse (chdb) of this test, and each call
leaves the record a person expects, with FreeSWITCH's own times to within a second."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from hibiki.analytics.events import IgnoredEvent, InvalidEvent, decode
from hibiki.analytics.ingest import Ingestor
from hibiki.analytics.storage import Store, open_store
from support.switch.bench import Extension, SwitchBench
from support.switch.esl import EslEvent

T = "kirokuan"
IVR_NUMBER = "0424930000"
COLUMNS = ("call_id", "direction", "caller_number", "callee_number", "did", "agent_id", "result", "queues",
           "ivr_path", "hangup_cause", "sip_code", "test_mode", "legs", "start_time", "answer_time", "end_time",
           "wait_ms", "talk_ms")


@pytest.fixture(scope="module")
def people(bench: SwitchBench) -> dict[str, Extension]:
    bench.tenant(T, representative_number="0462514444")
    people = {ext: bench.extension(T, ext)[0] for ext in ("2001", "2002", "7001")}
    bench.directory.post(f"/api/v1/tenants/{T}/ivrs", {
        "id": "madoguchi", "name": "窓口", "root_menu": "top",
        "menus": [{"id": "top", "name": "トップ", "greeting": {"text": "窓口におつなぎします。1を押してください。"},
                   "choices": {"1": {"queue": {"queue_id": "desk"}}}}]})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": IVR_NUMBER, "target_kind": "ivr",
                                                       "target": "madoguchi"})
    bench.acd.put(f"/api/v1/tenants/{T}/queues/desk", {"offer_timeout_seconds": 10, "wrap_up_limit_seconds": 1})
    bench.acd.put(f"/api/v1/tenants/{T}/agents/801", {"skills": {}, "queues": ["desk"]})
    bench.wait_callcontrol_ready()
    return people


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = open_store(f"chdb://{tmp_path_factory.mktemp('analytics') / 'chdb'}")
    store.migrate()
    yield store
    store.close()


def records(bench: SwitchBench, store: Store, mark: int, legs: int) -> dict[str, dict[str, Any]]:
    """Once ``legs`` call.ended have come (and a second more): every event of the tenant since
    ``mark`` through analytics' ingestor; the calls' rows by call id."""
    bench.events.wait(f"hibiki.{T}.call.ended", after=mark, count=legs, timeout=30)
    time.sleep(1.0)
    now = datetime.now(UTC)
    batch = []
    for event in bench.events.matching(f"hibiki.{T}.*", after=mark):
        try:
            batch.append(decode(event.subject, event.data, now))
        except (IgnoredEvent, InvalidEvent):
            continue
    Ingestor(store, lambda tenant: 1095).store_batch(batch)
    keys = tuple({e.key for e in batch})
    rows = store.query(f"SELECT {', '.join(COLUMNS)} FROM hibiki.calls FINAL WHERE tenant = %(t)s "
                       "AND call_id IN %(k)s", {"t": T, "k": keys})
    return {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in rows}


def switch_time(event: EslEvent, variable: str) -> float:
    return int(event.get(f"variable_{variable}", "0") or 0) / 1e6


def within_a_second(row: dict[str, Any], hangups: list[EslEvent]) -> None:
    a = next(e for e in hangups if e.get("Unique-ID") == row["call_id"])
    assert abs(row["start_time"].timestamp() - switch_time(a, "start_uepoch")) <= 1
    assert abs(row["end_time"].timestamp() - switch_time(a, "end_uepoch")) <= 1
    if row["answer_time"] is not None:
        answers = [switch_time(e, "answer_uepoch") for e in hangups if e.get("Unique-ID") != row["call_id"]]
        assert any(abs(row["answer_time"].timestamp() - t) <= 1 for t in answers if t)


def test_extension_to_extension(bench: SwitchBench, people: dict[str, Extension], store: Store) -> None:
    alice = bench.baresip(people["2001"], auto_answer=False)
    bob = bench.baresip(people["2002"])
    mark = bench.events.mark()
    with bench.hangups() as hangups:
        alice.dial("2002")
        bob.wait("CALL_ESTABLISHED")
        alice.wait("CALL_ESTABLISHED")
        time.sleep(1.5)
        alice.hangup()
        bob.wait("CALL_CLOSED")
    (row,) = records(bench, store, mark, 2).values()
    print(f"\n  {row}")
    assert (row["direction"], row["caller_number"], row["callee_number"], row["result"], row["legs"]) == (
        "internal", "2001", "2002", "answered", 2)
    assert 1_000 <= row["talk_ms"] <= 4_000 and row["sip_code"] == 200 and not row["test_mode"]
    within_a_second(row, hangups)


def test_did_ivr_queue_agent(bench: SwitchBench, people: dict[str, Extension], store: Store) -> None:
    agent = bench.baresip(people["7001"])
    bench.acd.post(f"/api/v1/tenants/{T}/agents/801/login", {"device": "7001", "ready": True})
    try:
        mark = bench.events.mark()
        with bench.hangups() as hangups:
            call = bench.carrier_call(IVR_NUMBER, caller="0312345678", digits="1", talk_ms=5000, background=True,
                                      before_digits_ms=3000)
            agent.wait("CALL_ESTABLISHED", timeout=40)
            result: Any = call.result()      # type: ignore[union-attr]
            assert result.ok, result.output[-1500:]
        (row,) = records(bench, store, mark, 2).values()
    finally:
        deadline = time.monotonic() + 20
        while bench.acd.http.post(f"/api/v1/tenants/{T}/agents/801/logout").status_code == 409:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    print(f"\n  {row}")
    assert (row["direction"], row["caller_number"], row["did"], row["agent_id"], row["result"]) == (
        "inbound", "0312345678", IVR_NUMBER, "801", "answered")
    assert row["queues"] == ["desk"] and row["ivr_path"] == ["top:1"] and row["legs"] == 2
    assert 0 < row["wait_ms"] < 15_000 and 2_000 <= row["talk_ms"] <= 8_000
    within_a_second(row, hangups)


def test_a_refused_premium_number(bench: SwitchBench, people: dict[str, Extension], store: Store) -> None:
    mark = bench.events.mark()
    with bench.hangups() as hangups:
        result = bench.sipp_call(people["2001"], "0990123456", final=403)
        assert result.final() == 403, result.messages
    (row,) = records(bench, store, mark, 1).values()
    assert (row["direction"], row["result"], row["sip_code"], row["hangup_cause"], row["answer_time"]) == (
        "outbound", "refused", 403, "OUTGOING_CALL_BARRED", None)
    within_a_second(row, hangups)


