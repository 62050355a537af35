"""The IVR cache (hibiki.callcontrol.ivr.cache) against a directory stand-in whose tenant
versions move on: never an IVR older than a version seen, bounded, schedules never kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.callcontrol.ivr.cache import IvrCache, timed
from hibiki.directory.v1 import ivr_pb2
from hibiki.events.v1 import config_pb2, meta_pb2


class Store:
    """What GetIvr answers: each tenant's current version; ``lag``: a replica behind by that much."""

    def __init__(self, scheduled: bool = False) -> None:
        self.version: dict[str, int] = {}
        self.asked: list[tuple[str, str, datetime | None]] = []
        self.lag = 0
        self.scheduled = scheduled

    async def get(self, tenant: str, ivr_id: str, at: datetime | None) -> ivr_pb2.Ivr:
        self.asked.append((tenant, ivr_id, at))
        await asyncio.sleep(0)
        ivr = ivr_pb2.Ivr(tenant=tenant, id=ivr_id, root_menu="main",
                          version=max(0, self.version.get(tenant, 1) - self.lag))
        menu = ivr.menus.add(id="main")
        if self.scheduled:
            menu.choices["1"].schedule.schedule_id = "hours"
        else:
            menu.choices["1"].menu = "main"
        return ivr


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_schedules_are_found_wherever_they_are() -> None:
    ivr = ivr_pb2.Ivr(id="x")
    ivr.menus.add(id="a").choices["1"].menu = "b"
    assert not timed(ivr)
    ivr.menus.add(id="b").choices["2"].schedule.otherwise.message.prompt.sound = "x.wav"
    assert timed(ivr)


def test_kept_until_a_newer_version_is_seen_from_nats_or_from_the_call() -> None:
    async def scenario() -> None:
        store = Store()
        cache = IvrCache(store.get)
        store.version["t"] = 5
        assert (await cache.get("t", "i")).version == 5
        assert (await cache.get("t", "i")).version == 5 and len(store.asked) == 1
        store.version["t"] = 6
        await cache.on_message(_changed("t", 6))
        assert (await cache.get("t", "i")).version == 6 and len(store.asked) == 2
        store.version["t"] = 7                         # NATS has not told us yet, the call's dialplan has
        assert (await cache.get("t", "i", version=7)).version == 7 and len(store.asked) == 3
        assert (await cache.get("t", "i")).version == 7 and len(store.asked) == 3
        assert cache.hits == 2 and cache.misses == 3
    run(scenario())


def test_an_answer_older_than_seen_is_used_but_not_kept_and_moments_and_schedules_are_never_kept() -> None:
    async def scenario() -> None:
        store = Store()
        cache = IvrCache(store.get)
        store.version["t"], store.lag = 9, 1           # a directory replica one change behind
        assert (await cache.get("t", "i", version=9)).version == 8
        assert len(cache) == 0
        moment = datetime(2026, 1, 1, tzinfo=UTC)
        await cache.get("t", "j", moment)
        assert len(cache) == 0 and store.asked[-1] == ("t", "j", moment)
        timed_store = Store(scheduled=True)
        timed_cache = IvrCache(timed_store.get)
        await timed_cache.get("t", "i")
        await timed_cache.get("t", "i")
        assert len(timed_store.asked) == 2 and len(timed_cache) == 0
    run(scenario())


def test_unreadable_notifications_change_nothing() -> None:
    async def scenario() -> None:
        store = Store()
        cache = IvrCache(store.get)
        await cache.get("t", "i")
        await cache.on_message(_Msg("hibiki.t.config.changed", b"\xff\xff\xff"))
        await cache.on_message(_Msg("x", b""))
        await cache.get("t", "i")
        assert len(store.asked) == 1
    run(scenario())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["get", "get_with_version", "change", "notify"]),
                          st.sampled_from(["t1", "t2", "t3"]), st.sampled_from(["a", "b", "c", "d"])),
                max_size=60),
       st.integers(min_value=1, max_value=5))
def test_never_older_than_seen_and_never_over_size(ops: list[tuple[str, str, str]], size: int) -> None:
    async def scenario() -> None:
        store = Store()
        cache = IvrCache(store.get, size)
        seen: dict[str, int] = {}
        for op, tenant, ivr_id in ops:
            current = store.version.setdefault(tenant, 1)
            if op == "change":                    # committed; the notification may come later or never
                store.version[tenant] = current + 1
            elif op == "notify":
                seen[tenant] = max(seen.get(tenant, 0), current)
                await cache.on_message(_changed(tenant, current))
            else:
                version = current if op == "get_with_version" else 0
                seen[tenant] = max(seen.get(tenant, 0), version)
                ivr = await cache.get(tenant, ivr_id, version=version)
                assert ivr.version >= seen.get(tenant, 0) and ivr.id == ivr_id and ivr.tenant == tenant
            assert len(cache) <= size
    run(scenario())


class _Msg:
    def __init__(self, subject: str, data: bytes) -> None:
        self.subject, self.data = subject, data


def _changed(tenant: str, version: int) -> _Msg:
    event = config_pb2.ConfigurationChanged(meta=meta_pb2.EventMeta(tenant=tenant), version=version, kind="ivr")
    return _Msg(f"hibiki.{tenant}.config.changed", event.SerializeToString())
