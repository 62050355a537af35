"""Revoked sessions and API tokens, known to every service at once (NATS KV ``hibiki_auth_revoked``).

The directory issues console sessions and API tokens and is the one that revokes them (logout,
a user disabled or deleted, a password changed, a token revoked). It writes one key per
revocation into the bucket; every service watches the bucket from its start
(:class:`RevocationWatch`, a lifecycle component) and its :class:`~hibiki.common.auth.TokenAuthority`
refuses a token whose session (``sid``) or id (``jti``) is revoked, or which was issued to a
user before that user's ``not_before`` mark. Keys:

    s.<sid>                  a session           value: {"until": <epoch, when the token expires anyway>}
    t.<jti>                  an API token        value: {"until": ...}
    u.<sha256(tenant/sub)>   every token a user was issued before ``not_before``
                                                 value: {"not_before": <epoch>, "until": ...}

Fail closed: a token that carries a ``sid`` or ``jti`` is refused while the authority has no
live revocation list (the watch has not loaded the bucket, or was never started).
Service tokens and tokens printed by ``hibiki token`` carry neither and are not affected.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from hibiki.common import bus
from hibiki.common.logging import get_logger

BUCKET = "hibiki_auth_revoked"
log = get_logger("hibiki.auth")


def user_key(tenant: str, subject: str) -> str:
    return "u." + hashlib.sha256(f"{tenant}/{subject}".encode()).hexdigest()[:40]


class Revocations:
    """What the watch has seen; consulted by ``TokenAuthority.verify`` on every use of a token."""

    def __init__(self) -> None:
        self.live = False
        self._revoked: dict[str, float] = {}          # s.<sid> / t.<jti> -> until
        self._not_before: dict[str, float] = {}       # u.<hash> -> epoch

    def apply(self, key: str, value: bytes | None) -> None:
        if value is None:
            self._revoked.pop(key, None)
            self._not_before.pop(key, None)
            return
        try:
            data: dict[str, Any] = json.loads(value)
        except ValueError:
            return
        if key.startswith("u."):
            self._not_before[key] = max(self._not_before.get(key, 0.0), float(data.get("not_before", 0)))
        else:
            self._revoked[key] = float(data.get("until", 0))

    def revoked(self, tenant: str, subject: str, session: str, token_id: str, issued_at: float) -> str | None:
        """Why the token is no longer valid, or None."""
        if session and f"s.{session}" in self._revoked:
            return "the session has ended"
        if token_id and f"t.{token_id}" in self._revoked:
            return "the token was revoked"
        mark = self._not_before.get(user_key(tenant, subject))
        if mark is not None and issued_at < mark:
            return "the user's sessions and tokens were revoked"
        return None

    def __len__(self) -> int:
        return len(self._revoked) + len(self._not_before)


async def bucket(js: JetStreamContext) -> KeyValue:
    try:
        return await js.key_value(BUCKET)
    except (BucketNotFoundError, NotFoundError):
        pass
    return await js.create_key_value(KeyValueConfig(bucket=BUCKET, history=1, storage=StorageType.FILE,
                                                replicas=bus.replicas()))


async def revoke(kv: KeyValue, key: str, until: float, not_before: float | None = None) -> None:
    """Write one revocation (the directory's side)."""
    value: dict[str, float] = {"until": until}
    if not_before is not None:
        value["not_before"] = not_before
    await kv.put(key, json.dumps(value).encode())


class RevocationWatch:
    """A service's component: loads the bucket before the service is ready, then follows it.

    ``run_until_stopped(stop, [NatsComponent(nc), RevocationWatch(nc, authority.revocations), ...])``"""

    def __init__(self, nc: Any, revocations: Revocations, timeout: float = 10.0,
                 stop: asyncio.Event | None = None) -> None:
        self._nc, self._revocations, self._timeout, self._stop = nc, revocations, timeout, stop
        self._task: asyncio.Task[None] | None = None
        self._watcher: Any = None

    async def start(self) -> None:
        """Waits while JetStream elects the bucket's leader (:func:`bus.retry_unavailable`)."""
        async def watch() -> Any:
            return await (await bucket(self._nc.jetstream())).watchall()
        self._watcher = await bus.retry_unavailable("the revocation bucket", watch, stop=self._stop)
        loaded = asyncio.Event()
        self._task = asyncio.create_task(self._run(loaded))
        await asyncio.wait_for(loaded.wait(), self._timeout)

    async def _run(self, loaded: asyncio.Event) -> None:
        now = time.time()
        async for entry in self._watcher:
            if entry is None:            # the bucket's contents at start are in
                self._revocations.live = True
                loaded.set()
                log.info("revocations_loaded", entries=len(self._revocations))
                continue
            deleted = entry.operation in ("DEL", "PURGE")
            value = None if deleted else entry.value
            if value is not None and not entry.key.startswith("u."):
                try:
                    if float(json.loads(value).get("until", now + 1)) < now:
                        continue         # expired anyway
                except ValueError:
                    continue
            self._revocations.apply(entry.key, value)
            if loaded.is_set():
                log.info("revocation_applied", key=entry.key[:24])

    async def stop(self) -> None:
        self._revocations.live = False
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._watcher is not None:
            try:
                await self._watcher.stop()
            except Exception:
                pass
