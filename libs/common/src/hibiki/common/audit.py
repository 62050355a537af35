"""The hash chain of an append-only audit trail (ADM-05), shared by every service that keeps one.

Each entry of a tenant carries its sequence number (1, 2, ...) and the hash of the entry before
it (``prev_hash``; the first entry's is :data:`GENESIS`); its own ``hash`` is the SHA-256 of the
previous hash and the entry's canonical JSON. Changing any field of an entry, removing one, or
reordering them breaks the chain from there on, and :func:`verify` says where:

    entries = [...]                                  # a tenant's, in sequence order
    problems = verify(entries)                       # [] when intact
    h = entry_hash(prev_hash, fields)                # what a new entry stores

Removing the newest entries cannot be seen from the chain alone: the store also keeps each
tenant's head (sequence and hash) apart, and :func:`verify` compares against it.
With a ``key`` (the directory derives one from the shared auth secret) the hash is an HMAC, so
someone who can write the database but does not hold the secret cannot rebuild a consistent
chain after an edit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
CHAINED = ("tenant", "seq", "at", "actor", "roles", "action", "resource", "resource_id", "before", "after",
           "address", "outcome")


def canonical(fields: Mapping[str, Any], chained: Sequence[str] = CHAINED) -> bytes:
    """The JSON that is hashed: the chained fields only, sorted keys, no spaces, UTF-8. A trail of
    another shape (the recording service's) names its own ``chained`` fields."""
    return json.dumps({k: fields.get(k) for k in chained}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str).encode()


def entry_hash(prev_hash: str, fields: Mapping[str, Any], key: bytes = b"", chained: Sequence[str] = CHAINED) -> str:
    message = prev_hash.encode() + b"\n" + canonical(fields, chained)
    if key:
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


@dataclass(frozen=True)
class Problem:
    seq: int
    what: str            # altered | missing | reordered | truncated

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "problem": self.what}


def verify(entries: Sequence[Mapping[str, Any]], head: tuple[int, str] | None = None,
           key: bytes = b"", chained: Sequence[str] = CHAINED) -> list[Problem]:
    """Check a tenant's entries (in ``seq`` order, each with ``seq``, ``prev_hash``, ``hash`` and
    the chained fields) and, with ``head`` (last sequence and hash recorded apart), that none
    were removed from the end."""
    problems: list[Problem] = []
    prev, expected_seq = GENESIS, 1
    for entry in entries:
        seq = int(entry["seq"])
        if seq != expected_seq:
            problems.append(Problem(expected_seq, "missing" if seq > expected_seq else "reordered"))
        if entry["prev_hash"] != prev:
            problems.append(Problem(seq, "missing" if seq != expected_seq else "altered"))
        if not hmac.compare_digest(entry_hash(str(entry["prev_hash"]), entry, key, chained), str(entry["hash"])):
            problems.append(Problem(seq, "altered"))
        prev, expected_seq = str(entry["hash"]), seq + 1
    if head is not None and head[0] > 0 and (expected_seq - 1 != head[0] or prev != head[1]):
        problems.append(Problem(head[0], "truncated"))
    return problems
