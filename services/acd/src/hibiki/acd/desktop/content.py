"""What the desktop shows beside the call: talk scripts per queue and the FAQ, per tenant, in
the JetStream key-value bucket ``hibiki_acd_desk`` (beside the queues' ``hibiki_acd_config``):

    <tenant>.script.<queue_id>    {"queue_id", "title", "text", "updated_at"}
    <tenant>.faq.<article_id>     {"id", "title", "body", "tags", "updated_at"}
    <tenant>.settings             {"case_types", "not_ready_reasons", "break_reasons", "updated_at"}
                                  (each a list of {"id", "label", "label_en"}; ``DEFAULT_SETTINGS`` when unset)
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

DEFAULT_SETTINGS: dict[str, list[dict[str, str]]] = {
    "case_types": [{"id": "inquiry", "label": "問い合わせ", "label_en": "Inquiry"},
                   {"id": "procedure", "label": "手続き", "label_en": "Procedure"},
                   {"id": "complaint", "label": "苦情・要望", "label_en": "Complaint or request"},
                   {"id": "other", "label": "その他", "label_en": "Other"}],
    "not_ready_reasons": [{"id": "meeting", "label": "会議", "label_en": "Meeting"},
                          {"id": "training", "label": "研修", "label_en": "Training"},
                          {"id": "paperwork", "label": "事務作業", "label_en": "Paperwork"},
                          {"id": "other", "label": "その他", "label_en": "Other"}],
    "break_reasons": [{"id": "lunch", "label": "昼休憩", "label_en": "Lunch"},
                      {"id": "rest", "label": "小休憩", "label_en": "Short break"}],
}


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

    async def settings(self, tenant: str) -> dict[str, Any]:
        """The tenant's case types and reasons; the defaults (``stored: false``) when never set."""
        stored = await self._get(f"{tenant}.settings")
        if stored is None:
            return {**DEFAULT_SETTINGS, "stored": False}
        return {**DEFAULT_SETTINGS, **stored, "stored": True}

    async def put_settings(self, tenant: str, settings: dict[str, Any]) -> dict[str, Any]:
        return {**await self._put(f"{tenant}.settings", settings), "stored": True}

    async def delete_settings(self, tenant: str) -> bool:
        return await self._delete(f"{tenant}.settings")

    async def articles(self, tenant: str) -> list[dict[str, Any]]:
        try:
            keys = await self._kv.keys()
        except (NoKeysError, NotFoundError):
            return []
        prefix = f"{tenant}.faq."
        found = [await self._get(key) for key in sorted(k for k in keys if k.startswith(prefix))[:MAX_ARTICLES]]
        return [a for a in found if a is not None]
