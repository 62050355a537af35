"""The repair loop of a mirrored store (``HIBIKI_RECORDING_STORE_MIRROR_URL``): every
``HIBIKI_RECORDING_STORE_REPAIR_INTERVAL`` seconds, the data keys not yet in the store are written
to it and every object one data center's store holds and the other lacks is copied over, so a store
that was down (or came back empty, rebuilt after its site was lost) holds everything again."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hibiki.common.logging import get_logger
from hibiki.recording.storage.blobs import MirroredBlobs, StoreUnavailable
from hibiki.recording.storage.keys import KeyStore

log = get_logger("hibiki.recording.repair")


@dataclass
class MirrorRepair:
    blobs: MirroredBlobs
    keys: KeyStore
    interval: float

    def once(self) -> tuple[int, int]:
        """(data keys published, objects copied); StoreUnavailable while either store is down."""
        published = self.keys.publish()
        return published, self.blobs.repair()

    async def run(self, stop: asyncio.Event) -> None:
        down = False
        while not stop.is_set():
            try:
                published, copied = await asyncio.to_thread(self.once)
                if published or copied or down:
                    log.info("recording_store_repaired", store=self.blobs.name, keys_published=published,
                             objects_copied=copied)
                down = False
            except StoreUnavailable as exc:
                if not down:
                    log.warning("recording_store_repair_waiting", store=self.blobs.name, reason=str(exc)[:500])
                down = True
            except Exception:
                log.exception("recording_store_repair_failed", store=self.blobs.name)
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
