"""The tenants' data keys, wrapped by one master key, on disk (REC-03 encryption at rest).

    <keys dir>/<tenant>/<key id>.key   the data key, AES-GCM-wrapped by the master key
    <keys dir>/<tenant>/current        the id of the key new recordings are written with

The master key is ``HIBIKI_RECORDING_MASTER_KEY`` (base64 of 32 bytes), else the file
``HIBIKI_RECORDING_MASTER_KEY_FILE`` (default ``<data dir>/recording/master.key``, created 0600 on
first use). :meth:`KeyStore.rotate` makes a new current key; keys are never removed, so every
recording stays readable with the key its blob names. Two replicas sharing the directory may both
create a first key: both stay valid, the last ``current`` wins.

The master key itself rotates with a *previous* master key (``HIBIKI_RECORDING_MASTER_KEY_PREVIOUS_FILE``):
keys are read with either, :meth:`KeyStore.rewrap` (run at every start while a previous key is
given) wraps each data key still under the previous one with the new one, one file at a time
(a temporary name, then renamed: a crash leaves each file whole, under one master or the other;
running it again finishes the job).

With a ``replica`` (the recording store, mirrored to the other data center: ``MirroredBlobs``),
every wrapped data key is also an object ``_keys/<tenant>/<key id>.hbr`` there, written before the
key is used: a recording acknowledged in one data center can be decrypted in the other after the
first is lost (both run with the same master key). :meth:`KeyStore.key` falls back to the replica
when the keys directory lacks a key; :meth:`KeyStore.publish` copies keys made before the replica
was configured (and rewrapped ones); :meth:`KeyStore.shred` removes the replica's copies first.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hibiki.common.errors import ConfigError, StartupError
from hibiki.recording.storage.blobs import BlobStore, copies

KEY_BYTES = 32
_KEY_ID = re.compile(r"^k[0-9]{14}-[0-9a-f]{8}$")


def load_master_key(inline: str | None, path: Path) -> bytes:
    if inline:
        try:
            key = base64.b64decode(inline, validate=True)
        except ValueError:
            raise ConfigError("HIBIKI_RECORDING_MASTER_KEY is not base64") from None
        if len(key) != KEY_BYTES:
            raise ConfigError(f"HIBIKI_RECORDING_MASTER_KEY must decode to {KEY_BYTES} bytes")
        return key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode())
        except FileExistsError:
            pass
    key = base64.b64decode(path.read_text().strip())
    if len(key) != KEY_BYTES:
        raise StartupError(f"recording master key {path} must hold {KEY_BYTES} bytes in base64")
    return key


class KeyStore:
    def __init__(self, root: Path, master: bytes, previous: bytes | None = None,
                 replica: BlobStore | None = None) -> None:
        self._root, self._master, self._replica = root, AESGCM(master), replica
        self._previous = AESGCM(previous) if previous is not None and previous != master else None
        self._cache: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def _wrap(self, tenant: str, key_id: str, key: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._master.encrypt(nonce, key, f"{tenant}/{key_id}".encode())

    def _unwrap(self, tenant: str, key_id: str, wrapped: bytes) -> tuple[bytes, bool]:
        """(the data key, whether it was wrapped by the previous master key); InvalidTag when neither opens it."""
        aad = f"{tenant}/{key_id}".encode()
        try:
            return self._master.decrypt(wrapped[:12], wrapped[12:], aad), False
        except InvalidTag:
            if self._previous is None:
                raise
            return self._previous.decrypt(wrapped[:12], wrapped[12:], aad), True

    @staticmethod
    def replica_key(tenant: str, key_id: str) -> str:
        return f"_keys/{tenant}/{key_id}.hbr"

    def publish(self) -> int:
        """Every data key of the keys directory that the replica lacks (or holds other bytes of),
        written to it; returns how many. StoreUnavailable when the replica does not answer."""
        if self._replica is None or not self._root.is_dir():
            return 0
        written = 0
        for path in sorted(self._root.glob("*/k*.key")):
            tenant, key_id = path.parent.name, path.stem
            if not _KEY_ID.match(key_id):
                continue
            wrapped, name = path.read_bytes(), self.replica_key(tenant, key_id)
            if any(copy != wrapped for copy in copies(self._replica, name)):
                self._replica.put(name, wrapped)
                written += 1
        return written

    def rewrap(self) -> tuple[int, int]:
        """Every data key still wrapped by the previous master key, wrapped by the current one;
        (rewrapped, already current). A key neither opens is left alone and logged by the caller."""
        done = current = 0
        if not self._root.is_dir():
            return done, current
        for path in sorted(self._root.glob("*/k*.key")):
            tenant, key_id = path.parent.name, path.stem
            if not _KEY_ID.match(key_id):
                continue
            key, old = self._unwrap(tenant, key_id, path.read_bytes())
            if not old:
                current += 1
                continue
            tmp = path.with_name(f".{key_id}.{secrets.token_hex(4)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(self._wrap(tenant, key_id, key))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            if self._replica is not None:
                self._replica.put(self.replica_key(tenant, key_id), path.read_bytes())
            done += 1
        return done, current

    def _dir(self, tenant: str) -> Path:
        return self._root / tenant

    def current(self, tenant: str) -> tuple[str, bytes]:
        """The tenant's current key (created on first use)."""
        pointer = self._dir(tenant) / "current"
        if pointer.exists():
            key_id = pointer.read_text().strip()
            return key_id, self.key(tenant, key_id)
        return self.rotate(tenant)

    def rotate(self, tenant: str) -> tuple[str, bytes]:
        """A new data key becomes current; the old ones stay for reading."""
        if self._replica is not None:     # both stores answer first: a retry while one is down makes no key
            self._replica.keys(f"_keys/{tenant}/")
        key_id = f"k{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
        key = secrets.token_bytes(KEY_BYTES)
        folder = self._dir(tenant)
        folder.mkdir(parents=True, exist_ok=True)
        wrapped = self._wrap(tenant, key_id, key)
        fd = os.open(folder / f"{key_id}.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(wrapped)
            fh.flush()
            os.fsync(fh.fileno())
        if self._replica is not None:     # in both data centers before any recording uses it
            self._replica.put(self.replica_key(tenant, key_id), wrapped)
        tmp = folder / f".current.{secrets.token_hex(4)}"
        tmp.write_text(key_id)
        os.replace(tmp, folder / "current")
        with self._lock:
            self._cache[(tenant, key_id)] = key
        return key_id, key

    def key(self, tenant: str, key_id: str) -> bytes:
        """A key by id (KeyError when the tenant has no such key, or the master key does not open it)."""
        with self._lock:
            known = self._cache.get((tenant, key_id))
        if known is not None:
            return known
        if not _KEY_ID.match(key_id):
            raise KeyError(key_id)
        try:
            wrapped: bytes | None = (self._dir(tenant) / f"{key_id}.key").read_bytes()
        except OSError:
            wrapped = None
        if wrapped is None and self._replica is not None:    # made in the other data center
            wrapped = self._replica.get(self.replica_key(tenant, key_id))
        if wrapped is None:
            raise KeyError(key_id)
        try:
            key, _ = self._unwrap(tenant, key_id, wrapped)
        except InvalidTag:
            raise KeyError(key_id) from None
        with self._lock:
            self._cache[(tenant, key_id)] = key
        return key

    def key_ids(self, tenant: str) -> list[str]:
        folder = self._dir(tenant)
        return sorted(p.stem for p in folder.glob("k*.key")) if folder.is_dir() else []

    def shred(self, tenant: str) -> int:
        """Crypto-shredding: every data key of the tenant is destroyed (files overwritten, then
        removed), so no copy of its audio, wherever it is kept, can be decrypted again. Returns how many."""
        folder = self._dir(tenant)
        shredded = 0
        if self._replica is not None:     # first: a store that does not answer leaves every key in place
            for name in self._replica.keys(f"_keys/{tenant}/"):
                self._replica.delete(name)
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.is_file():
                    size = path.stat().st_size
                    with path.open("r+b") as fh:
                        fh.write(secrets.token_bytes(size))
                        fh.flush()
                        os.fsync(fh.fileno())
                    path.unlink()
                    shredded += path.suffix == ".key"
            folder.rmdir()
        with self._lock:
            for cached in [k for k in self._cache if k[0] == tenant]:
                del self._cache[cached]
        return shredded
