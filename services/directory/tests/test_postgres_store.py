"""The configuration store on a real PostgreSQL (production's database): the schema its
migrations build, the admin API and CSV imports with the same answers as on SQLite, two
replicas sharing one database, and calls that go on while the database is down."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from fsemu.xml_curl import XmlCurlClient, find_user
from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.config import DirectoryConfig
from hibiki.directory.schedules import Schedule
from hibiki.directory.storage.database import MIGRATIONS, open_store
from hibiki.directory.storage.tables import metadata
from hibiki.events.v1 import config_pb2
from support.directory import FSAPI_PASSWORD, FSAPI_USER, directory_config, fsapi_url, running_directory, sip_auth
from support.postgres import PostgresServer

CSV = {"Content-Type": "text/csv"}
SCHEDULE = {
    "weekly": {d: [{"start": "08:30", "end": "12:00"}, {"start": "13:00", "end": "17:15"}]
               for d in ("mon", "tue", "wed", "thu", "fri")},
    "closed_on_public_holidays": True,
    "year_end": {"start": "12-29", "end": "01-03"},
    "special_days": [{"date": "2031-04-01", "hours": [{"start": "09:00", "end": "12:00"}], "reason": "年度初め 窓口延長"}],
    "override": {"mode": "disaster", "reason": "地震のため臨時休業"},
}


def store_config(tmp_path: Path, nats_server: Any, database_url: str) -> DirectoryConfig:
    config = directory_config(tmp_path, nats_server, {"HIBIKI_DIRECTORY_DATABASE_URL": database_url})
    assert config.database_url == database_url
    return config


@contextlib.asynccontextmanager
async def directory(config: DirectoryConfig, nats_client: Any,
                    authority: TokenAuthority) -> AsyncIterator[httpx.AsyncClient]:
    """The directory service running on *config*, and an admin API client for it (a platform admin's;
    the tests await config.applied themselves, from both replicas where there are two)."""
    async with running_directory(config, nats_client, authority,
                                 claims=Claims("root", "user", "*", ("platform-admin",))) as service:
        yield service.api


@pytest.fixture
async def api(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority,
              postgres_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with directory(store_config(tmp_path, nats_server, postgres_database_url), nats_client, authority) as client:
        yield client


async def created(reply: Any) -> dict[str, Any]:
    response = await reply
    assert response.status_code == 201, response.text
    return dict(response.json())


async def new_tenant(api: httpx.AsyncClient, prefix: str = "t", **extra: str) -> str:
    name = f"{prefix}{uuid.uuid4().hex[:6]}"
    await created(api.post("/api/v1/tenants", json={"id": name, "domain": f"{name}.example.jp", **extra}))
    return name


async def version(api: httpx.AsyncClient, tenant: str) -> int:
    return int((await api.get(f"/api/v1/tenants/{tenant}")).json()["version"])


def sql(url: str, statement: str, **params: Any) -> list[Any]:
    """Rows of *statement* read straight from PostgreSQL (not through the service)."""
    engine = open_store(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(statement), params))
    finally:
        engine.dispose()


async def next_applied(sub: Any, at_least: int, count: int) -> list[int]:
    """Wait for *count* config.applied confirmations whose version is >= *at_least*."""
    seen: list[int] = []
    while len(seen) < count:
        v = config_pb2.ConfigurationChanged.FromString((await sub.next_msg(timeout=10)).data).version
        if v >= at_least:
            seen.append(v)
    return seen


# --- (a) the schema ----------------------------------------------------------------------
def test_migrations_build_exactly_the_declared_schema_on_postgresql(postgres_database_url: str) -> None:
    engine = open_store(postgres_database_url)
    try:
        assert engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
            assert conn.execute(text("select version_num from alembic_version")).scalar_one() == head
            assert conn.execute(text("show server_encoding")).scalar_one() == "UTF8"
        columns = {c["name"]: c["type"] for c in inspect(engine).get_columns("schedules")}
        assert columns["definition"].__class__.__name__ == "JSON"            # a json column, not text
        assert columns["created_at"].timezone                                  # timestamptz
    finally:
        engine.dispose()
    assert diff == []
    open_store(postgres_database_url).dispose()   # a second start finds it at head and changes nothing


# --- (b) the admin API ---------------------------------------------------------------------
async def test_admin_flows_conflicts_and_json_columns_on_postgresql(
        api: httpx.AsyncClient, postgres_database_url: str) -> None:
    t = await new_tenant(api, "pg", name="長岡市役所", representative_number="0258123456")
    other = await new_tenant(api, "pq")
    base = f"/api/v1/tenants/{t}"
    sato = await created(api.post(f"{base}/users", json={
        "username": "sato", "display_name": "佐藤 太郎", "display_name_kana": "サトウ タロウ", "extension": "2001",
        "outbound_classes": ["domestic", "mobile", "international"], "voicemail_pin": "1234"}))
    suzuki = await created(api.post(f"{base}/users", json={
        "username": "suzuki", "display_name": "鈴木 花子（髙橋）①", "extension": "2002", "outbound_classes": []}))
    takahashi = await created(api.post(f"{base}/users", json={"username": "takahashi", "display_name": "髙橋 一郎"}))
    device = await created(api.post(f"{base}/devices", json={
        "user_id": sato["id"], "sip_username": "desk2001", "password": "correct horse battery", "label": "市民課 窓口"}))
    schedule = await created(api.post(f"{base}/schedules", json={"name": "平日", "definition": SCHEDULE}))
    did = await created(api.post(f"{base}/dids", json={
        "number": "0258-12-3456", "label": "代表", "schedule_id": schedule["id"], "target_kind": "user",
        "target": sato["id"], "closed_kind": "voicemail", "closed_target": suzuki["id"],
        "branches": {"override:disaster": {"kind": "announcement", "target": "hibiki/災害のお知らせ.wav"}}}))
    group = await created(api.post(f"{base}/ring_groups", json={
        "name": "窓口", "extension": "2100", "strategy": "sequential", "ring_seconds": 15,
        "members": [suzuki["id"], takahashi["id"], sato["id"]], "no_answer_kind": "voicemail",
        "no_answer_target": sato["id"]}))

    # JSON columns come back as written (normalized where the API says so), through the API and in the table
    got = lambda kind, item: api.get(f"{base}/{kind}/{item['id']}")  # noqa: E731
    assert (await got("users", sato)).json()["outbound_classes"] == ["domestic", "mobile", "international"]
    assert (await got("users", suzuki)).json()["outbound_classes"] == []
    assert (await got("users", suzuki)).json()["display_name"] == "鈴木 花子（髙橋）①"
    assert (await got("schedules", schedule)).json()["definition"] == Schedule.from_dict(SCHEDULE).to_dict() \
        == schedule["definition"]
    stored_did = (await got("dids", did)).json()
    assert stored_did["number"] == "0258123456"
    assert stored_did["branches"] == {"override:disaster": {"kind": "announcement", "target": "hibiki/災害のお知らせ.wav"}}
    assert (await got("ring_groups", group)).json()["members"] == [suzuki["id"], takahashi["id"], sato["id"]]
    [(reason, branch_target, first_member, classes)] = sql(postgres_database_url, """
        select s.definition->'special_days'->0->>'reason', d.branches->'override:disaster'->>'target',
               g.members->>0, u.outbound_classes::text
        from schedules s, dids d, ring_groups g, users u
        where s.id = :s and d.id = :d and g.id = :g and u.id = :u""",
        s=schedule["id"], d=did["id"], g=group["id"], u=sato["id"])
    assert (reason, branch_target, first_member) == ("年度初め 窓口延長", "hibiki/災害のお知らせ.wav", suzuki["id"])
    assert classes == '["domestic", "mobile", "international"]'
    assert sql(postgres_database_url, "select char_length(display_name) from users where id = :u",
               u=suzuki["id"]) == [(len("鈴木 花子（髙橋）①"),)]
    assert "a1_hash" not in device and "password" not in device

    # conflicts: the same error ids as on SQLite, and nothing of the refused change is stored
    for path, body, error_id in (
        (f"{base}/users", {"username": "sato"}, "username-taken"),
        (f"{base}/users", {"username": "ito", "extension": "2001"}, "extension-taken"),
        (f"{base}/users", {"username": "ito", "extension": "2100"}, "extension-taken"),       # a ring group's
        (f"{base}/ring_groups", {"name": "別", "extension": "2002", "members": [sato["id"]]}, "extension-taken"),
        (f"{base}/ring_groups", {"name": "窓口", "members": [sato["id"]]}, "name-taken"),
        (f"{base}/schedules", {"name": "平日", "definition": SCHEDULE}, "name-taken"),
        (f"{base}/devices", {"user_id": suzuki["id"], "sip_username": "desk2001", "password": "x" * 12},
         "sip-username-taken"),
        (f"{base}/dids", {"number": "０２５８（１２）３４５６", "target_kind": "user", "target": sato["id"]}, "number-taken"),
        (f"/api/v1/tenants/{other}/dids", {"number": "0258123456", "target_kind": "announcement", "target": "x.wav"},
         "number-taken"),                                                                        # platform-wide
        ("/api/v1/tenants", {"id": f"z{uuid.uuid4().hex[:6]}", "domain": f"{t.upper()}.EXAMPLE.JP"}, "domain-taken"),
        ("/api/v1/tenants", {"id": t, "domain": f"new-{t}.example.jp"}, "tenant-id-taken"),
    ):
        reply = await api.post(path, json=body)
        assert (reply.status_code, reply.json()["error_id"]) == (409, error_id), (path, body, reply.text)
    clash = await api.patch(f"{base}/users/{suzuki['id']}", json={"extension": "2001"})
    assert (clash.status_code, clash.json()["error_id"]) == (409, "extension-taken")
    assert (await got("users", suzuki)).json()["extension"] == "2002"
    assert len((await api.get(f"{base}/users")).json()["items"]) == 3
    # the same extension and username in another tenant are fine
    await created(api.post(f"/api/v1/tenants/{other}/users", json={"username": "sato", "extension": "2001"}))

    # what routes to a user keeps it (read from the JSON columns), a patch of a JSON column replaces it
    in_use = await api.delete(f"{base}/users/{takahashi['id']}")
    assert (in_use.status_code, in_use.json()["error_id"]) == (409, "user-in-use")
    patched = await api.patch(f"{base}/ring_groups/{group['id']}", json={"members": [sato["id"], suzuki["id"]]})
    assert patched.status_code == 200 and patched.json()["members"] == [sato["id"], suzuki["id"]]
    assert (await api.delete(f"{base}/users/{takahashi['id']}")).status_code == 204
    branches = {"override:disaster": {"kind": "ring_group", "target": group["id"]},
                "closed:year_end": {"kind": "announcement", "target": "hibiki/年末年始.wav"}}
    assert (await api.patch(f"{base}/dids/{did['id']}", json={"branches": branches})).json()["branches"] == branches
    assert (await api.delete(f"{base}/schedules/{schedule['id']}")).status_code == 204
    assert (await got("dids", did)).json()["schedule_id"] is None
    assert await version(api, t) == 12
    # paging is in creation order
    assert [u["username"] for u in (await api.get(f"{base}/users?limit=1&offset=1")).json()["items"]] == ["suzuki"]
    # deleting the tenant takes everything of it, and only of it
    assert (await api.delete(base)).status_code == 204
    assert sql(postgres_database_url, "select count(*) from users where tenant_id = :t", t=t) == [(0,)]
    assert sql(postgres_database_url, "select count(*) from users where tenant_id = :t", t=other) == [(1,)]


# --- (c) CSV imports ---------------------------------------------------------------------
def users_csv(rows: int, first: int = 0) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["username", "display_name", "display_name_kana", "extension", "email", "outbound_classes"])
    for n in range(first, first + rows):
        writer.writerow([f"u{n:03d}", f"職員 {n}号（市民課）", f"ｼｮｸｲﾝ {n}", f"{3000 + n}", f"u{n}@city.example.jp",
                         "domestic;mobile" if n % 2 else "none"])
    return out.getvalue().encode("cp932")


async def test_a_csv_import_of_50_users_is_one_transaction_on_postgresql(
        api: httpx.AsyncClient, postgres_database_url: str) -> None:
    t = await new_tenant(api, "csv")
    reply = await api.post(f"/api/v1/tenants/{t}/users/import", content=users_csv(50), headers=CSV)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"dry_run": False, "rows": 50, "applied": True, "errors": []}
    listed = (await api.get(f"/api/v1/tenants/{t}/users?limit=100")).json()["items"]
    assert [u["username"] for u in listed] == [f"u{n:03d}" for n in range(50)]      # the file's order
    assert listed[7]["display_name"] == "職員 7号（市民課）" and listed[7]["outbound_classes"] == ["domestic", "mobile"]
    assert await version(api, t) == 2                                                  # one version per file
    assert sql(postgres_database_url, "select count(*) from users where tenant_id = :t", t=t) == [(50,)]

    # a file whose 50th row takes an extension of the first stores none of its 50 rows
    failing = users_csv(50, first=100).replace("3149".encode(), "3100".encode())
    reply = await api.post(f"/api/v1/tenants/{t}/users/import", content=failing, headers=CSV)
    assert reply.status_code == 422, reply.text
    assert [(e["line"], e["error_id"]) for e in reply.json()["details"]["errors"]] == [(51, "extension-taken")]
    # ... and so does one that clashes with what is stored, and one with a bad row in the middle
    reply = await api.post(f"/api/v1/tenants/{t}/users/import", content=users_csv(50, first=25), headers=CSV)
    assert reply.status_code == 422 and len(reply.json()["details"]["errors"]) == 25
    middle = users_csv(50, first=200).replace("3225".encode(), "0225".encode())
    reply = await api.post(f"/api/v1/tenants/{t}/users/import", content=middle, headers=CSV)
    assert [(e["line"], e["error_id"]) for e in reply.json()["details"]["errors"]] == [(27, "invalid-extension")]
    assert await version(api, t) == 2
    assert sql(postgres_database_url, "select count(*) from users where tenant_id = :t", t=t) == [(50,)]


# --- (d) two replicas, one database ------------------------------------------------------
async def test_two_replicas_on_one_postgresql_see_each_others_changes(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority,
        postgres_database_url: str) -> None:
    first = store_config(tmp_path / "a", nats_server, postgres_database_url)
    second = store_config(tmp_path / "b", nats_server, postgres_database_url)
    t = f"r{uuid.uuid4().hex[:6]}"
    applied = await nats_client.subscribe(bus.subject(t, "config", "applied"))
    await nats_client.flush()  # the server knows the subscription before we act
    async with directory(first, nats_client, authority) as a, directory(second, nats_client, authority) as b:
        await created(a.post("/api/v1/tenants", json={"id": t, "domain": "127.0.0.1"}))
        assert await next_applied(applied, 1, 2) == [1, 1]                     # both replicas loaded it
        user = await created(b.post(f"/api/v1/tenants/{t}/users", json={
            "username": "kato", "display_name": "加藤 健", "extension": "1001"}))
        assert await next_applied(applied, 2, 2) == [2, 2]
        device = await created(b.post(f"/api/v1/tenants/{t}/devices", json={
            "user_id": user["id"], "sip_username": "desk1001", "password": "correct horse battery"}))
        assert await next_applied(applied, 3, 2) == [3, 3]
        a1 = hashlib.md5(b"desk1001:127.0.0.1:correct horse battery").hexdigest()
        for config in (first, second):                                           # a change made through b ...
            client = XmlCurlClient(fsapi_url(config))
            reply = await sip_auth(client, "desk1001", "127.0.0.1", "correct horse battery")
            entry = find_user(reply.xml, "desk1001", "127.0.0.1")
            assert entry is not None and entry.params["a1-hash"] == a1
            assert entry.variables["effective_caller_id_name"] == "加藤 健"
        assert (await a.get(f"/api/v1/tenants/{t}/users/{user['id']}")).json()["display_name"] == "加藤 健"
        reply = await a.patch(f"/api/v1/tenants/{t}/devices/{device['id']}", json={"enabled": False})
        assert reply.status_code == 200                                          # ... and one made through a
        assert await next_applied(applied, 4, 2) == [4, 4]
        for config in (first, second):
            client = XmlCurlClient(fsapi_url(config))
            assert (await sip_auth(client, "desk1001", "127.0.0.1", "correct horse battery")).not_found
        conflict = await a.post(f"/api/v1/tenants/{t}/users", json={"username": "kato"})
        assert conflict.status_code == 409 and conflict.json()["error_id"] == "username-taken"
    await applied.unsubscribe()


# --- (e) a database outage does not stop calls -------------------------------------------
async def test_calls_go_on_while_postgresql_is_down_and_the_admin_api_comes_back(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority,
        private_postgres: PostgresServer) -> None:
    pg = private_postgres
    config = store_config(tmp_path, nats_server, pg.url(pg.create_database()))
    t = f"o{uuid.uuid4().hex[:6]}"
    applied = await nats_client.subscribe(bus.subject(t, "config", "applied"))
    await nats_client.flush()  # the server knows the subscription before we act
    async with directory(config, nats_client, authority) as api:
        await created(api.post("/api/v1/tenants", json={"id": t, "domain": "127.0.0.1"}))
        user = await created(api.post(f"/api/v1/tenants/{t}/users", json={
            "username": "ono", "display_name": "小野 真", "extension": "1001"}))
        await created(api.post(f"/api/v1/tenants/{t}/devices", json={
            "user_id": user["id"], "sip_username": "desk1001", "password": "correct horse battery"}))
        assert await next_applied(applied, 3, 1) == [3]
        fsapi = XmlCurlClient(fsapi_url(config))
        a1 = hashlib.md5(b"desk1001:127.0.0.1:correct horse battery").hexdigest()

        pg.stop()
        assert not pg.running
        # FreeSWITCH still authenticates the phone and rings the user, from memory
        reply = await sip_auth(fsapi, "desk1001", "127.0.0.1", "correct horse battery")
        entry = find_user(reply.xml, "desk1001", "127.0.0.1")
        assert entry is not None and entry.params["a1-hash"] == a1
        ringing = await fsapi.directory(user="1001", domain="127.0.0.1", action="user_call")
        assert find_user(ringing.xml, "1001", "127.0.0.1") is not None
        # the admin API says clearly that the store is unavailable: a 503, not a 500 traceback
        for method, path, body, headers in (
            ("GET", f"/api/v1/tenants/{t}", None, {}),
            ("GET", f"/api/v1/tenants/{t}/users", None, {}),
            ("POST", f"/api/v1/tenants/{t}/users", b'{"username": "ito"}', {"Content-Type": "application/json"}),
            ("POST", f"/api/v1/tenants/{t}/users/import", "username\r\nito\r\n".encode(), CSV),
            ("GET", f"/api/v1/tenants/{t}/users.csv", None, {}),
        ):
            reply = await api.request(method, path, content=body, headers=headers)
            assert reply.status_code == 503, (method, path, reply.status_code, reply.text)
            assert reply.json()["error_id"] == "store-unavailable", (method, path, reply.text)
        # ... and FreeSWITCH is still answered after those failures
        assert not (await sip_auth(fsapi, "desk1001", "127.0.0.1", "correct horse battery")).not_found

        pg.start()
        # the same service, not restarted: the pool's pre-ping replaces the dead connections
        assert (await api.get(f"/api/v1/tenants/{t}")).json()["version"] == 3
        other = await created(api.post(f"/api/v1/tenants/{t}/users", json={"username": "ito", "extension": "1002"}))
        await created(api.post(f"/api/v1/tenants/{t}/devices", json={
            "user_id": other["id"], "sip_username": "desk1002", "password": "another long secret"}))
        assert await next_applied(applied, 5, 1) == [5]
        assert not (await sip_auth(fsapi, "desk1002", "127.0.0.1", "another long secret")).not_found
    await applied.unsubscribe()


# --- carrier gateways ----------------------------------------------------------------------
async def test_gateways_round_trip_on_postgresql(
        api: httpx.AsyncClient, nats_client: Any, postgres_database_url: str) -> None:
    t, other = await new_tenant(api, "gw"), await new_tenant(api, "gx")
    applied = await nats_client.subscribe(bus.subject(t, "config", "applied"))
    await nats_client.flush()  # the server knows the subscription before we act
    name = f"ntt-{t}"
    gateway = await created(api.post(f"/api/v1/tenants/{t}/gateways", json={
        "name": name, "proxy": "sip.carrier.example.jp", "port": 5070, "username": "0258123456",
        "password": "pw & <secret>", "ping_seconds": 30}))
    assert "password" not in gateway and gateway["password_set"] is True and gateway["register"] is True
    assert sql(postgres_database_url, "select password, register, port from gateways where id = :g",
               g=gateway["id"]) == [("pw & <secret>", True, 5070)]
    taken = await api.post(f"/api/v1/tenants/{other}/gateways", json={"name": name, "proxy": "x.example", "register": False})
    assert (taken.status_code, taken.json()["error_id"]) == (409, "name-taken")
    disabled = await created(api.post(f"/api/v1/tenants/{t}/gateways", json={
        "name": f"off-{t}", "proxy": "192.0.2.1", "register": False, "enabled": False}))
    patched = await api.patch(f"/api/v1/tenants/{t}/gateways/{gateway['id']}", json={"port": None, "transport": "tcp"})
    assert patched.status_code == 200 and (patched.json()["port"], patched.json()["transport"]) == (None, "tcp")
    assert await next_applied(applied, await version(api, t), 1)
    # the view compiled from PostgreSQL (booleans and all) answers mod_sofia
    fs = XmlCurlClient(str(api.base_url.join("/fsapi")), basic_auth=(FSAPI_USER, FSAPI_PASSWORD))
    body = fs.directory_body(user="", domain=f"{t}.example.jp", purpose="gateways", profile="internal",
                             tag_name="domain", key_name="name")
    reply = await fs.post(body)
    assert reply.xml is not None, reply.body
    names = [g.get("name") for g in reply.xml.iter("gateway")]
    assert names == [name] and disabled["name"] not in names
    params = {p.get("name"): p.get("value") for p in reply.xml.iter("param")}
    assert (params["proxy"], params["password"], params["register-transport"]) == (
        "sip.carrier.example.jp", "pw & <secret>", "tcp")
    assert (await api.delete(f"/api/v1/tenants/{t}")).status_code == 204
    assert sql(postgres_database_url, "select count(*) from gateways where tenant_id = :t", t=t) == [(0,)]
    await applied.unsubscribe()


# --- what PostgreSQL refuses and SQLite stores -------------------------------------------
async def test_the_nul_character_is_refused_before_it_reaches_postgresql(api: httpx.AsyncClient) -> None:
    t = await new_tenant(api, "nul")
    reply = await api.post(f"/api/v1/tenants/{t}/users", json={"username": "u1", "display_name": "a\u0000b"})
    assert reply.status_code == 422, reply.text
    assert reply.json()["error_id"] == "invalid-display_name"
    reply = await api.post(f"/api/v1/tenants/{t}/users/import", content=b"username,display_name\r\nu2,a\x00b\r\n",
                           headers=CSV)
    assert reply.status_code in (400, 422), reply.text
    assert reply.json()["error_id"].startswith("invalid")
    reply = await api.get("/api/v1/tenants/a%00b")
    assert reply.status_code == 404, reply.text
    assert reply.json()["error_id"] == "tenant-not-found"
    assert (await api.get(f"/api/v1/tenants/{t}/users/a%00b")).status_code == 404
