"""The reports, call history, daily report and planning API on real chdb (issue 12, CC-08/09/10,
PBX-14): the scripted day gives the hand-counted figures in the JSON, the CSV and the xlsx."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from hibiki.analytics.storage.report_store import ReportStore
from hibiki.analytics.web.routes import OPEN_PATHS, routes
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.http import build_app

from support import scripted_day as sd
from support.analytics_store import open_test_store

SECRET = b"r" * 48
NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)          # Tuesday 18:00 in Tokyo: the 7th is over
AUTHORITY = TokenAuthority(SECRET)


def token(role: str, tenant: str = sd.TENANT, subject: str = "someone", kind: str = "user") -> dict[str, str]:
    claims = Claims(subject, kind, tenant, (role,) if role else ())  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {AUTHORITY.issue(claims)}"}


SUPERVISOR = token("supervisor")
ADMIN = token("admin")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("reports")
    store = open_test_store(root / "chdb")
    sd.insert_all(store)
    files = ReportStore(store)
    files.save_sla(sd.TENANT, {"unresolved_dispositions": sd.UNRESOLVED})
    yield store, files, root
    store.close()


@pytest.fixture
async def client(world: Any) -> AsyncIterator[httpx.AsyncClient]:
    store, files, _ = world
    app = build_app("analytics", AUTHORITY, routes(store, files, now=lambda: NOW), open_paths=OPEN_PATHS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://analytics") as c:
        yield c


BASE = f"/api/v1/tenants/{sd.TENANT}"


async def test_scripted_day_in_the_api(client: httpx.AsyncClient) -> None:
    got = (await client.get(f"{BASE}/reports/calls", params={"from": sd.DAY}, headers=SUPERVISOR)).json()
    assert got["total"] == sd.HAND
    assert got["rows"] == [sd.HAND]
    assert got["targets"]["unresolved_dispositions"] == sd.UNRESOLVED
    by_hour = (await client.get(f"{BASE}/reports/calls", params={"from": sd.DAY, "by": "hour"},
                                headers=SUPERVISOR)).json()
    assert {r["key"]: (r["incoming"], r["offered"], r["answered"], r["abandoned"]) for r in by_hour["rows"]} \
        == sd.HAND_BY_HOUR
    assert by_hour["total"] == sd.HAND
    by_agent = (await client.get(f"{BASE}/reports/calls", params={"from": sd.DAY, "by": "agent"},
                                 headers=SUPERVISOR)).json()
    assert {r["key"]: (r["incoming"], r["offered"], r["answered"]) for r in by_agent["rows"]} == sd.HAND_BY_AGENT
    moved = (await client.get(f"{BASE}/reports/calls", params={"from": sd.DAY, "by": "transfer_target"},
                              headers=SUPERVISOR)).json()
    assert {r["key"]: r["transfers"] for r in moved["rows"]} == {"": 0, "2001": 1}
    queue = (await client.get(f"{BASE}/reports/calls", params={"from": sd.DAY, "queue": "backup"},
                              headers=SUPERVISOR)).json()
    assert (queue["total"]["answered"], queue["total"]["overflowed"]) == (1, 1)     # c5 ended in backup
    dow = (await client.get(f"{BASE}/reports/calls", params={"from": "2026-12-01", "to": "2026-12-31", "by": "dow"},
                            headers=SUPERVISOR)).json()
    assert [r["key"] for r in dow["rows"]] == ["1"] and dow["rows"][0]["incoming"] == 7
    print("\nscripted day (JSON):", got["total"])


def _hand_cells() -> list[Any]:
    h = sd.HAND
    return ["合計", h["incoming"], h["offered"], h["answered"], h["abandoned"], h["abandoned_queue"],
            h["abandoned_ivr"], h["abandon_rate"], h["service_level"], h["asa_seconds"], h["aht_seconds"],
            h["att_seconds"], h["avg_hold_seconds"], h["transfers"], h["overflowed"], h["fcr_rate"],
            "サービスレベル 放棄呼率 平均通話時間", h["node_lost"]]


async def test_scripted_day_in_the_csv(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/reports/calls.csv", params={"from": sd.DAY, "by": "hour"}, headers=ADMIN)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["区分", "着信件数", "受付呼数", "応答件数"]
    assert len(rows) == 1 + len(sd.HAND_BY_HOUR) + 1
    assert rows[-1] == [str(v) for v in _hand_cells()]
    sjis = await client.get(f"{BASE}/reports/calls.csv", params={"from": sd.DAY, "encoding": "shift_jis",
                                                                 "lang": "en"}, headers=ADMIN)
    rows = list(csv.reader(io.StringIO(sjis.content.decode("shift_jis"))))
    assert rows[0][:3] == ["Group", "Incoming", "Offered"] and rows[-1][0] == "total"
    assert rows[-1][1:4] == ["7", "6", "4"]


async def test_scripted_day_in_the_xlsx(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/reports/calls.xlsx", params={"from": sd.DAY}, headers=SUPERVISOR)
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][1] == "着信件数"
    assert values[-1] == _hand_cells()                   # numbers are numbers in the workbook
    assert sheet.cell(row=sheet.max_row, column=9).number_format == "0.0%"       # the service level
    print("scripted day (xlsx total row):", values[-1])


@pytest.mark.parametrize("headers, status", [
    ({}, 401), (token("viewer"), 403), (token("agent"), 403), (token(""), 403),
    (token("admin", tenant="kanazawa"), 403), (token("supervisor", tenant="kanazawa"), 403),
    (token("", tenant="*", kind="service"), 200), (token("platform-admin", tenant="*"), 200), (ADMIN, 200),
])
async def test_reports_are_for_supervisors_and_admins(client: httpx.AsyncClient, headers: dict[str, str],
                                                       status: int) -> None:
    for path in ("reports/calls", "reports/calls.csv", "reports/calls.xlsx", "planning/erlang-c"):
        params = {"calls": "10", "aht_seconds": "180"} if path.startswith("planning") else {"from": sd.DAY}
        response = await client.get(f"{BASE}/{path}", params=params, headers=headers)
        assert response.status_code == status, (path, response.text)


@pytest.mark.parametrize("params, error_id, field", [
    ({}, "missing-parameter", "from"),
    ({"from": "2026-13-01"}, "invalid-from", "from"),
    ({"from": "7 Dec 2026"}, "invalid-from", "from"),
    ({"from": "2026-12-07", "to": "2026-12-01"}, "invalid-to", "to"),
    ({"from": "2020-01-01", "to": "2026-12-31"}, "invalid-to", "to"),
    ({"from": "2026-12-07", "by": "week; DROP TABLE hibiki.calls"}, "invalid-by", "by"),
    ({"from": "2026-12-07", "queue": "x' OR '1'='1"}, "invalid-queue", "queue"),
    ({"from": "2026-12-07", "agent": "a" * 200}, "invalid-agent", "agent"),
    ({"from": "2026-12-07", "disposition": "\x00"}, "invalid-disposition", "disposition"),
    ({"from": "2026-12-07", "encoding": "ebcdic"}, "invalid-encoding", "encoding"),
    ({"from": "2026-12-07", "tenant": "kanazawa"}, "unknown-parameter", "tenant"),
])
async def test_bad_input_is_a_400_naming_the_field(client: httpx.AsyncClient, params: dict[str, str],
                                                   error_id: str, field: str) -> None:
    path = "reports/calls.csv" if "encoding" in params else "reports/calls"
    response = await client.get(f"{BASE}/{path}", params=params, headers=SUPERVISOR)
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["error_id"], body["details"]["field"]) == (error_id, field)


async def test_sql_injection_through_every_free_text_filter(client: httpx.AsyncClient) -> None:
    """The attack: SQL in the one filter that takes free text (case types are Japanese text),
    and a hostile tenant id. Each is a bound value or refused; the table is whole afterwards."""
    attacks = ["'; DROP TABLE hibiki.calls; --", "住民票' OR 1=1 --", "\\' OR 1=1 --", "%(tenant)s", "{tenant:String}"]
    for attack in attacks:
        response = await client.get(f"{BASE}/reports/calls", params={"from": sd.DAY, "disposition": attack},
                                    headers=ADMIN)
        assert response.status_code == 200, response.text
        assert response.json()["total"]["incoming"] == 0        # no case type has that name
    response = await client.get("/api/v1/tenants/x'%20OR%20'1'='1/reports/calls", params={"from": sd.DAY},
                                headers=token("", tenant="*", kind="service"))
    assert response.status_code == 400 and response.json()["details"]["field"] == "tenant"
    again = (await client.get(f"{BASE}/reports/calls", params={"from": sd.DAY}, headers=ADMIN)).json()
    assert again["total"] == sd.HAND


async def test_sla_targets_per_tenant(client: httpx.AsyncClient, world: Any) -> None:
    url = "/api/v1/tenants/kita/reports/sla"
    kita_admin, kita_supervisor = token("admin", "kita"), token("supervisor", "kita")
    assert (await client.get(url, headers=kita_supervisor)).json()["answer_seconds"] == 15
    assert (await client.put(url, json={"att_max_seconds": 150}, headers=kita_supervisor)).status_code == 403
    bad = await client.put(url, json={"service_level": 1.5}, headers=kita_admin)
    assert bad.status_code == 400 and bad.json()["details"]["field"] == "service_level"
    bad = await client.put(url, json={"answer_secs": 20}, headers=kita_admin)
    assert bad.status_code == 400 and bad.json()["error_id"] == "unknown-field"
    bad = await client.put(url, content=b"[" * 100_000, headers=kita_admin)
    assert bad.status_code == 413 and bad.json()["error_id"] == "too-large"
    bad = await client.put(url, content=b"[" * 5_000, headers=kita_admin)          # nested past the parser
    assert bad.status_code == 400 and bad.json()["error_id"] == "invalid-json"
    ok = await client.put(url, json={"att_max_seconds": 150, "service_level": 0.9}, headers=kita_admin)
    assert ok.status_code == 200 and ok.json()["att_max_seconds"] == 150
    assert (await client.get(url, headers=kita_supervisor)).json()["service_level"] == 0.9
    assert world[1].sla("kita")["att_max_seconds"] == 150
    # toshima with ATT allowed up to 130 s: the ATT breach of the scripted day goes away
    saved = world[1].sla(sd.TENANT)
    try:
        world[1].save_sla(sd.TENANT, {**saved, "att_max_seconds": 130})
        got = (await client.get(f"{BASE}/reports/calls", params={"from": sd.DAY}, headers=ADMIN)).json()
        assert got["total"]["breaches"] == ["service_level", "abandon_rate"]
    finally:
        world[1].save_sla(sd.TENANT, saved)


async def test_call_history_per_user(client: httpx.AsyncClient) -> None:
    url = f"{BASE}/calls/history"
    mine = (await client.get(url, params={"from": sd.DAY}, headers=token("", subject="2001"))).json()
    assert mine["user"] == "2001"
    assert [(c["call_id"], c["kind"], c["other_number"]) for c in mine["calls"]] == sd.HAND_HISTORY_2001
    missed = (await client.get(url, params={"from": sd.DAY, "kind": "missed"}, headers=token("", subject="2001")))
    assert [c["call_id"] for c in missed.json()["calls"]] == ["h3-miss"]
    caller = await client.get(url, params={"from": sd.DAY, "number": "0399998888"}, headers=SUPERVISOR)
    assert [(c["call_id"], c["other_number"]) for c in caller.json()["calls"]] == [("h3-miss", "0399998888")]
    assert (await client.get(url, params={"from": sd.DAY, "number": "0300000000"}, headers=SUPERVISOR)).json()["calls"] == []
    other = await client.get(url, params={"from": sd.DAY, "user": "2002"}, headers=token("", subject="2001"))
    assert other.status_code == 403
    stranger = await client.get(url, params={"from": sd.DAY}, headers=token("", tenant="kanazawa", subject="2001"))
    assert stranger.status_code == 403
    display = await client.get(url, params={"from": sd.DAY}, headers=token("wallboard", subject="2001"))
    assert display.status_code == 403                       # a wall display's token named like a user
    everyone = (await client.get(url, params={"from": sd.DAY}, headers=SUPERVISOR)).json()
    assert len(everyone["calls"]) == sd.HAND_HISTORY_ALL
    theirs = (await client.get(url, params={"from": sd.DAY, "user": "2002"}, headers=ADMIN)).json()
    assert [(c["call_id"], c["kind"]) for c in theirs["calls"]] == [("h2-int", "outgoing")]
    page = (await client.get(url, params={"from": sd.DAY, "limit": "1", "offset": "1"},
                             headers=token("", subject="2001"))).json()
    assert [c["call_id"] for c in page["calls"]] == ["h2-int"]
    for params, field in [({"kind": "all"}, "kind"), ({"limit": "0"}, "limit"), ({"user": "a b"}, "user"),
                          ({"number": "03' OR 1=1"}, "number"), ({"number": "１２３"}, "number"),
                          ({"from": "yesterday"}, "from")]:
        bad = await client.get(url, params=params, headers=ADMIN)
        assert bad.status_code == 400 and bad.json()["details"]["field"] == field
    exported = await client.get(f"{url}.csv", params={"from": sd.DAY}, headers=token("", subject="2001"))
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["通話ID", "種別"]
    assert [(r[0], r[1]) for r in rows[1:]] == [("h3-miss", "不在着信"), ("h2-int", "着信"), ("h1-out", "発信")]


async def test_self_service_history_is_the_linked_users_only(client: httpx.AsyncClient) -> None:
    """Issue 14: a console user's token carries the directory user it is linked to (``duser``); its
    subject is the console login, not the user id calls record."""
    url = f"{BASE}/calls/history"

    def linked(user: str) -> dict[str, str]:
        claims = Claims("tanaka", "user", sd.TENANT, ("self-service",), directory_user=user)
        return {"Authorization": f"Bearer {AUTHORITY.issue(claims)}"}

    mine = await client.get(url, params={"from": sd.DAY}, headers=linked("2001"))
    assert mine.status_code == 200 and mine.json()["user"] == "2001"
    assert [(c["call_id"], c["kind"], c["other_number"]) for c in mine.json()["calls"]] == sd.HAND_HISTORY_2001
    named = await client.get(url, params={"from": sd.DAY, "user": "2001"}, headers=linked("2001"))
    assert [c["call_id"] for c in named.json()["calls"]] == [c["call_id"] for c in mine.json()["calls"]]
    other = await client.get(url, params={"from": sd.DAY, "user": "2002"}, headers=linked("2001"))
    assert other.status_code == 403 and other.json()["error_id"] == "forbidden"
    as_login = await client.get(url, params={"from": sd.DAY, "user": "tanaka"}, headers=linked("2001"))
    assert as_login.status_code == 403
    unlinked = Claims("2001", "user", sd.TENANT, ("self-service",))    # named like the user, not linked
    refused = await client.get(url, params={"from": sd.DAY},
                               headers={"Authorization": f"Bearer {AUTHORITY.issue(unlinked)}"})
    assert refused.status_code == 403
    report = await client.get(f"{BASE}/reports/calls", params={"from": sd.DAY}, headers=linked("2001"))
    assert report.status_code == 403


async def test_daily_report_is_generated_and_kept(client: httpx.AsyncClient, world: Any) -> None:
    got = (await client.get(f"{BASE}/reports/daily", params={"date": sd.DAY}, headers=SUPERVISOR)).json()
    assert (got["incoming"], got["answered"], got["abandoned"], got["email"], got["fax"], got["inquiries"]) \
        == (7, 4, 2, 0, 0, 4)
    assert got["peak_agents"] == sd.HAND_PEAK[0]
    assert datetime.fromisoformat(got["peak_at"]) == sd.at(sd.HAND_PEAK[1])
    assert got["final"] is True and got["sla"]["breaches"] == sd.HAND["breaches"]
    assert got["by_did"] == [{"key": sd.DID, "incoming": 7, "answered": 4, "abandoned": 2}]
    assert {d["key"]: d["answered"] for d in got["by_disposition"]} == {"": 1, "escalated": 1, "住民票": 1, "税": 1}
    kept = world[1].daily(sd.TENANT, datetime(2026, 12, 7).date())
    assert kept == got
    assert (await client.get(f"{BASE}/reports/daily/days", headers=SUPERVISOR)).json()["days"] == [sd.DAY]
    today = (await client.get(f"{BASE}/reports/daily", headers=SUPERVISOR)).json()
    assert today["date"] == "2026-12-08" and today["final"] is False and today["incoming"] == 0
    assert world[1].daily(sd.TENANT, datetime(2026, 12, 8).date()) is None        # not kept before the day ends
    future = await client.get(f"{BASE}/reports/daily", params={"date": "2026-12-09"}, headers=SUPERVISOR)
    assert future.status_code == 400 and future.json()["details"]["field"] == "date"
    print("daily report:", {k: got[k] for k in ("incoming", "answered", "inquiries", "peak_agents", "peak_at")})


async def test_erlang_c_what_if(client: httpx.AsyncClient) -> None:
    url = f"{BASE}/planning/erlang-c"
    got = (await client.get(url, params={"calls": "100", "aht_seconds": "180", "target_seconds": "20",
                                         "service_level": "0.8", "shrinkage": "0.3", "agents": "11"},
                            headers=SUPERVISOR)).json()
    assert (got["needed"]["agents"], got["needed"]["scheduled"]) == (14, 20)
    assert round(got["asked"]["probability_wait"], 3) == 0.682
    assert [r["agents"] for r in got["table"]][:5] == [11, 12, 13, 14, 15]
    more = (await client.get(url, params={"calls": "120", "aht_seconds": "180", "target_seconds": "20",
                                          "service_level": "0.8"}, headers=SUPERVISOR)).json()
    assert more["needed"]["agents"] > 14                                  # more volume, more agents
    for params, field in [({"aht_seconds": "180"}, "calls"), ({"calls": "x", "aht_seconds": "1"}, "calls"),
                          ({"calls": "10", "aht_seconds": "0"}, "aht_seconds"),
                          ({"calls": "10", "aht_seconds": "180", "shrinkage": "1"}, "shrinkage"),
                          ({"calls": "10", "aht_seconds": "180", "service_level": "nan"}, "service_level"),
                          ({"calls": "1e12", "aht_seconds": "180"}, "calls")]:
        bad = await client.get(url, params=params, headers=SUPERVISOR)
        assert bad.status_code == 400 and bad.json()["details"]["field"] == field, (params, bad.text)


async def test_forecast_and_staffing_plan(client: httpx.AsyncClient) -> None:
    got = (await client.get(f"{BASE}/planning/forecast", params={"date": "2026-12-14", "weeks": "1"},
                            headers=SUPERVISOR)).json()
    assert got["day_type"] == "mon" and got["based_on"] == [sd.DAY]
    by_slot = {r["start"]: r["calls"] for r in got["plan"] if r["calls"]}
    assert by_slot == {"09:00": 2, "09:30": 1, "10:00": 1, "10:30": 1, "11:00": 1}   # offered calls of the 7th
    assert got["aht_seconds"] == sd.HAND["aht_seconds"]
    assert got["peak_scheduled"] >= 1 and got["total_calls"] == 6
    holiday = (await client.get(f"{BASE}/planning/forecast", params={"date": "2027-01-11", "weeks": "4",
                                                                     "aht_seconds": "200"}, headers=SUPERVISOR)).json()
    assert holiday["day_type"] == "holiday" and holiday["aht_seconds"] == 200


async def test_pages_are_served_without_a_token(client: httpx.AsyncClient) -> None:
    for path in ("/reports", "/planning"):
        page = await client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<html lang="ja">' in page.text and "コールセンター実績レポート" in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    doc = (await client.get("/api/v1/openapi.json", headers=SUPERVISOR)).json()
    for path in ("/api/v1/tenants/{tenant}/reports/calls", "/api/v1/tenants/{tenant}/reports/calls.xlsx",
                 "/api/v1/tenants/{tenant}/calls/history", "/api/v1/tenants/{tenant}/planning/erlang-c"):
        assert path in doc["paths"]
    assert not any("x-hibiki-undocumented" in op for ops in doc["paths"].values() for op in ops.values())


def test_daily_job_runs_at_the_set_time_and_keeps_every_tenants_report(world: Any) -> None:
    from datetime import time as clock

    from hibiki.analytics.config import AnalyticsConfig, parse_time_of_day
    from hibiki.analytics.daily_job import DailyReports
    from hibiki.common.errors import ConfigError

    store, _, root = world
    files = ReportStore(store)
    job = DailyReports(store, files, clock(23, 50))
    assert job.next_run(datetime(2026, 12, 7, 14, 49, tzinfo=UTC)) == datetime(2026, 12, 7, 14, 50, tzinfo=UTC)
    assert job.next_run(datetime(2026, 12, 7, 14, 50, tzinfo=UTC)) == datetime(2026, 12, 8, 14, 50, tzinfo=UTC)
    assert sd.TENANT in job.run_once(datetime(2026, 12, 7).date())
    kept = files.daily(sd.TENANT, datetime(2026, 12, 7).date())
    assert kept is not None and kept["incoming"] == 7 and kept["peak_agents"] == sd.HAND_PEAK[0]
    assert files.daily_days(sd.TENANT) == [sd.DAY]
    assert AnalyticsConfig.from_env({"HIBIKI_ANALYTICS_DAILY_REPORT_AT": "18:30"}).daily_report_at == clock(18, 30)
    for bad in ("24:00", "9", "09:5", "x"):
        with pytest.raises(ConfigError):
            parse_time_of_day(bad)


async def test_a_formula_from_a_phone_or_a_case_type_stays_text_in_the_exports(client: httpx.AsyncClient,
                                                                              world: Any) -> None:
    """The attack: a caller name and a case type that a spreadsheet would run as a formula."""
    store = world[0]
    evil = sd.Call("evil-1", "10:00", "answered", ["main:1"], ["general"], "a1", wait=3, talk=30,
                   disposition="=HYPERLINK(\"http://x\",\"y\")").row()
    evil["tenant"] = "kita"                                   # a tenant of its own: the scripted day stays
    store.insert("calls", sd.CALL_COLUMNS, [tuple(evil[c] for c in sd.CALL_COLUMNS)])
    leg = sd.leg("evil-2", "evil-2", "b", "2009", "10:00", False, caller="+cmd|' /C calc'!A0", callee="2009")
    leg["tenant"] = "kita"
    store.insert("legs", tuple(leg), [tuple(leg.values())])
    params, base, admin = {"from": sd.DAY, "by": "disposition"}, "/api/v1/tenants/kita", token("admin", "kita")
    rows = list(csv.reader(io.StringIO((await client.get(f"{base}/reports/calls.csv", params=params,
                                                          headers=admin)).content.decode("utf-8-sig"))))
    assert rows[1][0] == "'=HYPERLINK(\"http://x\",\"y\")"
    book = openpyxl.load_workbook(io.BytesIO((await client.get(f"{base}/reports/calls.xlsx", params=params,
                                                                headers=admin)).content))
    cell = book.active.cell(row=2, column=1)
    assert cell.data_type == "s" and cell.value == "'=HYPERLINK(\"http://x\",\"y\")"
    history = await client.get(f"{base}/calls/history.csv", params={"from": sd.DAY},
                               headers=token("", "kita", subject="2009"))
    rows = list(csv.reader(io.StringIO(history.content.decode("utf-8-sig"))))
    assert rows[1][6] == "'+cmd|' /C calc'!A0"


async def test_the_call_count_is_for_supervisors_and_admins(world: Any) -> None:
    from hibiki.analytics.http import routes as cdr_routes

    store, _, _ = world
    app = build_app("analytics", AUTHORITY, cdr_routes(store))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://analytics") as c:
        url = f"{BASE}/cdr/count"
        counted = await c.get(url, headers=SUPERVISOR)
        assert counted.status_code == 200 and counted.json()["cdr_count"] > 0
        for role in ("wallboard", "agent", "viewer", ""):
            refused = await c.get(url, headers=token(role))
            assert refused.status_code == 403, role
        assert (await c.get(url, headers=token("admin", tenant="kanazawa"))).status_code == 403
