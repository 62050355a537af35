"""Protection against SIP password scanners.

mod_sofia sends the caller's digest with every ``sip_auth`` request (``sip_auth_response``,
nonce, cnonce, qop, nc, uri, method) and the client address (``ip``), so the directory
can check the answer against the device's a1-hash itself, before FreeSWITCH does. Wrong
answers and unknown users count as failures per address; ``max_failures`` within
``window`` seconds block the address for ``block_seconds``: every ``sip_auth`` from it is
then answered "not found" (fail closed), also for a right password.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from hibiki.directory.xmlcurl import FsRequest


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 (SIP digest, RFC 2617)


def digest_matches(request: FsRequest, a1_hash: str) -> bool | None:
    """True/False when the request carries a digest to check, None when it carries none."""
    response = request.get("sip_auth_response")
    if not response:
        return None
    ha2 = _md5(f"{request.get('sip_auth_method')}:{request.get('sip_auth_uri')}")
    nonce, qop = request.get("sip_auth_nonce"), request.get("sip_auth_qop")
    if qop:
        expected = _md5(f"{a1_hash}:{nonce}:{request.get('sip_auth_nc')}:{request.get('sip_auth_cnonce')}:{qop}:{ha2}")
    else:
        expected = _md5(f"{a1_hash}:{nonce}:{ha2}")
    return expected == response.lower()


@dataclass
class Block:
    address: str
    until: float
    failures: int
    last_user: str
    last_domain: str


@dataclass
class AuthGuard:
    max_failures: int = 10
    window: float = 60.0
    block_seconds: float = 600.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _blocked: dict[str, float] = field(default_factory=dict)

    def blocked(self, address: str) -> bool:
        until = self._blocked.get(address)
        if until is None:
            return False
        if self.clock() >= until:
            del self._blocked[address]
            return False
        return True

    def block(self, address: str, seconds: float) -> None:
        """Apply a block decided elsewhere (another replica's event)."""
        self._blocked[address] = max(self._blocked.get(address, 0.0), self.clock() + seconds)

    def failure(self, address: str, user: str, domain: str) -> Block | None:
        """Count one failure; return the new block when this one crossed the limit."""
        now = self.clock()
        recent = self._failures.setdefault(address, deque())
        recent.append(now)
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if len(recent) < self.max_failures or self.blocked(address):
            return None
        count = len(recent)
        recent.clear()
        self._blocked[address] = now + self.block_seconds
        if len(self._failures) > 100_000:  # bound memory under a wide scan
            self._failures = {a: q for a, q in self._failures.items() if q}
        return Block(address, now + self.block_seconds, count, user, domain)

    def success(self, address: str) -> None:
        self._failures.pop(address, None)
