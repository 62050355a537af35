"""Protection against SIP password guessing.

mod_sofia sends the caller's digest with every ``sip_auth`` request (``sip_auth_response``,
nonce, cnonce, qop, nc, uri, method) and the client address (``ip``), so the directory
checks the answer against the device's a1-hash itself, before FreeSWITCH does.

Wrong answers and unknown users are failures, counted over a sliding window of ``window``
seconds per address and per (address, username); a username is ``user@domain``:

- ``max_failures`` failures of one username from one address block that pair for
  ``block_seconds``: the other phones behind the same address (a city hall's NAT) go on;
- an address-wide block only for a scanner: ``max_failures`` failures from one address that
  name at least ``scanner_usernames`` distinct usernames. Failures for a tenant that trusts
  the address (its office networks) are not counted towards it, and an address-wide block does
  not apply to that tenant's own phones;
- a right answer clears the failures of its own username, nothing else (an attacker's own
  valid logins do not reset the count of the account being guessed).

While a block holds, every ``sip_auth`` it covers is "not found" (fail closed), a right
password included. Blocks are announced on NATS so every replica applies them, and every
failure a replica counts is shared (``on_failure``) so that the others count it too
(``failure(..., remote=True)``): requests spread over replicas get no more tries.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from hibiki.directory.xmlcurl import FsRequest

ADDRESS_WIDE = ""          # the username of an address-wide block
MAX_TRACKED = 100_000      # addresses and pairs with failures in the window, before pruning


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


def username(user: str, domain: str) -> str:
    return f"{user}@{domain}".lower()


@dataclass(frozen=True)
class Block:
    address: str
    username: str          # ``user@domain``; ADDRESS_WIDE ("") for the whole address
    until: float           # wall clock (seconds since the epoch)
    failures: int
    last_user: str
    last_domain: str
    tenant: str = "platform"   # the tenant of last_domain ("platform" when none)

    @property
    def address_wide(self) -> bool:
        return self.username == ADDRESS_WIDE


@dataclass(frozen=True)
class Failure:
    address: str
    username: str
    user: str
    domain: str
    tenant: str
    trusted: bool


@dataclass
class AuthGuard:
    max_failures: int = 10
    window: float = 60.0
    block_seconds: float = 600.0
    scanner_usernames: int = 5
    clock: Callable[[], float] = time.time
    on_failure: Callable[[Failure], None] | None = None   # told of every failure counted here (to share it)
    _by_pair: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _by_address: dict[str, deque[tuple[float, str]]] = field(default_factory=dict)
    _blocks: dict[tuple[str, str], Block] = field(default_factory=dict)

    def refusal(self, address: str, name: str, trusted: bool = False) -> Block | None:
        """The block that refuses ``name`` from ``address`` now, if any (``trusted``: the
        tenant of ``name`` lists the address as its own, so address-wide blocks do not apply)."""
        block = self._active((address, name))
        if block is None and not trusted:
            block = self._active((address, ADDRESS_WIDE))
        return block

    def _active(self, key: tuple[str, str]) -> Block | None:
        block = self._blocks.get(key)
        if block is not None and self.clock() >= block.until:
            del self._blocks[key]
            return None
        return block

    def failure(self, address: str, name: str, user: str, domain: str, tenant: str = "platform",
                trusted: bool = False, remote: bool = False) -> Block | None:
        """Count one failure; return the new block when this one crossed a limit. ``remote``: a
        failure another replica counted (not shared again; that replica announces the block)."""
        if self.on_failure is not None and not remote:
            self.on_failure(Failure(address, name, user, domain, tenant, trusted))
        now = self.clock()
        horizon = now - self.window
        pair = self._by_pair.setdefault((address, name), deque())
        pair.append(now)
        while pair and pair[0] <= horizon:
            pair.popleft()
        if len(pair) >= self.max_failures:
            pair.clear()
            return self._block(Block(address, name, now + self.block_seconds, self.max_failures, user, domain, tenant))
        if trusted:
            return None
        recent = self._by_address.setdefault(address, deque(maxlen=10 * self.max_failures * self.scanner_usernames))
        recent.append((now, name))
        while recent and recent[0][0] <= horizon:
            recent.popleft()
        if len(recent) >= self.max_failures and len({n for _, n in recent}) >= self.scanner_usernames:
            count = len(recent)
            recent.clear()
            return self._block(Block(address, ADDRESS_WIDE, now + self.block_seconds, count, user, domain, tenant))
        return None

    def _block(self, block: Block) -> Block:
        self._blocks[(block.address, block.username)] = block
        if len(self._by_pair) > MAX_TRACKED or len(self._by_address) > MAX_TRACKED:   # bound memory under a wide scan
            horizon = self.clock() - self.window
            self._by_pair = {k: q for k, q in self._by_pair.items() if q and q[-1] > horizon}
            self._by_address = {k: q for k, q in self._by_address.items() if q and q[-1][0] > horizon}
        return block

    def success(self, address: str, name: str) -> None:
        """A right answer: forget this username's failures from this address, and only those."""
        self._by_pair.pop((address, name), None)
        recent = self._by_address.get(address)
        if recent:
            kept = [entry for entry in recent if entry[1] != name]
            if len(kept) != len(recent):
                recent.clear()
                recent.extend(kept)

    def apply(self, block: Block) -> None:
        """A block decided elsewhere (another replica's announcement)."""
        key = (block.address, block.username)
        current = self._blocks.get(key)
        if current is None or current.until < block.until:
            self._blocks[key] = block

    def lift(self, address: str, name: str) -> Block | None:
        """Remove a block (an administrator's decision); the block lifted, or None."""
        self._by_pair.pop((address, name), None)
        if name == ADDRESS_WIDE:
            self._by_address.pop(address, None)
        return self._blocks.pop((address, name), None)

    def blocks(self) -> list[Block]:
        now = self.clock()
        for key in [k for k, b in self._blocks.items() if now >= b.until]:
            del self._blocks[key]
        return sorted(self._blocks.values(), key=lambda b: (b.address, b.username))
