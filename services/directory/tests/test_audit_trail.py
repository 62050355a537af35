"""The audit trail (ADM-05) through the real directory: every change and every login is written
with who, what, before/after, when and from where; the hash chain catches an entry altered or
deleted directly in the database (the API and ``hibiki audit verify`` both); export as CSV/JSON."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.common.auth import Claims, TokenAuthority
from support.directory import Directory, directory_config, running_directory
from support.servers import NatsServer

PASSWORD = "kawa-no-nagare-2026"


@pytest.fixture
async def directory(tmp_path: Path, nats_server: NatsServer, nats_client: Any,
                    authority: TokenAuthority) -> AsyncIterator[Directory]:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority) as d:
        await d.post("/api/v1/tenants", {"id": "zama", "domain": "zama.example.jp"})
        yield d


def database(d: Directory) -> Path:
    return Path(d.config.database_url.removeprefix("sqlite:///"))


async def make_history(d: Directory) -> None:
    """A console user logs in (once wrong), creates, changes and deletes a user."""
    made = await d.api.post("/api/v1/tenants/zama/console_users", json={
        "login": "sato", "password": PASSWORD, "roles": ["tenant-admin"]})
    assert made.status_code == 201
    async with httpx.AsyncClient(base_url=d.url) as web:
        assert (await web.post("/api/v1/auth/login", json={"tenant": "zama", "login": "sato",
                                                           "password": "wrong one"})).status_code == 401
        csrf = (await web.post("/api/v1/auth/login", json={"tenant": "zama", "login": "sato",
                                                           "password": PASSWORD})).json()["csrf"]
        h = {"X-Hibiki-CSRF": csrf}
        user = (await web.post("/api/v1/tenants/zama/users", json={"username": "kato", "extension": "2001"},
                               headers=h)).json()
        await d.applied.next_msg(timeout=5)
        assert (await web.patch(f"/api/v1/tenants/zama/users/{user['id']}", json={"extension": "2002"},
                                headers=h)).status_code == 200
        await d.applied.next_msg(timeout=5)
        assert (await web.delete(f"/api/v1/tenants/zama/users/{user['id']}", headers=h)).status_code == 204
        await d.applied.next_msg(timeout=5)


async def test_every_change_and_login_is_in_the_trail_with_before_and_after(directory: Directory) -> None:
    await make_history(directory)
    items = (await directory.api.get("/api/v1/tenants/zama/audit")).json()["items"]
    actions = [(e["actor"], e["action"], e["outcome"]) for e in items]
    assert actions == [("setup", "console_user.create", "ok"), ("sato", "login", "refused"), ("sato", "login", "ok"),
                       ("sato", "users.create", "ok"), ("sato", "users.change", "ok"), ("sato", "users.delete", "ok")]
    change = items[4]
    assert json.loads(change["before"])["extension"] == "2001" and json.loads(change["after"])["extension"] == "2002"
    assert change["address"] == "127.0.0.1" and change["at"].endswith("+00:00")
    assert "tenant-admin" in json.loads(change["roles"])
    assert "password_hash" not in (items[0]["after"] or "") and PASSWORD not in json.dumps(items)
    assert [e["seq"] for e in items] == list(range(1, 7))
    assert all(e["prev_hash"] == p["hash"] for p, e in zip(items, items[1:], strict=False))
    verified = (await directory.api.get("/api/v1/tenants/zama/audit/verify")).json()
    assert verified == {"tenant": "zama", "entries": 6, "intact": True, "head": 6, "problems": []}
    platform = (await directory.api.get("/api/v1/tenants/*/audit")).json()["items"]
    assert [e["action"] for e in platform] == ["tenant.create"]
    exported = (await directory.api.get("/api/v1/tenants/zama/audit/csv"))
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["hash"] for r in rows] == [e["hash"] for e in items]


async def test_an_altered_or_deleted_row_is_detected(directory: Directory, authority: TokenAuthority) -> None:
    await make_history(directory)
    db = database(directory)
    caught: dict[str, list[dict[str, Any]]] = {}
    with sqlite3.connect(db) as conn:      # an insider with the database: change who deleted the user
        conn.execute("UPDATE audit_log SET actor = 'someone-else' WHERE tenant_id = 'zama' AND seq = 6")
    caught["altered"] = (await directory.api.get("/api/v1/tenants/zama/audit/verify")).json()["problems"]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit_log SET actor = 'sato' WHERE tenant_id = 'zama' AND seq = 6")
        conn.execute("DELETE FROM audit_log WHERE tenant_id = 'zama' AND seq = 2")    # the failed login
    caught["deleted"] = (await directory.api.get("/api/v1/tenants/zama/audit/verify")).json()["problems"]
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM audit_log WHERE tenant_id = 'zama' AND seq >= 2")   # the tail, chain still whole
    caught["truncated"] = (await directory.api.get("/api/v1/tenants/zama/audit/verify")).json()["problems"]
    print("\naudit verification: " + ", ".join(f"{k}: {v}" for k, v in caught.items()))
    assert caught["altered"] == [{"seq": 6, "problem": "altered"}]
    assert {"seq": 2, "problem": "missing"} in caught["deleted"]
    assert caught["truncated"] == [{"seq": 6, "problem": "truncated"}]
    # the command line says the same and exits 1
    env = {**os.environ, "HIBIKI_DIRECTORY_DATABASE_URL": directory.config.database_url}
    result = subprocess.run([sys.executable, "-m", "hibiki.stack.cli", "audit", "verify", "--tenant", "zama"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert json.loads(result.stdout)["intact"] is False


async def test_a_rebuilt_chain_without_the_key_is_caught(directory: Directory) -> None:
    """Recomputing the hashes with plain SHA-256 after an edit does not help: the chain is keyed."""
    from hibiki.common import audit as chain

    await make_history(directory)
    db = database(directory)
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM audit_log WHERE tenant_id='zama' ORDER BY seq")]
        prev = chain.GENESIS
        for row in rows:
            if row["seq"] == 3:
                row["address"] = "203.0.113.9"
            fields = {**row, "tenant": row["tenant_id"]}
            row["prev_hash"], row["hash"] = prev, chain.entry_hash(prev, fields)
            prev = row["hash"]
            conn.execute("UPDATE audit_log SET address=?, prev_hash=?, hash=? WHERE id=?",
                         (row["address"], row["prev_hash"], row["hash"], row["id"]))
        conn.execute("UPDATE audit_heads SET hash=? WHERE tenant_id='zama'", (prev,))
    problems = (await directory.api.get("/api/v1/tenants/zama/audit/verify")).json()["problems"]
    assert {"seq": 1, "problem": "altered"} in problems


async def test_who_may_read_the_trail(directory: Directory, authority: TokenAuthority) -> None:
    answers = {}
    async with httpx.AsyncClient(base_url=directory.url) as http:
        for role in ("auditor", "tenant-admin", "admin", "viewer", "supervisor", "agent", "recording-admin",
                     "delegated-admin"):
            token = authority.issue(Claims("x", "user", "zama", (role,)))
            answers[role] = (await http.get("/api/v1/tenants/zama/audit",
                                            headers={"Authorization": f"Bearer {token}"})).status_code
        other = authority.issue(Claims("x", "user", "other", ("auditor",)))
        answers["another tenant's auditor"] = (await http.get(
            "/api/v1/tenants/zama/audit", headers={"Authorization": f"Bearer {other}"})).status_code
    assert {r for r, s in answers.items() if s == 200} == {"auditor", "tenant-admin", "admin"}, answers
    assert all(s == 403 for r, s in answers.items() if r not in ("auditor", "tenant-admin", "admin"))


async def test_csv_imports_and_the_recording_policy_are_in_the_trail(directory: Directory,
                                                                     authority: TokenAuthority) -> None:
    reply = await directory.api.post("/api/v1/tenants/zama/users/import", content=b"username,extension\r\nsato,2001\r\n",
                                     headers={"Content-Type": "text/csv"})
    assert reply.status_code == 200, reply.text
    await directory.applied.next_msg(timeout=5)
    admin = authority.issue(Claims("rec-kanri", "user", "zama", ("recording-admin",)))
    changed = await directory.api.put("/api/v1/tenants/zama/recording_policy", json={"notice": "ivr/ivr-recording_notice.wav"},
                                      headers={"Authorization": f"Bearer {admin}"})
    assert changed.status_code == 200, changed.text
    items = (await directory.api.get("/api/v1/tenants/zama/audit")).json()["items"]
    assert [(e["actor"], e["action"]) for e in items] == [("setup", "users.import"),
                                                          ("rec-kanri", "recording_policy.change")]
    assert json.loads(items[0]["after"])["rows"] == 1
    assert json.loads(items[1]["before"]) != json.loads(items[1]["after"])


async def test_the_disaster_mode_switch_is_in_the_trail_with_before_and_after(directory: Directory) -> None:
    """PBX-15's one-click switch changes every schedule's routing: who pressed it, and when, must be on record."""
    made = await directory.api.post("/api/v1/tenants/zama/schedules", json={
        "name": "office", "definition": {"weekly": {"mon": [{"start": "08:30", "end": "17:15"}]}}})
    assert made.status_code == 201, made.text
    await directory.applied.next_msg(timeout=5)
    switched = await directory.api.put("/api/v1/tenants/zama/disaster_mode", json={"active": True, "reason": "flood"})
    assert switched.status_code == 200, switched.text
    entries = [e for e in (await directory.api.get("/api/v1/tenants/zama/audit")).json()["items"]
               if e["action"] == "disaster_mode.change"]
    assert len(entries) == 1
    before, after = json.loads(entries[0]["before"]), json.loads(entries[0]["after"])
    assert before["active"] is False and after["active"] is True
    assert (await directory.api.get("/api/v1/tenants/zama/audit/verify")).json()["intact"] is True


async def test_a_service_appends_what_it_did_for_a_person_and_nobody_else_may(directory: Directory,
                                                                               authority: TokenAuthority) -> None:
    """``POST /audit``: callcontrol records a supervisor's listen/whisper/barge; the entry is chained
    like every other. A person's token (even an administrator's or a platform operator's) is 403,
    hostile fields are 422 and write nothing."""
    entry = {"actor": "boss", "roles": ["supervisor"], "action": "supervision.start", "resource": "supervision",
             "resource_id": "0b0f9a4e-2f7e-4d5b-9a57-6f0c1d2e3f40",
             "after": {"mode": "listen", "device": "2103", "supervision_id": "x"}, "address": "192.0.2.7"}
    made = await directory.api.post("/api/v1/tenants/zama/audit", json=entry)
    assert made.status_code == 201, made.text
    assert made.json()["seq"] == 1 and len(made.json()["hash"]) == 64
    for claims in (Claims("sato", "user", "zama", ("tenant-admin",)), Claims("boss", "user", "zama", ("supervisor",)),
                   Claims("root", "user", "*", ("platform-operator",)), Claims("kansa", "user", "zama", ("auditor",))):
        refused = await directory.api.post("/api/v1/tenants/zama/audit", json=entry,
                                           headers={"Authorization": f"Bearer {authority.issue(claims)}"})
        assert refused.status_code == 403, (claims, refused.text)
    hostile = [{**entry, "actor": "boss\x00"}, {**entry, "action": "Supervision Start"}, {**entry, "after": {"m": ["x"]}},
               {**entry, "roles": ["a\nb"]}, {**entry, "resource_id": "x" * 300}, {**entry, "extra": 1},
               {**entry, "after": {"mode": "\x1b[31m"}}, {**entry, "actor": ""}]
    for body in hostile:
        reply = await directory.api.post("/api/v1/tenants/zama/audit", json=body)
        assert reply.status_code == 422 and reply.json()["details"]["field"], (body, reply.text)
    assert (await directory.api.post("/api/v1/tenants/zama/audit", content=b"{", headers={
        "Content-Type": "application/json"})).status_code == 422
    assert (await directory.api.post("/api/v1/tenants/za%20ma/audit", json=entry)).status_code == 404
    items = (await directory.api.get("/api/v1/tenants/zama/audit")).json()["items"]
    assert [(e["actor"], e["action"], e["resource_id"]) for e in items] == [
        ("boss", "supervision.start", entry["resource_id"])]
    assert json.loads(items[0]["after"]) == entry["after"] and json.loads(items[0]["roles"]) == ["supervisor"]
    assert items[0]["address"] == "192.0.2.7"
    assert (await directory.api.get("/api/v1/tenants/zama/audit/verify")).json()["intact"] is True
