"""The shared phonebook (PBX-13): stored normalized, searched the way Japanese staff type,
imported and exported as CSV (>= 500 entries)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.app import main
from hibiki.directory.config import DirectoryConfig
from hibiki.directory.phonebook import fold, search
from support.servers import free_port, running


def test_folding_matches_what_people_type() -> None:
    assert fold("さとう") == fold("サトウ") == fold("ｻﾄｳ")
    assert fold("ＡＢＣ 商事") == fold("abc商事")
    people = [{"id": "u1", "display_name": "佐藤 花子", "display_name_kana": "さとう はなこ", "username": "sato",
               "extension": "1001", "direct_number": "0258123001"}]
    book = [{"id": "c1", "name": "長岡市 水道局", "name_kana": "ナガオカシ スイドウキョク", "organization": "長岡市",
             "numbers": ["0258123456"], "tags": ["水道", "緊急"]}]
    assert [h.id for h in search("サトウ", people, book)] == ["u1"]
    assert [h.id for h in search("すいどう", people, book)] == ["c1"]
    assert [h.id for h in search("緊急", people, book)] == ["c1"]
    assert [h.id for h in search("0258-12", people, book)] == ["u1", "c1"]
    assert search("", people, book) == [] and search("存在しない", people, book) == []


@given(st.text(max_size=30))
def test_folding_is_idempotent_and_total(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@pytest.fixture
async def api(tmp_path: Path, nats_server: Any, authority: TokenAuthority) -> AsyncIterator[httpx.AsyncClient]:
    config = dataclasses.replace(
        DirectoryConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}),
        port=free_port(), grpc_port=free_port())
    headers = {"Authorization": "Bearer " + authority.issue(Claims("setup", "service"))}
    async with running(main, config), httpx.AsyncClient(base_url=f"http://127.0.0.1:{config.port}",
                                                         headers=headers) as client:
        assert (await client.post("/api/v1/tenants", json={"id": "kanazawa", "domain": "k.example.jp"})).status_code == 201
        yield client


async def test_entries_are_stored_normalized_and_searchable(api: httpx.AsyncClient) -> None:
    reply = await api.post("/api/v1/tenants/kanazawa/phonebook", json={
        "name": "金沢 太郎", "name_kana": "かなざわ たろう", "numbers": ["０７６－２２０－２１１１", "+81 90 1234 5678"],
        "tags": ["業者"]})
    assert reply.status_code == 201, reply.text
    assert reply.json()["numbers"] == ["0762202111", "09012345678"]
    bad = await api.post("/api/v1/tenants/kanazawa/phonebook", json={"name": "x", "numbers": ["03-12x4"]})
    assert bad.status_code == 422 and bad.json()["error_id"] == "invalid-numbers"
    found = (await api.get("/api/v1/tenants/kanazawa/phonebook/search", params={"q": "カナザワ"})).json()
    assert [i["name"] for i in found["items"]] == ["金沢 太郎"]
    assert (await api.get("/api/v1/tenants/kanazawa/phonebook/search", params={"q": "090-1234"})).json()["items"]
    for limit in ("abc", "²", "٣", "１０"):     # digits of other scripts: a clear 400, never int()'s ValueError
        reply = await api.get("/api/v1/tenants/kanazawa/phonebook/search", params={"q": "x", "limit": limit})
        assert reply.status_code == 400 and reply.json()["error_id"] == "invalid-paging", (limit, reply.text)


async def test_five_hundred_entries_through_csv(api: httpx.AsyncClient) -> None:
    lines = ["name,name_kana,organization,numbers,tags,note"]
    lines += [f"取引先{n:03d},とりひきさき{n:03d},株式会社{n % 7},0762{n:06d};090{n:08d},業者;金沢,メモ{n}"
              for n in range(500)]
    body = ("\r\n".join(lines) + "\r\n").encode("cp932")                     # what Excel in Japan writes
    dry = await api.post("/api/v1/tenants/kanazawa/phonebook/import?dry_run=true", content=body,
                         headers={"Content-Type": "text/csv"})
    assert dry.status_code == 200 and dry.json()["applied"] is False
    reply = await api.post("/api/v1/tenants/kanazawa/phonebook/import", content=body,
                           headers={"Content-Type": "text/csv"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["rows"] == 500 and reply.json()["applied"] is True
    listing = (await api.get("/api/v1/tenants/kanazawa/phonebook?limit=1000")).json()["items"]
    assert len(listing) == 500
    exported = await api.get("/api/v1/tenants/kanazawa/phonebook.csv")
    text = exported.content.decode("utf-8-sig")
    assert text.splitlines()[1].startswith("取引先000,とりひきさき000,株式会社0,0762000000;09000000000,業者;金沢")
    hits = (await api.get("/api/v1/tenants/kanazawa/phonebook/search", params={"q": "トリヒキサキ499"})).json()
    assert [h["name"] for h in hits["items"]] == ["取引先499"]
