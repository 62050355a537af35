"""Wiring of the recording service: spool, key store, audio store, index, consumers, retention, HTTP."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag

from hibiki.common import bus, revocation
from hibiki.common.auth import load_authority
from hibiki.common.config import Env
from hibiki.common.errors import StartupError
from hibiki.common.http import HttpServer, build_app
from hibiki.common.lifecycle import NatsComponent, run_until_stopped
from hibiki.common.logging import get_logger
from hibiki.common.net import bind_tcp
from hibiki.recording.config import RecordingConfig
from hibiki.recording.deletion import Deleter, Reaper
from hibiki.recording.http import info, lifecycle
from hibiki.recording.http.lifecycle import TenantRecordings
from hibiki.recording.http.api import RecordingsApi
from hibiki.recording.http.common import Recorder
from hibiki.recording.http.evaluation_api import EvaluationApi
from hibiki.recording.index.audit import AuditChain, writer_id
from hibiki.recording.index.stores import open_index
from hibiki.recording.nats import consumers
from hibiki.recording.nats.notifier import Notifier
from hibiki.recording.pipeline import Pipeline
from hibiki.recording.storage.blobs import LocalBlobs, MirroredBlobs, open_store
from hibiki.recording.storage.keys import KeyStore, load_master_key
from hibiki.recording.storage.repair import MirrorRepair
from hibiki.recording.web import pages


log = get_logger("hibiki.recording")


def _previous_master_key(path: Path | None) -> bytes | None:
    if path is None:
        return None
    if not path.is_file():
        raise StartupError(f"HIBIKI_RECORDING_MASTER_KEY_PREVIOUS_FILE: {path} does not exist")
    return load_master_key(None, path)


def _writable(path: Path, what: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"recording {what} {path}: {exc.strerror}") from None
    if not os.access(path, os.W_OK):
        raise StartupError(f"recording {what} {path} is not writable")


class Tasks:
    """Background loops (consumers, retention) started after NATS and stopped before it drains."""

    def __init__(self, *loops: Any) -> None:
        self._loops, self._stop, self._tasks = loops, asyncio.Event(), list[asyncio.Task[None]]()

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(loop(self._stop)) for loop in self._loops]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def main(stop: asyncio.Event, config: RecordingConfig | None = None, ready: asyncio.Event | None = None) -> None:
    config = config or RecordingConfig.from_env()
    authority = load_authority(Env.load(), config.data_dir)
    sock = bind_tcp(config.host, config.port, "recording HTTP")
    _writable(config.storage_dir, "storage")
    _writable(config.work_dir, "work directory")
    blobs = open_store(config.store_url, config.store_mirror_url, config.storage_dir)
    mirrored = blobs if isinstance(blobs, MirroredBlobs) else None
    keys = KeyStore(config.keys_dir, load_master_key(config.master_key, config.master_key_file),
                    _previous_master_key(config.previous_master_key_file), replica=mirrored)
    if config.previous_master_key_file is not None:
        try:
            rewrapped, current = await asyncio.to_thread(keys.rewrap)
        except InvalidTag:
            raise StartupError(f"recording keys in {config.keys_dir}: a data key opens with neither the master key "
                               "nor the previous one") from None
        log.info("recording_keys_rewrapped", rewrapped=rewrapped, already_current=current)
    index = open_index(config.index_url, config.index_cluster, config.index_insert_quorum)
    await asyncio.to_thread(index.migrate)
    nc = await bus.connect(config.nats_url, "hibiki-recording")
    js = nc.jetstream()
    await bus.ensure_events_stream(js, stop=stop)
    notifier = Notifier(js)
    pipeline = Pipeline(config.spool_dir, config.work_dir, blobs, keys, index, notifier, config.retention,
                        config.codec, config.bitrate, config.kill_after)
    trail = AuditChain(index, writer_id(config.replica_id), authority.derive_key("recording-audit-chain"))
    deleter = Deleter(index, blobs, notifier, trail)
    stopped = bus.DurableConsumer(js, config.consumer, consumers.STOPPED, consumers.Stopped(pipeline, config.nodes), batch=1,
                                  ack_wait=config.ack_wait)
    handled = bus.DurableConsumer(js, f"{config.consumer}-dispositions", consumers.DISPOSITIONS,
                                  consumers.Dispositions(index, config.retention))
    reaper = Reaper(deleter, config.retention_interval)
    loops = [stopped.run, handled.run, reaper.run]
    if mirrored is not None:
        loops.append(MirrorRepair(mirrored, keys, config.store_repair_interval).run)
    api = RecordingsApi(index, blobs, keys, notifier, deleter, trail)
    evaluation = EvaluationApi(index, Recorder(index, notifier, trail))

    async def readiness() -> dict[str, bool]:
        store_ok = os.access(config.storage_dir, os.W_OK) if isinstance(blobs, LocalBlobs) else True
        return {"nats": nc.is_connected, "storage": store_ok}

    routes = [*info.routes(), *api.routes(), *evaluation.routes(), *pages.routes(config.directory_url),
              *lifecycle.routes(TenantRecordings(index, blobs, keys))]
    http = HttpServer(build_app("recording", authority, routes, readiness=readiness, open_paths=pages.PATHS), sock)
    try:
        await run_until_stopped(stop, [NatsComponent(nc), revocation.RevocationWatch(nc, authority.revocations, stop=stop),
                                       Tasks(*loops), http], ready,
                                url=f"http://{config.host}:{http.port}", storage=blobs.name,
                                spool=str(config.spool_dir))
    finally:
        index.close()
