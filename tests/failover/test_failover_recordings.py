"""Losing a data center with recordings (issue 16, OPS-01; README "Failover between data centers",
"Recordings across data centers"): each site's recording service writes every recording to its own
site's object store and to the other site's (``HIBIKI_RECORDING_STORE_MIRROR_URL``) before it
acknowledges it (index row, RecordingStored). Recordings are made on dc1, the last one acknowledged
just before dc1 is killed (SIGKILL: its recording service and NATS server) and all of dc1's disks are
lost: its object store unreachable, its keys directory, spool and data gone. Every recording
acknowledged before the loss must play from dc2 (read from dc2's store, its data key found in dc2's
store, decrypted to the same audio as dc1 played). A recording made on dc2 during the loss is kept in
dc2's spool, not acknowledged, until the other site's store is back (rebuilt empty); then it is
stored, and the repair loop fills the rebuilt store with everything again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import secrets
import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from hibiki.common import bus
from hibiki.events.v1 import recording_pb2
from hibiki.recording.domain import envelope
from hibiki.recording.storage.blobs import LocalBlobs, open_store
from hibiki.recording.storage.keys import KeyStore
from support.failover import Site, nats_cluster, on_nats, site_addresses, start_recording, token, wait_until
from support.recording import make_wav, spool_path, stopped

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
TENANT = "toshima"
RECORDINGS = 8


def object_key(rid: str, started: datetime) -> str:
    """README "Stores": ``<tenant>/<yyyy>/<mm>/<dd>/<recording id>.ogg.hbr``."""
    return f"{TENANT}/{started:%Y/%m/%d}/{rid}.ogg.hbr"


def publish_stopped(url: str, event: recording_pb2.RecordingStopped) -> None:
    """Published once JetStream acknowledges it (again while the cluster settles: the id deduplicates)."""
    async def send(_: Any, js: Any) -> bool:
        await bus.publish(js, bus.subject(TENANT, "recording", "stopped"), event.SerializeToString(), event.meta.id)
        return True
    wait_until("RecordingStopped published", lambda: on_nats(url, send), 30, 0.5)


def stored_ids(url: str) -> set[str]:
    """The recording ids of every RecordingStored on the stream (read through one NATS server)."""
    async def read(_: Any, js: Any) -> set[str]:
        sub = await js.pull_subscribe(bus.subject(TENANT, "recording", "stored"))   # an ephemeral consumer
        seen: set[str] = set()
        while True:
            try:
                batch = await sub.fetch(100, timeout=1)
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                return seen
            for msg in batch:
                seen.add(recording_pb2.RecordingStored.FromString(msg.data).recording_id)
                await msg.ack()
    return on_nats(url, read)


def record(site: Site, seconds: float) -> tuple[str, datetime, Path]:
    """A spool file on the site's FreeSWITCH disk and its RecordingStopped on the site's NATS server."""
    rid, started = str(uuid.uuid4()), datetime.now(UTC) - timedelta(seconds=seconds + 1)
    event = stopped(TENANT, rid, Path("/"), started=started, seconds=seconds)
    path = make_wav(spool_path(site.root / "spool", TENANT, rid, started), seconds=seconds)
    event.spool_path = str(path)
    publish_stopped(site.nats.url, event)
    return rid, started, path


def test_recordings_acknowledged_before_losing_dc1_play_from_dc2(tmp_path: Path) -> None:
    addresses = site_addresses()
    nodes = nats_cluster(tmp_path, addresses)
    dc1, dc2 = (Site(name, addresses[name], tmp_path / name, nodes[name]) for name in ("dc1", "dc2"))
    stores = {"dc1": tmp_path / "objects-dc1", "dc2": tmp_path / "objects-dc2"}   # each site's object storage
    master = base64.b64encode(secrets.token_bytes(32)).decode()                    # a Secret of both sites
    try:
        async def events_stream(_: Any, js: Any) -> int:
            await bus.ensure_events_stream(js, num_replicas=3)
            return len((await js.stream_info(bus.EVENTS_STREAM)).cluster.replicas or [])
        wait_until("JetStream cluster", lambda: on_nats(nodes["dc2"].url, events_stream) == 2, 60, 0.5)

        recording1 = start_recording(dc1, stores["dc1"], stores["dc2"], master)
        recording2 = start_recording(dc2, stores["dc2"], stores["dc1"], master,
                                     {"HIBIKI_RECORDING_STORE_REPAIR_INTERVAL": "1"})
        played: dict[str, tuple[datetime, str]] = {}
        with httpx.Client(base_url=f"{recording1.url}/api/v1/tenants/{TENANT}", timeout=30,
                          headers={"Authorization": f"Bearer {token()}"}) as api:
            made = [record(dc1, 1.0 + n % 3) for n in range(RECORDINGS)]
            wait_until("dc1 stores its recordings", lambda: not any(p.exists() for _, _, p in made), 120, 0.1)
            wait_until("every RecordingStored on the stream",
                       lambda: stored_ids(dc2.nats.url) >= {rid for rid, _, _ in made}, 30, 0.5)
            for rid, started, _ in made:
                audio = api.get(f"/recordings/{rid}/audio")
                assert audio.status_code == 200, audio.text
                played[rid] = (started, hashlib.sha256(audio.content).hexdigest())
            rotated = api.post("/recording-keys/rotate")              # a second data key, made on dc1
            assert rotated.status_code == 200, rotated.text

        last, last_started, last_spool = record(dc1, 2.0)           # acknowledged just before the loss
        wait_until("the last recording acknowledged", lambda: last in stored_ids(dc2.nats.url), 60, 0.05)

        # --- dc1 is lost: its processes, its object store, its disks ---
        killed = dc1.kill()
        lost_at = time.monotonic()
        stores["dc1"].rename(tmp_path / "objects-dc1.lost")
        stores["dc1"].write_text("dc1 is unreachable")           # every call to it fails, as over a dead link
        shutil.rmtree(tmp_path / "objects-dc1.lost")
        shutil.rmtree(dc1.root)                                   # keys directory, spool, work files, index
        print(f"\nfailover: dc1 killed at once (SIGKILL): {', '.join(killed)}; its object store, keys directory "
              "and spool removed")
        seen: dict[str, set[str]] = {}

        def read_stream() -> bool:
            seen["ids"] = stored_ids(dc2.nats.url)
            return True
        wait_until("the event stream readable on dc2", read_stream, 60, 0.5)   # a new leader elected
        assert last in seen["ids"] and set(played) <= seen["ids"]

        # --- every acknowledged recording plays from dc2: its store, its data key found in its store ---
        dc2_keys = tmp_path / "dc2" / "recording" / "recording" / "keys"
        reader = open_store(f"file://{stores['dc2']}", f"file://{stores['dc1']}", tmp_path / "unused")
        keys = KeyStore(dc2_keys, base64.b64decode(master), replica=reader)   # as dc2's service opens them
        lost: list[str] = []
        for rid, (started, digest) in played.items():
            blob = reader.get(object_key(rid, started))
            if blob is None:
                lost.append(f"recording {rid}: no object")
                continue
            audio = envelope.open_sealed(blob, lambda k: keys.key(TENANT, k), envelope.associated(TENANT, rid))
            if hashlib.sha256(audio).hexdigest() != digest:
                lost.append(f"recording {rid}: other audio")
        last_blob = reader.get(object_key(last, last_started))
        if last_blob is None:
            lost.append(f"recording {last} (acknowledged last): no object")
        else:
            envelope.open_sealed(last_blob, lambda k: keys.key(TENANT, k), envelope.associated(TENANT, last))
        data_keys = LocalBlobs(stores["dc2"]).keys(f"_keys/{TENANT}/")
        if len(data_keys) != 2:
            lost.append(f"data keys: {len(data_keys)} of 2 in dc2's store")
        checked = time.monotonic() - lost_at

        # --- a recording made on dc2 while dc1's store is gone: kept, not acknowledged, until it is back ---
        offset = recording2.log.stat().st_size
        during, during_started, during_spool = record(dc2, 2.0)

        def tried() -> bool:
            with recording2.log.open("rb") as log:
                log.seek(offset)
                return any(b'"recording_store_unavailable"' in line and during.encode() in line
                           for line in log.read().splitlines())
        wait_until("dc2 tries to store it", tried, 60, 0.2)
        time.sleep(2)
        assert during_spool.exists() and during not in stored_ids(dc2.nats.url), "acknowledged with one copy"
        stores["dc1"].unlink()
        stores["dc1"].mkdir()                                     # dc1's object store rebuilt, empty
        rebuilt_at = time.monotonic()
        wait_until("dc2 stores it once both stores answer", lambda: not during_spool.exists(), 60, 0.2)
        assert during in stored_ids(dc2.nats.url)
        with httpx.Client(base_url=f"{recording2.url}/api/v1/tenants/{TENANT}", timeout=30,
                          headers={"Authorization": f"Bearer {token()}"}) as api:
            assert api.get(f"/recordings/{during}/audio").status_code == 200
        rebuilt, survivor = LocalBlobs(stores["dc1"]), LocalBlobs(stores["dc2"])
        wait_until("the rebuilt store repaired", lambda: rebuilt.keys("") == survivor.keys(""), 60, 0.5)
        repaired = time.monotonic() - rebuilt_at
        for key in survivor.keys(""):
            assert rebuilt.get(key) == survivor.get(key), key
        objects = survivor.keys("")
        assert len([k for k in objects if k.startswith(f"{TENANT}/")]) == len(played) + 2   # + the last, + dc2's
        assert len(survivor.keys(f"_keys/{TENANT}/")) == 3, "dc1's two data keys and dc2's first: no stray key"

        print(f"failover: recordings: {len(played) + 1} acknowledged on dc1 before the loss, the last just "
              f"before it; on dc2: {len(played) - sum(r in ' '.join(lost) for r in played)} of the {len(played)} "
              f"played on dc1 decrypt to the same audio (sha256), the last decrypts; data keys from dc2's store: "
              f"{len(data_keys)} (checked {checked:.1f} s after the loss)")
        print(f"failover: a recording made on dc2 during the loss stayed in its spool, unacknowledged, until "
              f"dc1's store was back (rebuilt empty); stored then, and the repair loop copied "
              f"{len(objects)} objects into the rebuilt store in {repaired:.1f} s")
        print(f"failover: recordings lost: {', '.join(lost) if lost else 'nothing acknowledged'}")
        assert lost == []
    finally:
        for site in (dc1, dc2):
            site.stop()
        for node in nodes.values():
            if node.process and node.process.poll() is None:
                node.process.terminate()
                node.process.wait(15)


def test_a_consumer_led_from_the_lost_site_goes_on_on_the_other(tmp_path: Path) -> None:
    """Every service's durable consumer (``bus.DurableConsumer``, here on dc2's server) whose
    leader was on dc1: while the two sites left elect another, its fetches find no responder; the
    loop must wait and go on, not end (it used to: the service then consumed nothing more)."""
    addresses = site_addresses()
    nodes = nats_cluster(tmp_path, addresses)
    try:
        async def events_stream(_: Any, js: Any) -> int:
            await bus.ensure_events_stream(js, num_replicas=3)
            return len((await js.stream_info(bus.EVENTS_STREAM)).cluster.replicas or [])
        wait_until("JetStream cluster", lambda: on_nats(nodes["dc2"].url, events_stream) == 2, 60, 0.5)

        async def scenario() -> tuple[list[str], str]:
            nc = await nats.connect(nodes["dc2"].url, max_reconnect_attempts=-1)
            js, stop, got, arrived = nc.jetstream(timeout=5), asyncio.Event(), list[str](), asyncio.Event()

            async def handler(subject: str, data: bytes) -> None:
                got.append(data.decode())
                arrived.set()
            consumer = bus.DurableConsumer(js, "led-from-dc1", f"hibiki.{TENANT}.call.>", handler, batch=1)
            task = asyncio.create_task(consumer.run(stop))
            try:
                await bus.publish(js, bus.subject(TENANT, "call", "started"), b"before", str(uuid.uuid4()))
                await asyncio.wait_for(arrived.wait(), 30)
                leader = ""
                for _ in range(30):        # move the consumer's leader to dc1
                    leader = str((await js.consumer_info(bus.EVENTS_STREAM, "led-from-dc1")).cluster.leader)
                    if leader == "dc1":
                        break
                    with contextlib.suppress(Exception):
                        await nc.request(f"$JS.API.CONSUMER.LEADER.STEPDOWN.{bus.EVENTS_STREAM}.led-from-dc1", b"",
                                         timeout=5)
                    await asyncio.sleep(1)
                assert leader == "dc1", leader
                arrived.clear()
                node = nodes["dc1"]
                assert node.process is not None
                node.process.kill()
                node.process.wait(10)
                await asyncio.sleep(1)       # fetches meanwhile: no leader to answer them
                for _ in range(120):
                    try:
                        await bus.publish(js, bus.subject(TENANT, "call", "started"), b"after", "after-the-loss")
                        break
                    except Exception:       # noqa: BLE001 - the stream elects its leader too
                        await asyncio.sleep(0.5)
                await asyncio.wait_for(arrived.wait(), 60)
                return got, "ended" if task.done() else "running"
            finally:
                stop.set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 10)
                await nc.close()
        got, state = asyncio.run(scenario())
        assert got == ["before", "after"] and state == "running"
    finally:
        for node in nodes.values():
            if node.process and node.process.poll() is None:
                node.process.terminate()
                node.process.wait(15)
