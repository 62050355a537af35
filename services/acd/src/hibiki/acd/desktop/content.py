"""What the desktop shows beside the call: talk scripts per queue and the FAQ, per tenant, in
the JetStream key-value bucket ``hibiki_acd_desk`` (beside the queues' ``hibiki_acd_config``):

    <tenant>.script.<queue_id>    {"queue_id", "title", "text", "updated_at"}
    <tenant>.faq.<article_id>     {"id", "title", "body", "tags", "updated_at"}
"""

from __future__ import annotations

import json
import time
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NoKeysError, NotFoundError
from nats.js.kv import KeyValue

DESK_BUCKET = "hibiki_acd_desk"
MAX_ARTICLES = 2000


async def open_desk_bucket(js: JetStreamContext) -> KeyValue:
    try:
        return await js.key_value(DESK_BUCKET)
    except (BucketNotFoundError, NotFoundError):
        return await js.create_key_value(KeyValueConfig(bucket=DESK_BUCKET, history=1, storage=StorageType.FILE))


class DeskContent:
    """Scripts and articles of every tenant (ids are checked by the caller: ``buckets.ID``)."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def _get(self, key: str) -> dict[str, Any] | None:
        try:
            entry = await self._kv.get(key)
        except (KeyNotFoundError, NotFoundError):
            return None
        if entry is None or not entry.value:
            return None
        value: dict[str, Any] = json.loads(entry.value)
        return value

    async def _put(self, key: str, value: dict[str, Any]) -> dict[str, Any]:
        value = {**value, "updated_at": time.time()}
        await self._kv.put(key, json.dumps(value, ensure_ascii=False).encode())
        return value

    async def _delete(self, key: str) -> bool:
        if await self._get(key) is None:
            return False
        await self._kv.purge(key)
        return True

    async def script(self, tenant: str, queue_id: str) -> dict[str, Any] | None:
        return await self._get(f"{tenant}.script.{queue_id}")

    async def put_script(self, tenant: str, queue_id: str, title: str, text: str) -> dict[str, Any]:
        return await self._put(f"{tenant}.script.{queue_id}", {"queue_id": queue_id, "title": title, "text": text})

    async def delete_script(self, tenant: str, queue_id: str) -> bool:
        return await self._delete(f"{tenant}.script.{queue_id}")

    async def article(self, tenant: str, article_id: str) -> dict[str, Any] | None:
        return await self._get(f"{tenant}.faq.{article_id}")

    async def put_article(self, tenant: str, article_id: str, title: str, body: str,
                          tags: list[str]) -> dict[str, Any]:
        return await self._put(f"{tenant}.faq.{article_id}",
                               {"id": article_id, "title": title, "body": body, "tags": tags})

    async def delete_article(self, tenant: str, article_id: str) -> bool:
        return await self._delete(f"{tenant}.faq.{article_id}")

    async def articles(self, tenant: str) -> list[dict[str, Any]]:
        try:
            keys = await self._kv.keys()
        except (NoKeysError, NotFoundError):
            return []
        prefix = f"{tenant}.faq."
        found = [await self._get(key) for key in sorted(k for k in keys if k.startswith(prefix))[:MAX_ARTICLES]]
        return [a for a in found if a is not None]
