"""The mirrored recording store (``HIBIKI_RECORDING_STORE_MIRROR_URL``, issue 16): two real stores,
one per data center, made unreachable for real (the store's directory replaced by a file, as a disk
gone or unmounted), and the data keys kept in both."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.errors import ConfigError
from hibiki.recording.app import main
from hibiki.recording.config import RecordingConfig
from hibiki.recording.domain import envelope
from hibiki.recording.storage.blobs import LocalBlobs, MirroredBlobs, S3Blobs, StoreUnavailable, copies, open_store
from hibiki.recording.storage.keys import KeyStore
from hibiki.recording.storage.repair import MirrorRepair
from support.recording import MotoServer, make_wav, publish_stopped, spool_path, stopped
from support.servers import free_port, running

KEYS = ("t/2026/12/07/r1.ogg.hbr", "t/2026/12/07/r2.ogg.hbr", "u/2026/12/08/r3.ogg.hbr")


class Site:
    """One data center's store: a real directory, taken down by moving it away and leaving a file
    in its place (every call then fails as on a lost disk), brought back by moving it back."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True)
        self.root, self.store = root, LocalBlobs(root)

    @property
    def down(self) -> bool:
        return self.root.is_file()

    def fail(self) -> None:
        if not self.down:
            self.root.rename(self.root.with_name(self.root.name + ".away"))
            self.root.write_text("unreachable")

    def recover(self) -> None:
        if self.down:
            self.root.unlink()
            self.root.with_name(self.root.name + ".away").rename(self.root)


def sites(base: Path) -> tuple[Site, Site, MirroredBlobs]:
    a, b = Site(base / "dc1"), Site(base / "dc2")
    return a, b, MirroredBlobs(a.store, b.store)


OPS = st.lists(st.one_of(
    st.tuples(st.just("put"), st.sampled_from(KEYS), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.sampled_from(KEYS), st.none()),
    st.tuples(st.just("get"), st.sampled_from(KEYS), st.none()),
    st.tuples(st.sampled_from(["fail", "recover"]), st.sampled_from([0, 1]), st.none()),
    st.tuples(st.just("repair"), st.none(), st.none()),
), max_size=40)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_any_puts_and_deletes_with_a_side_down_converge_after_repair_and_never_read_a_wrong_blob(ops: list) -> None:
    """The model: ``acked`` is what the last acknowledged put or delete of each key left (None: no
    object); ``maybe`` the outcomes of the failed ones since (a failed put may have landed on one
    side, a failed delete removed one side). A read answers ``acked`` or one of ``maybe``, never an
    older object nor one acknowledged as deleted; after both sides are back and repaired, both hold
    the same objects and every key reads as acknowledged (or as a later unacknowledged attempt)."""
    with tempfile.TemporaryDirectory() as tmp:
        pair = sites(Path(tmp))
        a, b, mirrored = pair
        acked: dict[str, bytes | None] = dict.fromkeys(KEYS)
        maybe: dict[str, set[bytes | None]] = {k: set() for k in KEYS}

        def allowed(key: str) -> set[bytes | None]:
            return {acked[key], *maybe[key]}

        for op, arg, value in ops:
            if op in ("fail", "recover"):
                getattr((a, b)[arg], op)()
            elif op == "put":
                try:
                    mirrored.put(arg, value)
                except StoreUnavailable:
                    assert a.down or b.down
                    maybe[arg].add(value)
                else:
                    assert not (a.down or b.down), "acknowledged with a side down"
                    acked[arg], maybe[arg] = value, set()
            elif op == "delete":
                try:
                    mirrored.delete(arg)
                except StoreUnavailable:
                    assert a.down or b.down
                    maybe[arg].add(None)
                else:
                    acked[arg], maybe[arg] = None, set()
            elif op == "get":
                try:
                    got = mirrored.get(arg)
                except StoreUnavailable:
                    assert a.down or b.down
                else:
                    assert got in allowed(arg), f"{arg}: read {got!r}, acknowledged {acked[arg]!r}"
                    if not maybe[arg] and acked[arg] is not None:
                        assert got == acked[arg]
            else:
                try:
                    mirrored.repair()
                except StoreUnavailable:
                    assert a.down or b.down
        a.recover()
        b.recover()
        mirrored.repair(deep=True)
        assert a.store.keys("") == b.store.keys("")
        for key in KEYS:
            assert a.store.get(key) == b.store.get(key)
            got = mirrored.get(key)
            assert got in allowed(key)
            if not maybe[key]:
                assert got == acked[key]


def test_one_side_down_refuses_to_acknowledge_and_reads_fall_back(tmp_path: Path) -> None:
    a, b, mirrored = sites(tmp_path)
    mirrored.put(KEYS[0], b"both")
    b.fail()
    with pytest.raises(StoreUnavailable, match="dc2"):
        mirrored.put(KEYS[1], b"only dc1")
    assert a.store.get(KEYS[1]) == b"only dc1"      # the half that landed, not acknowledged
    with pytest.raises(StoreUnavailable):
        copies(mirrored, KEYS[1])                     # the pipeline's check: every copy or nothing
    with pytest.raises(StoreUnavailable):
        mirrored.delete(KEYS[0])
    with pytest.raises(StoreUnavailable):
        mirrored.keys("")
    assert mirrored.get(KEYS[1]) == b"only dc1"
    b.recover()
    a.fail()
    assert mirrored.get(KEYS[0]) == b"both"         # the delete was not acknowledged: dc2 still has it
    with pytest.raises(StoreUnavailable):
        mirrored.get(KEYS[1])                         # dc2 has no copy and dc1 cannot say: not "missing"
    a.recover()
    assert mirrored.repair() == 2                     # KEYS[1] to dc2, KEYS[0] back to dc1
    assert copies(mirrored, KEYS[1]) == [b"only dc1", b"only dc1"]
    assert mirrored.keys("t/") == [KEYS[0], KEYS[1]]
    mirrored.delete(KEYS[0])
    assert copies(mirrored, KEYS[0]) == [None, None]


def test_a_store_rebuilt_empty_is_filled_again_by_repair(tmp_path: Path) -> None:
    a, b, mirrored = sites(tmp_path)
    for n, key in enumerate(KEYS):
        mirrored.put(key, bytes([n]) * 100)
    shutil.rmtree(a.root)                           # dc1's store lost, rebuilt empty
    assert [mirrored.get(k) for k in KEYS] == [bytes([n]) * 100 for n in range(3)]
    assert mirrored.repair() == 3
    assert [a.store.get(k) for k in KEYS] == [bytes([n]) * 100 for n in range(3)]
    assert mirrored.repair() == 0


def test_mirror_url_is_checked(tmp_path: Path) -> None:
    assert isinstance(open_store("", "", tmp_path), LocalBlobs)
    mirrored = open_store("", f"file://{tmp_path / 'other'}", tmp_path)
    assert isinstance(mirrored, MirroredBlobs) and mirrored.mirror.name == f"file://{tmp_path / 'other'}"
    for bad in ("http://elsewhere/x", "s3://", f"file://{tmp_path}", "no-scheme"):
        with pytest.raises(ConfigError, match="HIBIKI_RECORDING_STORE_MIRROR_URL"):
            open_store(f"file://{tmp_path}", bad, tmp_path)


def test_data_keys_are_in_both_stores_before_use_and_open_in_the_other_site(tmp_path: Path) -> None:
    master = secrets.token_bytes(32)
    a, b, dc1_blobs = sites(tmp_path)
    dc1 = KeyStore(tmp_path / "dc1-keys", master, replica=dc1_blobs)
    key_id, key = dc1.current("zama")
    blob = envelope.seal(b"audio", key_id, key, envelope.associated("zama", "r1"))
    dc1_blobs.put("zama/2026/12/07/r1.ogg.hbr", blob)
    assert copies(dc1_blobs, KeyStore.replica_key("zama", key_id)) == [
        (tmp_path / "dc1-keys" / "zama" / f"{key_id}.key").read_bytes()] * 2

    b.fail()                                        # no new key while the other site cannot take it
    with pytest.raises(StoreUnavailable):
        dc1.rotate("zama")
    assert dc1.current("zama")[0] == key_id
    b.recover()

    shutil.rmtree(tmp_path / "dc1-keys")            # dc1 lost: its keys directory and its store
    a.fail()
    dc2 = KeyStore(tmp_path / "dc2-keys", master, replica=MirroredBlobs(b.store, a.store))
    stored = dc2._replica.get("zama/2026/12/07/r1.ogg.hbr") if dc2._replica else None
    assert stored is not None
    assert envelope.open_sealed(stored, lambda k: dc2.key("zama", k), envelope.associated("zama", "r1")) == b"audio"
    with pytest.raises(KeyError):
        KeyStore(tmp_path / "dc2-keys", secrets.token_bytes(32), replica=MirroredBlobs(b.store, a.store)).key(
            "zama", key_id)                          # another master key: refused, not garbage


def test_keys_made_before_the_mirror_are_published_and_shredding_removes_every_copy(tmp_path: Path) -> None:
    master = secrets.token_bytes(32)
    alone = KeyStore(tmp_path / "keys", master)
    old_id, _ = alone.current("zama")
    alone.current("toshima")
    a, b, mirrored = sites(tmp_path)
    keys = KeyStore(tmp_path / "keys", master, replica=mirrored)
    repair = MirrorRepair(mirrored, keys, 1.0)
    b.fail()
    with pytest.raises(StoreUnavailable):
        repair.once()
    b.recover()
    assert repair.once() == (2, 0)
    assert repair.once() == (0, 0)
    assert b.store.keys("_keys/zama/") == [KeyStore.replica_key("zama", old_id)]

    b.fail()                                        # security fails closed: nothing shredded half
    with pytest.raises(StoreUnavailable):
        keys.shred("zama")
    assert keys.key_ids("zama") == [old_id]
    b.recover()
    assert keys.shred("zama") == 1
    assert mirrored.keys("_keys/zama/") == [] and mirrored.keys("_keys/toshima/") != []


# --------------------------------------------------------------------------- the service with a mirror


async def _until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.2)


async def _count(js: Any, subject: str) -> int:
    info = await js.stream_info("HIBIKI_EVENTS", subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


@pytest.mark.slow
async def test_the_service_acknowledges_only_what_both_stores_hold_and_plays_from_either(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> None:
    tenant = f"zama{uuid.uuid4().hex[:6]}"
    spool, var = tmp_path / "spool", tmp_path / "var"
    own, other = Site(tmp_path / "store-dc1"), Site(tmp_path / "store-dc2")
    config = dataclasses.replace(RecordingConfig.from_env({
        "HIBIKI_DATA_DIR": str(var), "HIBIKI_NATS_URL": nats_server.url, "HIBIKI_RECORDING_SPOOL_DIR": str(spool),
        "HIBIKI_RECORDING_CONSUMER": f"rec-{tenant}", "HIBIKI_RECORDING_STORE_URL": f"file://{own.root}",
        "HIBIKI_RECORDING_STORE_MIRROR_URL": f"file://{other.root}",
        "HIBIKI_RECORDING_STORE_REPAIR_INTERVAL": "1"}), port=free_port())
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    stored_subject = f"hibiki.{tenant}.recording.stored"

    async def record() -> tuple[str, Path]:
        rid, started = str(uuid.uuid4()), datetime.now(UTC) - timedelta(seconds=3)
        event = stopped(tenant, rid, Path("/"), started=started)
        event.spool_path = str(make_wav(spool_path(spool, tenant, rid, started), seconds=2.0))
        await publish_stopped(js, event)
        return rid, Path(event.spool_path)

    async with running(main, config):
        token = authority.issue(Claims("kato", "user", tenant, ("recording-admin",)))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{config.port}/api/v1/tenants/{tenant}",
                                     headers={"Authorization": f"Bearer {token}"}, timeout=30) as admin:
            first, first_spool = await record()
            await _until(lambda: _gone(first_spool), "the first recording stored")
            assert (await admin.get(f"/recordings/{first}")).status_code == 200
            first_key = object_key(own.store, tenant, first)
            assert copies(MirroredBlobs(own.store, other.store), first_key) == [own.store.get(first_key)] * 2
            assert len(other.store.keys(f"_keys/{tenant}/")) == 1, "the tenant's data key is in the other site too"
            audio = (await admin.get(f"/recordings/{first}/audio")).content

            other.fail()                        # the other data center's store is unreachable
            second, second_spool = await record()
            sealed = var / "recording" / "work" / tenant / f"{second}.hbr"
            await _until(lambda: _exists(sealed), "the second recording encrypted")
            await asyncio.sleep(3)              # handed out again and again meanwhile (nak, 1 s)
            assert second_spool.exists() and sealed.exists(), "not acknowledged: the spool keeps it"
            assert await _count(js, stored_subject) == 1
            assert (await admin.get(f"/recordings/{second}")).status_code == 404
            refused = await admin.delete(f"/recordings/{first}")
            assert refused.status_code == 503 and refused.json()["error_id"] == "store-unavailable"
            assert (await admin.get(f"/recordings/{first}")).status_code == 200, "the row stays until both forgot it"
            lifecycle = f"http://127.0.0.1:{config.port}/api/v1/lifecycle/tenants/{tenant}"
            service = {"Authorization": f"Bearer {authority.issue(Claims('lifecycle', 'service'))}"}
            for method in ("GET", "DELETE"):       # shredding a tenant fails closed: nothing destroyed
                answer = await admin.request(method, lifecycle, headers=service)
                assert answer.status_code == 503 and answer.json()["error_id"] == "store-unavailable", answer.text
            assert len(list((var / "recording" / "keys" / tenant).glob("k*.key"))) == 1
            assert len(own.store.keys(f"_keys/{tenant}/")) == 1

            other.recover()
            await _until(lambda: _gone(second_spool, sealed), "the second recording stored once the mirror is back")
            assert await _count(js, stored_subject) == 2
            key = object_key(own.store, tenant, second)
            assert own.store.get(key) is not None and own.store.get(key) == other.store.get(key)

            own.fail()                          # this site's own store lost: played from the other
            assert (await admin.get(f"/recordings/{first}/audio")).content == audio
            shutil.rmtree(own.root.with_name(own.root.name + ".away"))
            own.root.unlink()                   # ... and rebuilt empty: the repair loop fills it
            await _until(lambda: _exists(own.root / key), "the rebuilt store repaired")
            assert sorted(own.store.keys("")) == sorted(other.store.keys(""))

            assert (await admin.delete(f"/recordings/{first}")).status_code == 204
            assert own.store.get(first_key) is None and other.store.get(first_key) is None


def object_key(store: LocalBlobs, tenant: str, rid: str) -> str:
    return next(k for k in store.keys(f"{tenant}/") if k.endswith(f"/{rid}.ogg.hbr"))


async def _gone(*paths: Path) -> bool:
    return not any(p.exists() for p in paths)


async def _exists(path: Path) -> bool:
    return path.exists()


def test_mirrored_to_s3_down_then_back_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The production shape: the other site's store is S3 (moto's server mode, a real HTTP S3 server
    as a process). It stops: nothing is acknowledged, reads come from here. It comes back empty (moto
    keeps nothing, as a store rebuilt after its site was lost; the bucket made again by the
    operator): the repair copies everything over."""
    import boto3

    for name, value in (("AWS_ACCESS_KEY_ID", "hibiki"), ("AWS_SECRET_ACCESS_KEY", "hibiki-secret")):
        monkeypatch.setenv(name, value)
    moto = MotoServer(tmp_path / "moto.log")
    moto.start()
    try:
        boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1").create_bucket(Bucket="recordings")
        own = LocalBlobs(tmp_path / "own")
        mirrored = open_store(f"file://{own.root}", f"s3://recordings/dc2?endpoint={moto.endpoint}", tmp_path)
        assert isinstance(mirrored, MirroredBlobs) and isinstance(mirrored.mirror, S3Blobs)
        mirrored.put(KEYS[0], b"first")
        assert copies(mirrored, KEYS[0]) == [b"first", b"first"]
        moto.stop()
        with pytest.raises(StoreUnavailable, match="s3://recordings/dc2"):
            mirrored.put(KEYS[1], b"second")
        assert mirrored.get(KEYS[0]) == b"first"
        with pytest.raises(StoreUnavailable):
            mirrored.repair()
        moto.start()
        boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1").create_bucket(Bucket="recordings")
        assert mirrored.mirror.keys("") == []
        assert mirrored.repair() == 2
        assert mirrored.mirror.keys("") == own.keys("") == [KEYS[0], KEYS[1]]
        assert copies(mirrored, KEYS[1]) == [b"second", b"second"]
    finally:
        moto.stop()
