"""Quality evaluation (REC-05) and the audit export: the total's properties (Hypothesis), scores
per agent over time in Asia/Tokyo periods on a real chdb, and through the real service: forms,
scoring, hostile bodies (4xx naming the field, never a 5xx), the audit trail as CSV (the same
entries as the JSON, a formula-looking value defused)."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.recording.app import main
from hibiki.recording.config import RecordingConfig
from hibiki.recording.domain import evaluation
from hibiki.recording.index import evaluations
from hibiki.recording.index.chdb_store import ChdbStore
from support.recording import make_wav, publish_stopped, spool_path, stopped
from support.servers import free_port, running

FORM = evaluation.form("basic", "応対品質", 5, [("greeting", "挨拶", 1.0), ("accuracy", "正確さ", 3.0)])


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 10).flatmap(lambda scale: st.tuples(
    st.just(scale),
    st.lists(st.tuples(st.floats(0.01, 100), st.integers(1, scale)), min_size=1, max_size=30))),
    st.floats(0.01, 100))
def test_total_is_a_weighted_mean_on_0_to_100(case: tuple[int, list[tuple[float, int]]], factor: float) -> None:
    scale, pairs = case
    weights, values = [w for w, _ in pairs], [v for _, v in pairs]
    total = evaluation.total(scale, weights, values)
    assert 0 <= total <= 100
    assert total == pytest.approx(evaluation.total(scale, [w * factor for w in weights], values), abs=0.011)
    assert evaluation.total(scale, weights, [1] * len(values)) == 0
    assert evaluation.total(scale, weights, [scale] * len(values)) == 100
    if values[0] < scale:                                   # a better score never lowers the total
        assert evaluation.total(scale, weights, [values[0] + 1, *values[1:]]) >= total


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=40), st.one_of(st.integers(-5, 12), st.booleans(), st.text(max_size=3),
                                                       st.none()), max_size=5))
def test_any_scores_are_scored_or_refused_with_a_field(scores: dict[str, Any]) -> None:
    try:
        values, total = evaluation.scored(FORM, scores)
    except evaluation.BadEvaluation as exc:
        assert exc.field.startswith("scores.")
        return
    assert set(scores) == {"greeting", "accuracy"} and all(1 <= v <= 5 for v in values) and 0 <= total <= 100


def test_forms_refuse_what_is_wrong_naming_the_field() -> None:
    for args, field in ((("Bad Id", "x", 5, [("a", "A", 1.0)]), "form_id"),
                        (("f", "x", 1, [("a", "A", 1.0)]), "scale"),
                        (("f", "x", 5, []), "criteria"),
                        (("f", "x", 5, [("a", "A", 1.0), ("a", "B", 1.0)]), "criteria.1.id"),
                        (("f", "x", 5, [("a", "A", 0.0)]), "criteria.0.weight"),
                        (("f", "x", 5, [("a", "A\x00", 1.0)]), "criteria.0.label"),
                        (("f", "x\ny", 5, [("a", "A", 1.0)]), "name"),
                        (("f", "", 5, [("a", "A", 1.0)]), "name")):
        with pytest.raises(evaluation.BadEvaluation) as caught:
            evaluation.form(*args)  # type: ignore[arg-type]
        assert caught.value.field == field
    assert evaluation.comment("よい\r\n対応\t") == "よい\n対応"


def test_scores_per_agent_over_time_in_tokyo_periods(tmp_path: Path) -> None:
    store = ChdbStore(tmp_path / "chdb")
    try:
        store.migrate()
        assert store.migrate() == []                       # migrations run once
        jst = timedelta(hours=9)

        def scored(agent: str, at: datetime, total: float) -> None:
            evaluations.add(store, evaluations.Evaluation(
                "zama", agent, at, str(uuid.uuid4()), str(uuid.uuid4()), "c", "q", "basic", "応対品質", 5,
                ["greeting"], [1.0], [3], total, "sv", ""))
        # 2026-11-30 23:30 JST is a Monday in November; 2026-12-01 00:30 JST is December
        scored("agent-1", datetime(2026, 11, 30, 23, 30, tzinfo=UTC) - jst, 60.0)
        scored("agent-1", datetime(2026, 12, 1, 0, 30, tzinfo=UTC) - jst, 80.0)
        scored("agent-1", datetime(2026, 12, 1, 9, 0, tzinfo=UTC) - jst, 100.0)
        scored("agent-2", datetime(2026, 12, 2, 9, 0, tzinfo=UTC) - jst, 50.0)
        scored("agent-1", datetime(2026, 12, 2, 9, 0, tzinfo=UTC) - jst, 10.0)
        evaluations.add(store, evaluations.Evaluation("other", "agent-1", datetime(2026, 12, 1, tzinfo=UTC), "e", "r",
                                                      "c", "q", "f", "n", 5, [], [], [], 0.0, "", ""))   # another tenant
        month = evaluations.over_time(store, "zama", "month", "agent-1", None, None)
        assert [(p.period, p.evaluations, p.average, p.lowest, p.highest) for p in month] == [
            ("2026-11-01", 1, 60.0, 60.0, 60.0), ("2026-12-01", 3, 63.33, 10.0, 100.0)]
        week = evaluations.over_time(store, "zama", "week", "agent-1", None, None)
        assert [(p.period, p.evaluations) for p in week] == [("2026-11-30", 4)]
        day = evaluations.over_time(store, "zama", "day", None, datetime(2026, 12, 1, tzinfo=UTC) - jst, None)
        assert [(p.agent_id, p.period, p.evaluations) for p in day] == [
            ("agent-1", "2026-12-01", 2), ("agent-1", "2026-12-02", 1), ("agent-2", "2026-12-02", 1)]
    finally:
        store.close()


async def _until(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)
    return value


@pytest.mark.slow
async def test_forms_scoring_and_audit_export_through_the_service(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> None:
    tenant = f"toshima{uuid.uuid4().hex[:6]}"
    spool = tmp_path / "spool"
    config = dataclasses.replace(RecordingConfig.from_env({
        "HIBIKI_DATA_DIR": str(tmp_path / "var"), "HIBIKI_NATS_URL": nats_server.url,
        "HIBIKI_RECORDING_SPOOL_DIR": str(spool), "HIBIKI_RECORDING_CONSUMER": f"rec-{tenant}"}), port=free_port())
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    rid, started = str(uuid.uuid4()), datetime.now(UTC) - timedelta(minutes=5)
    await publish_stopped(js, stopped(tenant, rid, make_wav(spool_path(spool, tenant, rid, started)), started=started,
                                      agent_id="agent-9"))

    def client(*roles: str, user: str = "kato") -> httpx.AsyncClient:
        token = authority.issue(Claims(user, "user", tenant, roles))
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{config.port}/api/v1/tenants/{tenant}",
                                 headers={"Authorization": f"Bearer {token}"})

    async with running(main, config), client("recording-admin") as admin, \
            client("recording-viewer", "supervisor", user="=HYPERLINK(\"http://evil\")") as supervisor, \
            client("auditor", user="auditor-1") as auditor:
        await _until(lambda: _indexed(admin, rid))
        form = {"name": "応対品質", "scale": 4, "criteria": [{"id": "greeting", "label": "挨拶", "weight": 1},
                                                             {"id": "accuracy", "label": "正確さ", "weight": 2}]}
        assert (await admin.put("/evaluation-forms/basic", json=form)).status_code == 200
        hostile: list[tuple[str, str, Any, str]] = [
            ("PUT", "/evaluation-forms/BAD", form, "form_id"),
            ("PUT", "/evaluation-forms/x", {**form, "scale": 99}, "scale"),
            ("PUT", "/evaluation-forms/x", {**form, "criteria": []}, "criteria"),
            ("PUT", "/evaluation-forms/x", {**form, "criteria": [{"id": "a", "label": "x", "weight": -1}]},
             "criteria.0.weight"),
            ("PUT", "/evaluation-forms/x", {**form, "name": "a\x00b"}, "name"),
            ("PUT", "/evaluation-forms/x", "not json", "body"),
            ("POST", f"/recordings/{rid}/evaluations", {"form_id": "nope", "scores": {}}, "form_id"),
            ("POST", f"/recordings/{rid}/evaluations", {"form_id": "basic", "scores": {"greeting": 4}},
             "scores.accuracy"),
            ("POST", f"/recordings/{rid}/evaluations", {"form_id": "basic", "scores": {"greeting": 5, "accuracy": 1}},
             "scores.greeting"),
            ("POST", f"/recordings/{rid}/evaluations", {"form_id": "basic", "scores": {"greeting": 1, "accuracy": 1,
                                                                                      "x'); DROP": 1}}, "scores.x'); DROP"),
            ("POST", f"/recordings/{uuid.uuid4()}/evaluations", {"form_id": "basic", "scores": {}}, "recording_id"),
        ]
        for method, path, body, field in hostile:
            answer = await (admin.request(method, path, content=body) if isinstance(body, str)
                            else admin.request(method, path, json=body))
            assert 400 <= answer.status_code < 500 and answer.json()["details"]["field"] == field, (path, answer.text)
        scored = await supervisor.post(f"/recordings/{rid}/evaluations", json={
            "form_id": "basic", "scores": {"greeting": 4, "accuracy": 2}, "comment": "=cmd|' /C calc'!A0"})
        assert scored.status_code == 201, scored.text
        e = scored.json()
        assert (e["total"], e["agent_id"], e["scores"]) == (round(100 * (1 * 1 + 2 * 1 / 3) / 3, 2), "agent-9",
                                                            {"greeting": 4, "accuracy": 2})
        # the form changes later: the evaluation keeps the weights it was scored with
        form["criteria"][1]["weight"] = 10
        assert (await admin.put("/evaluation-forms/basic", json=form)).status_code == 200
        listed = (await supervisor.get(f"/recordings/{rid}/evaluations")).json()["evaluations"]
        assert [x["total"] for x in listed] == [e["total"]] and listed[0]["weights"]["accuracy"] == 2
        assert (await admin.get("/evaluation-forms")).json()["forms"][0]["criteria"][1]["weight"] == 10
        periods = (await supervisor.get("/evaluation-scores", params={"by": "day", "agent": "agent-9"})).json()
        assert [(p["agent_id"], p["evaluations"], p["average"]) for p in periods["periods"]] == [
            ("agent-9", 1, e["total"])]
        assert (await supervisor.get("/evaluation-scores", params={"by": "year"})).json()["details"]["field"] == "by"

        # the audit export: the auditor reads it, the same entries as the JSON, nothing to run in a spreadsheet
        assert (await auditor.get(f"/recordings/{rid}/audio")).status_code == 403
        assert (await auditor.get("/recordings")).status_code == 403
        trail = (await auditor.get("/recording-audit")).json()["entries"]
        exported = await auditor.get("/recording-audit.csv")
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        assert exported.headers["content-disposition"] == f'attachment; filename="recording-audit-{tenant}.csv"'
        assert exported.content.startswith("\ufeff".encode())
        rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert [r["event_id"] for r in rows] == [x["event_id"] for x in trail] and len(rows) >= 2
        evaluate = next(r for r in rows if r["action"] == "evaluate")
        assert evaluate["actor"].startswith("'=") and evaluate["recording_id"] == rid
        assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())
        window = await auditor.get("/recording-audit.csv", params={"from": "2099-01-01T00:00:00+09:00"})
        assert window.content.decode("utf-8-sig").splitlines() == [
            "at,event_id,actor,roles,action,recording_id,remote,detail,writer,seq,prev_hash,hash"]
        assert (await auditor.get("/recording-audit.csv", params={"from": "x"})).json()["details"]["field"] == "from"
        print(f"evaluation total {e['total']}; audit export {len(rows)} rows, the same as the JSON trail")


async def _indexed(client: httpx.AsyncClient, rid: str) -> bool:
    return (await client.get(f"/recordings/{rid}")).status_code == 200
