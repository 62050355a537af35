"""Where encrypted recordings live: one interface, the local filesystem (default) and S3.

Object keys are ``<tenant>/<yyyy>/<mm>/<dd>/<recording id>.<codec>.hbr``: writing the same key
again replaces the object, so a retried store never makes a second copy.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, urlparse

from hibiki.common.bus import Unavailable
from hibiki.common.errors import ConfigError


class StoreUnavailable(Unavailable):
    """The store did not answer or refused (disk error, S3 down or denying): try again later."""


T = TypeVar("T")


def _unavailable(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any) -> T:
        try:
            return method(self, *args)
        except (ValueError, StoreUnavailable):
            raise
        except Exception as exc:    # OSError, botocore's errors: one kind for callers
            raise StoreUnavailable(f"{self.name}: {type(exc).__name__}: {str(exc)[:200]}") from None
    return wrapper


class BlobStore(Protocol):
    """Blocking (call through ``asyncio.to_thread``); raises :class:`StoreUnavailable` when the store
    fails, ``ValueError`` for a malformed key."""

    name: str

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes | None:
        """The object, or None when there is none."""
        ...

    def delete(self, key: str) -> None:
        """Remove it (no error when it is already gone)."""
        ...

    def keys(self, prefix: str) -> list[str]: ...


def _checked(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in key:
        raise ValueError(f"bad object key {key!r}")
    return key


class LocalBlobs:
    """Files under a root; a write goes to a temporary name, is synced, then renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = f"file://{root}"

    @_unavailable
    def put(self, key: str, data: bytes) -> None:
        path = self.root / _checked(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @_unavailable
    def get(self, key: str) -> bytes | None:
        try:
            return (self.root / _checked(key)).read_bytes()
        except FileNotFoundError:
            return None

    @_unavailable
    def delete(self, key: str) -> None:
        (self.root / _checked(key)).unlink(missing_ok=True)

    @_unavailable
    def keys(self, prefix: str) -> list[str]:
        if self.root.exists() and not self.root.is_dir():     # a disk gone or unmounted, not an empty store
            raise NotADirectoryError(f"{self.root} is not a directory")
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*.hbr") if p.is_file())


class S3Blobs:
    """An S3-compatible bucket through boto3 (credentials from the usual AWS_* variables)."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None, region: str | None) -> None:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.name = f"s3://{bucket}/{self.prefix}"
        self._client: Any = boto3.client("s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
                                         config=Config(retries={"max_attempts": 3, "mode": "standard"},
                                                       connect_timeout=5, read_timeout=30))

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{_checked(key)}" if self.prefix else _checked(key)

    @_unavailable
    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    @_unavailable
    def get(self, key: str) -> bytes | None:
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self._client.exceptions.NoSuchKey:
            return None
        return bytes(answer["Body"].read())

    @_unavailable
    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._key(key))

    @_unavailable
    def keys(self, prefix: str) -> list[str]:
        full = self._key(prefix) if prefix else self.prefix
        out: list[str] = []
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
            for item in page.get("Contents", []):
                key = str(item["Key"])
                out.append(key[len(self.prefix) + 1:] if self.prefix else key)
        return sorted(out)


def open_blobs(url: str, default_root: Path) -> BlobStore:
    """``file:///path`` (or empty: the storage directory) or ``s3://bucket/prefix?endpoint=...&region=...``."""
    if not url:
        return LocalBlobs(default_root)
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalBlobs(Path(parsed.path))
    if parsed.scheme == "s3" and parsed.netloc:
        query = parse_qs(parsed.query)
        return S3Blobs(parsed.netloc, parsed.path, query.get("endpoint", [None])[0], query.get("region", [None])[0])
    raise ConfigError(f"HIBIKI_RECORDING_STORE_URL: file:///path or s3://bucket/prefix expected, not {url!r}")


class MirroredBlobs:
    """Two stores, each in its own data center: the site's own (``primary``) and the other site's
    (``mirror``, ``HIBIKI_RECORDING_STORE_MIRROR_URL``). Object storage replicates between sites
    asynchronously, so an object acknowledged on one site may exist only there when that site is
    lost; this writes both itself, before anything is acknowledged.

    - :meth:`put` and :meth:`delete` succeed only when both stores did: with one store down they
      raise :class:`StoreUnavailable` (after trying both), so the pipeline does not acknowledge the
      recording (the spool keeps it; the event is handed out again) and a deletion keeps its index
      row (the next sweep finishes it). What is acknowledged is in both sites.
    - :meth:`get` reads the own site's store first and falls back to the other one (missing or
      down); it answers None only when both answered that they have no such object.
    - :meth:`keys` is the union of both (both must answer).
    - :meth:`repair` copies what one store holds and the other lacks (the half of a write that
      failed, a store that came back empty), so both hold the same objects again.

    A put that failed half-way may leave the two stores with different bytes under one key until it
    is retried (the pipeline retries it until both hold the same verified copy); neither is an
    older acknowledged object than what the other holds, since an acknowledged put is in both.
    """

    def __init__(self, primary: BlobStore, mirror: BlobStore) -> None:
        self.primary, self.mirror = primary, mirror
        self.name = f"{primary.name} + mirror {mirror.name}"

    @property
    def stores(self) -> tuple[BlobStore, BlobStore]:
        return self.primary, self.mirror

    def _both(self, action: Callable[[BlobStore], None]) -> None:
        failed: list[str] = []
        for store in self.stores:
            try:
                action(store)
            except StoreUnavailable as exc:
                failed.append(str(exc))
        if failed:
            raise StoreUnavailable("; ".join(failed))

    def put(self, key: str, data: bytes) -> None:
        _checked(key)
        self._both(lambda store: store.put(key, data))

    def delete(self, key: str) -> None:
        _checked(key)
        self._both(lambda store: store.delete(key))

    def get(self, key: str) -> bytes | None:
        _checked(key)
        down: list[str] = []
        for store in self.stores:
            try:
                data = store.get(key)
            except StoreUnavailable as exc:
                down.append(str(exc))
                continue
            if data is not None:
                return data
        if down:
            raise StoreUnavailable("; ".join(down))
        return None

    def keys(self, prefix: str) -> list[str]:
        return sorted(set(self.primary.keys(prefix)) | set(self.mirror.keys(prefix)))

    def repair(self, prefix: str = "", *, deep: bool = False) -> int:
        """Copy every object one store holds and the other lacks; with ``deep``, also the own
        site's copy over the other's where their bytes differ (reads every object: on demand, not
        in the periodic loop). Returns how many objects were copied; StoreUnavailable when either
        store does not answer (nothing is decided on one store's word)."""
        here, there = set(self.primary.keys(prefix)), set(self.mirror.keys(prefix))
        copied = 0
        for source, target, missing in ((self.primary, self.mirror, here - there),
                                        (self.mirror, self.primary, there - here)):
            for key in sorted(missing):
                data = source.get(key)
                if data is not None:        # deleted meanwhile: nothing to copy
                    target.put(key, data)
                    copied += 1
        if deep:
            for key in sorted(here & there):
                data = self.primary.get(key)
                if data is not None and self.mirror.get(key) != data:
                    self.mirror.put(key, data)
                    copied += 1
        return copied


def copies(store: BlobStore, key: str) -> list[bytes | None]:
    """Every copy of an object: one per store of a :class:`MirroredBlobs` (all must answer), else
    the one. The pipeline checks each before it acknowledges a recording."""
    if isinstance(store, MirroredBlobs):
        return [s.get(key) for s in store.stores]
    return [store.get(key)]


def _identity(store: BlobStore) -> tuple[str, ...]:
    """What makes two stores the same: a directory, or an endpoint's bucket and prefix (one bucket
    name on two sites' endpoints is two stores)."""
    if isinstance(store, LocalBlobs):
        return ("file", str(store.root.resolve()))
    if isinstance(store, S3Blobs):
        return ("s3", str(store._client.meta.endpoint_url), store.bucket, store.prefix)
    return ("other", store.name)


def open_store(url: str, mirror_url: str, default_root: Path) -> BlobStore:
    """The store of ``HIBIKI_RECORDING_STORE_URL``, mirrored to ``HIBIKI_RECORDING_STORE_MIRROR_URL``
    when that is set (the other data center's store)."""
    primary = open_blobs(url, default_root)
    if not mirror_url:
        return primary
    if not urlparse(mirror_url).scheme:       # an empty URL means the storage directory: not a mirror
        raise ConfigError(f"HIBIKI_RECORDING_STORE_MIRROR_URL: file:///path or s3://bucket/prefix expected, "
                          f"not {mirror_url!r}")
    try:
        mirror = open_blobs(mirror_url, default_root)
    except ConfigError:
        raise ConfigError(f"HIBIKI_RECORDING_STORE_MIRROR_URL: file:///path or s3://bucket/prefix expected, "
                          f"not {mirror_url!r}") from None
    if _identity(mirror) == _identity(primary):
        raise ConfigError("HIBIKI_RECORDING_STORE_MIRROR_URL names the same store as HIBIKI_RECORDING_STORE_URL")
    return MirroredBlobs(primary, mirror)
