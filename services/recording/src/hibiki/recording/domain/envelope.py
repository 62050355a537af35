"""Encryption at rest: AES-256-GCM with a tenant's data key, the key's id in the header.

Layout of a stored blob::

    b"HBR1" | len(key_id) (1 byte) | key_id (ASCII) | nonce (12 bytes) | ciphertext + tag (16 bytes)

The associated data is ``<tenant>/<recording_id>``: a blob copied under another recording or
tenant does not decrypt. The key id names the data key, so after a rotation old recordings are
still read with the key they were written with (:class:`hibiki.recording.storage.keys.KeyStore`).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"HBR1"
NONCE = 12


class Undecryptable(Exception):
    """Not one of our blobs, a key we do not have, or altered (the GCM tag does not match)."""


def associated(tenant: str, recording_id: str) -> bytes:
    return f"{tenant}/{recording_id}".encode()


def seal(plain: bytes, key_id: str, key: bytes, aad: bytes) -> bytes:
    ident = key_id.encode("ascii")
    if not 0 < len(ident) < 256:
        raise ValueError("key id must be 1-255 ASCII characters")
    nonce = os.urandom(NONCE)
    return MAGIC + bytes([len(ident)]) + ident + nonce + AESGCM(key).encrypt(nonce, plain, aad)


def key_id_of(blob: bytes) -> str:
    if len(blob) < len(MAGIC) + 1 or not blob.startswith(MAGIC):
        raise Undecryptable("not a Hibiki recording blob")
    size = blob[len(MAGIC)]
    ident = blob[len(MAGIC) + 1:len(MAGIC) + 1 + size]
    if len(ident) != size:
        raise Undecryptable("truncated header")
    try:
        return ident.decode("ascii")
    except UnicodeDecodeError:
        raise Undecryptable("key id is not ASCII") from None


def open_sealed(blob: bytes, key_for: Callable[[str], bytes], aad: bytes) -> bytes:
    key_id = key_id_of(blob)
    start = len(MAGIC) + 1 + len(key_id)
    nonce, body = blob[start:start + NONCE], blob[start + NONCE:]
    if len(nonce) != NONCE or len(body) < 16:
        raise Undecryptable("truncated blob")
    try:
        key = key_for(key_id)
    except KeyError:
        raise Undecryptable(f"no data key {key_id!r}") from None
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag:
        raise Undecryptable("authentication failed (altered, or another recording's blob)") from None
