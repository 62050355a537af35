"""CSV import and export through the running directory (ADM-03): Excel's encodings, every bad
row reported with its line, all rows or none, dry runs, one version and one config.changed per file."""

from __future__ import annotations

import codecs
import csv
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.events.v1 import config_pb2
from support.directory import directory_config, running_directory

ALWAYS_OPEN = {"weekly": {d: [{"start": "00:00", "end": "24:00"}] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
               "closed_on_public_holidays": False, "year_end": None}
CSV = {"Content-Type": "text/csv"}


@pytest.fixture
async def api(tmp_path: Path, nats_server: Any, nats_client: Any,
              authority: TokenAuthority) -> AsyncIterator[httpx.AsyncClient]:
    """The admin API as a platform admin (the CSV routes' own answers are asserted, not awaited)."""
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority,
                                 claims=Claims("root", "user", "*", ("platform-admin",))) as directory:
        yield directory.api


async def tenant(api: httpx.AsyncClient, prefix: str = "t") -> str:
    name = f"{prefix}{uuid.uuid4().hex[:6]}"
    assert (await api.post("/api/v1/tenants", json={"id": name, "domain": f"{name}.example.jp"})).status_code == 201
    return name


async def version(api: httpx.AsyncClient, t: str) -> int:
    return int((await api.get(f"/api/v1/tenants/{t}")).json()["version"])


async def usernames(api: httpx.AsyncClient, t: str) -> list[str]:
    return [u["username"] for u in (await api.get(f"/api/v1/tenants/{t}/users")).json()["items"]]


def excel(rows: list[list[str]], encoding: str = "cp932") -> bytes:
    """A file as Excel saves "CSV": CRLF line ends, Shift_JIS (cp932) or UTF-8 with BOM."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def table(body: bytes, encoding: str = "utf-8-sig") -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode(encoding), newline="")))


async def test_export_of_a_japanese_tenant_opens_as_utf8_with_bom(api: httpx.AsyncClient, authority: TokenAuthority) -> None:
    t = await tenant(api)
    user = (await api.post(f"/api/v1/tenants/{t}/users", json={
        "username": "sato", "display_name": "佐藤 太郎", "display_name_kana": "サトウ タロウ", "extension": "2001",
        "voicemail_pin": "4711", "outbound_classes": []})).json()
    assert (await api.post(f"/api/v1/tenants/{t}/devices", json={
        "user_id": user["id"], "sip_username": "d2001", "password": "twelve chars!", "label": "窓口"})).status_code == 201
    schedule = (await api.post(f"/api/v1/tenants/{t}/schedules", json={"name": "平日", "definition": ALWAYS_OPEN})).json()
    assert (await api.post(f"/api/v1/tenants/{t}/dids", json={
        "number": "0263-52-1111", "label": "代表", "schedule_id": schedule["id"], "target_kind": "user",
        "target": user["id"], "closed_kind": "voicemail", "closed_target": user["id"]})).status_code == 201
    viewer = {"Authorization": "Bearer " + authority.issue(Claims("val", "user", t, ("viewer",)))}

    reply = await api.get(f"/api/v1/tenants/{t}/users.csv", headers=viewer)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "text/csv; charset=utf-8"
    assert reply.headers["content-disposition"] == f'attachment; filename="{t}-users.csv"'
    assert reply.content.startswith(codecs.BOM_UTF8)
    header, row = table(reply.content)
    assert dict(zip(header, row)) == {
        "username": "sato", "display_name": "佐藤 太郎", "display_name_kana": "サトウ タロウ", "email": "",
        "extension": "2001", "direct_number": "", "caller_id_policy": "representative", "voicemail_enabled": "true",
        "outbound_classes": "none", "forward_always": "", "forward_busy": "", "forward_no_answer": "",
        "forward_no_answer_seconds": "20", "forward_unregistered": "", "pickup_group": "", "park_group": "",
        "service_class": ""}
    devices = (await api.get(f"/api/v1/tenants/{t}/devices.csv", headers=viewer)).content
    assert table(devices) == [["user", "kind", "sip_username", "label", "enabled", "phone", "line_key"],
                              ["sato", "desk_phone", "d2001", "窓口", "true", "", ""]]
    dids = table((await api.get(f"/api/v1/tenants/{t}/dids.csv", headers=viewer)).content)
    assert dict(zip(*dids)) == {"number": "0263521111", "label": "代表", "schedule": "平日", "target_kind": "user",
                                "target": "sato", "closed_kind": "voicemail", "closed_target": "sato"}
    sjis = await api.get(f"/api/v1/tenants/{t}/users.csv?encoding=shift_jis", headers=viewer)
    assert sjis.headers["content-type"] == "text/csv; charset=shift_jis" and not sjis.content.startswith(codecs.BOM_UTF8)
    assert table(sjis.content, "cp932")[1][1] == "佐藤 太郎"
    for body in (reply.content, devices, sjis.content):   # secrets never leave
        assert b"4711" not in body and b"password" not in body and b"a1_hash" not in body
    bad = await api.get(f"/api/v1/tenants/{t}/users.csv?encoding=latin-1", headers=viewer)
    assert bad.status_code == 400 and bad.json()["error_id"] == "invalid-encoding"
    refused = await api.post(f"/api/v1/tenants/{t}/users/import", content=excel([["username"], ["x1"]]),
                             headers={**viewer, **CSV})
    assert refused.status_code == 403 and refused.json()["error_id"] == "forbidden"
    other = await tenant(api, "o")
    admin_other = {"Authorization": "Bearer " + authority.issue(Claims("al", "user", other, ("admin",)))}
    assert (await api.get(f"/api/v1/tenants/{t}/users.csv", headers=admin_other)).status_code == 403


async def test_an_excel_shift_jis_file_creates_users_with_one_version_and_one_announcement(
        api: httpx.AsyncClient, nats_client: Any) -> None:
    t = f"x{uuid.uuid4().hex[:6]}"
    applied = await nats_client.subscribe(f"hibiki.{t}.config.applied")
    await nats_client.flush()  # the server knows the subscription before we act
    assert (await api.post("/api/v1/tenants", json={"id": t, "domain": f"{t}.example.jp"})).status_code == 201
    assert config_pb2.ConfigurationChanged.FromString((await applied.next_msg(timeout=5)).data).version == 1
    body = excel([
        ["username", "display_name", "display_name_kana", "extension", "voicemail_enabled", "outbound_classes", "voicemail_pin"],
        ["sato", "佐藤 太郎", "ｻﾄｳ ﾀﾛｳ", "2001", "yes", "domestic;mobile", "1234"],
        ["suzuki", '鈴木 "花子", 市民課\r\n窓口担当', "スズキ ハナコ", "2002", "0", "", ""],
        ["takahashi", "髙橋 一郎", "", "2003", "", "none", ""],
    ])
    reply = await api.post(f"/api/v1/tenants/{t}/users/import", content=body, headers=CSV)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"dry_run": False, "rows": 3, "applied": True, "errors": []}
    users = {u["username"]: u for u in (await api.get(f"/api/v1/tenants/{t}/users")).json()["items"]}
    assert users["suzuki"]["display_name"] == '鈴木 "花子", 市民課\r\n窓口担当' and users["suzuki"]["voicemail_enabled"] is False
    assert users["sato"]["display_name_kana"] == "ｻﾄｳ ﾀﾛｳ" and users["takahashi"]["outbound_classes"] == []
    assert await version(api, t) == 2
    assert config_pb2.ConfigurationChanged.FromString((await applied.next_msg(timeout=5)).data).version == 2
    devices = excel([["user", "sip_username", "password", "kind", "label"],
                     ["sato", "d2001", "twelve chars!", "softphone", "窓口①"],
                     ["suzuki", "d2002", "twelve chars!", "", ""]])
    assert (await api.post(f"/api/v1/tenants/{t}/devices/import", content=devices, headers=CSV)).json()["applied"]
    assert config_pb2.ConfigurationChanged.FromString((await applied.next_msg(timeout=5)).data).version == 3
    with pytest.raises(TimeoutError):   # one announcement per file, not per row
        await applied.next_msg(timeout=1)
    await applied.unsubscribe()
    stored = (await api.get(f"/api/v1/tenants/{t}/devices")).json()["items"]
    assert {(d["sip_username"], d["user_id"], d["label"]) for d in stored} == {
        ("d2001", users["sato"]["id"], "窓口①"), ("d2002", users["suzuki"]["id"], "")}


async def test_three_bad_rows_among_ten_are_reported_and_nothing_is_stored(api: httpx.AsyncClient) -> None:
    t = await tenant(api)
    rows = [["username", "display_name", "extension", "caller_id_policy"]]
    rows += [[f"u{n}", f"職員{n}\n(複数行)" if n % 2 else f"職員{n}", f"30{n:02d}", ""] for n in range(10)]
    rows[3][2] = "0123"            # u2: an extension may not start with 0
    rows[6][3] = "boss"            # u5: not a policy
    rows[9][0] = "u1"              # u8: the username of line 3 again (a repository rule, inside the file)
    reply = await api.post(f"/api/v1/tenants/{t}/users/import", content=excel(rows, "utf-8-sig"), headers=CSV)
    assert reply.status_code == 422, reply.text
    assert reply.json()["error_id"] == "invalid-rows"
    errors = reply.json()["details"]["errors"]
    # lines: header 1, u0 2, u1 3-4, u2 5, u3 6-7, u4 8, u5 9-10, u6 11, u7 12-13, u8 14, u9 15-16
    assert [(e["line"], e["field"], e["error_id"]) for e in errors] == [
        (5, "extension", "invalid-extension"), (9, "caller_id_policy", "invalid-caller_id_policy"),
        (14, "username", "username-taken")]
    assert "line 3" in errors[2]["message"]
    assert reply.json()["details"]["rows"] == 10 and reply.json()["details"]["applied"] is False
    assert await usernames(api, t) == [] and await version(api, t) == 1


async def test_a_dry_run_checks_everything_and_stores_nothing(api: httpx.AsyncClient) -> None:
    t = await tenant(api)
    body = excel([["username", "extension"], ["ito", "4001"], ["kato", "4002"]])
    reply = await api.post(f"/api/v1/tenants/{t}/users/import?dry_run=true", content=body, headers=CSV)
    assert reply.json() == {"dry_run": True, "rows": 2, "applied": False, "errors": []}
    assert await usernames(api, t) == [] and await version(api, t) == 1
    assert (await api.post(f"/api/v1/tenants/{t}/users", json={"username": "kato"})).status_code == 201
    reply = await api.post(f"/api/v1/tenants/{t}/users/import?dry_run=true", content=body, headers=CSV)
    assert reply.status_code == 422 and reply.json()["details"]["dry_run"] is True
    assert [(e["line"], e["error_id"]) for e in reply.json()["details"]["errors"]] == [(3, "username-taken")]
    assert await usernames(api, t) == ["kato"] and await version(api, t) == 2


async def test_a_second_import_of_the_same_file_conflicts_on_every_row(api: httpx.AsyncClient) -> None:
    t = await tenant(api)
    users = excel([["username", "extension"], ["ito", "5001"], ["kato", "5002"], ["abe", ""]])
    assert (await api.post(f"/api/v1/tenants/{t}/users/import", content=users, headers=CSV)).json()["applied"]
    again = await api.post(f"/api/v1/tenants/{t}/users/import", content=users, headers=CSV)
    assert again.status_code == 422
    assert [(e["line"], e["error_id"]) for e in again.json()["details"]["errors"]] == [
        (2, "username-taken"), (3, "username-taken"), (4, "username-taken")]
    assert await version(api, t) == 2
    dids = excel([["number", "target_kind", "target", "closed_kind", "closed_target", "schedule"],
                  ["０２６３－５２－３３３３", "user", "ito", "announcement", "hibiki/closed.wav", ""],
                  ["0120-444-555", "voicemail", "kato", "", "", ""]])
    assert (await api.post(f"/api/v1/tenants/{t}/dids/import", content=dids, headers=CSV)).json()["applied"]
    again = await api.post(f"/api/v1/tenants/{t}/dids/import", content=dids, headers=CSV)
    assert [(e["line"], e["field"], e["error_id"]) for e in again.json()["details"]["errors"]] == [
        (2, "number", "number-taken"), (3, "number", "number-taken")]
    unknown = excel([["number", "target_kind", "target", "schedule"], ["0263-52-4444", "user", "nobody", "休日"],
                     ["0263-52-5555", "ring_group", "窓口", ""]])
    reply = await api.post(f"/api/v1/tenants/{t}/dids/import", content=unknown, headers=CSV)
    assert [(e["line"], e["field"]) for e in reply.json()["details"]["errors"]] == [
        (2, "schedule"), (2, "target"), (3, "target")]
    ids = [u["id"] for u in (await api.get(f"/api/v1/tenants/{t}/users")).json()["items"]]
    group = await api.post(f"/api/v1/tenants/{t}/ring_groups", json={"name": "窓口", "members": ids[:2]})
    assert group.status_code == 201, group.text
    grouped = excel([["number", "target_kind", "target"], ["0263-52-5555", "ring_group", "窓口"]])
    assert (await api.post(f"/api/v1/tenants/{t}/dids/import", content=grouped, headers=CSV)).json()["applied"]
    exported = table((await api.get(f"/api/v1/tenants/{t}/dids.csv")).content)
    assert [(r[0], r[3], r[4]) for r in exported[1:]] == [
        ("0263523333", "user", "ito"), ("0120444555", "voicemail", "kato"), ("0263525555", "ring_group", "窓口")]


async def test_export_then_import_into_an_empty_tenant_recreates_the_users(api: httpx.AsyncClient) -> None:
    source, target = await tenant(api, "s"), await tenant(api, "e")
    for n, name in enumerate(["渡邊 齋", 'O\'Brien, "Pat"', "山田\n花子", "ｶﾀｶﾅ ①"]):
        assert (await api.post(f"/api/v1/tenants/{source}/users", json={
            "username": f"u{n}", "display_name": name, "extension": f"60{n:02d}", "email": f"u{n}@city.example.jp",
            "outbound_classes": ["domestic", "international"][: n % 3], "voicemail_enabled": n % 2 == 0,
            "forward_no_answer": "0312345678" if n else "", "forward_no_answer_seconds": 10 + n})).status_code == 201
    for encoding in ("utf-8", "shift_jis"):
        target = await tenant(api, "e")
        exported = (await api.get(f"/api/v1/tenants/{source}/users.csv?encoding={encoding}")).content
        reply = await api.post(f"/api/v1/tenants/{target}/users/import", content=exported, headers=CSV)
        assert reply.json()["applied"], reply.text

        def strip(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{k: v for k, v in u.items() if k != "id"} for u in items]
        assert strip((await api.get(f"/api/v1/tenants/{target}/users")).json()["items"]) == \
            strip((await api.get(f"/api/v1/tenants/{source}/users")).json()["items"])


async def test_whole_file_errors(api: httpx.AsyncClient) -> None:
    t = await tenant(api)
    path = f"/api/v1/tenants/{t}/users/import"
    for body, status, error_id in (
        (b"username\r\nok\r\n\x81\x7f\xff", 400, "invalid-encoding"),
        (excel([["username", "colour"], ["a", "red"]]), 400, "invalid-header"),
        (excel([["display_name"], ["a"]]), 400, "invalid-header"),
        (b'username,display_name\r\nu1,"open', 400, "invalid-csv"),
        (b"username\r\n" + b"u1234567\r\n" * (5 * 1024 * 1024 // 10 + 1), 413, "too-large"),
    ):
        reply = await api.post(path, content=body, headers=CSV)
        assert (reply.status_code, reply.json()["error_id"]) == (status, error_id), reply.text
    assert (await api.post(path + "?dry_run=maybe", content=b"username\r\n", headers=CSV)).status_code == 400
    header_only = await api.post(path, content=b"username\r\n", headers=CSV)
    assert header_only.json() == {"dry_run": False, "rows": 0, "applied": False, "errors": []}
    missing = await api.post("/api/v1/tenants/nosuch/users/import", content=b"username\r\nu1\r\n", headers=CSV)
    assert missing.status_code == 404 and missing.json()["error_id"] == "tenant-not-found"
    assert await usernames(api, t) == [] and await version(api, t) == 1


async def test_the_openapi_document_lists_the_csv_routes(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/api/v1/openapi.json")).json()["paths"]
    for name in ("users", "devices", "dids"):
        assert "get" in paths[f"/api/v1/tenants/{{tenant}}/{name}.csv"]
        assert "text/csv" in paths[f"/api/v1/tenants/{{tenant}}/{name}/import"]["post"]["requestBody"]["content"]


async def test_direct_numbers_in_a_file_are_normalized_and_a_bad_one_reported_on_its_line(api: httpx.AsyncClient) -> None:
    t = await tenant(api)
    body = excel([["username", "extension", "direct_number"], ["ito", "4001", "０４６－２５１－４００１"],
                  ["kato", "4002", "046-251-4002"], ["sato", "4003", "090-1234-5678"]])
    reply = await api.post(f"/api/v1/tenants/{t}/users/import", content=body, headers=CSV)
    assert reply.status_code == 422, reply.text
    assert [(e["line"], e["field"], e["error_id"]) for e in reply.json()["details"]["errors"]] == [
        (4, "direct_number", "invalid-number")]
    reply = await api.post(f"/api/v1/tenants/{t}/users/import", content=body.rsplit(b"\r\nsato", 1)[0] + b"\r\n",
                           headers=CSV)
    assert reply.status_code == 200, reply.text
    users = (await api.get(f"/api/v1/tenants/{t}/users")).json()["items"]
    assert {u["username"]: u["direct_number"] for u in users} == {"ito": "0462514001", "kato": "0462514002"}
