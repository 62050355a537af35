"""Loopback addresses and free ports for one bench (a FreeSWITCH and its phones).

Every bench takes a random /24 inside ``HIBIKI_FS_TEST_NET`` (a CIDR in 127.0.0.0/8, default
``127.64.0.0/10``) and holds it: a socket listening on its switch address, port ``RESERVE_PORT``,
for as long as the bench lives (``release``), so two benches of this machine (parallel pytest
workers, other runs) never share a /24, and so never a SIP, event-socket or RTP port: FreeSWITCH's
ports, picked free on the bench's own address, cannot be taken before it binds them.
Ports are picked at random below the ephemeral range."""

from __future__ import annotations

import ipaddress
import os
import random
import socket
from dataclasses import dataclass

DEFAULT_NET = "127.64.0.0/10"
RESERVE_PORT = 9999   # below the ports free_port hands out (10000 and up)
FIXED_SUBNETS = 4     # the first /24s of the net: support/failover.py's sites sit there at fixed addresses
_held: dict[ipaddress.IPv4Address, socket.socket] = {}


def test_net() -> ipaddress.IPv4Network:
    net = ipaddress.IPv4Network(os.environ.get("HIBIKI_FS_TEST_NET", DEFAULT_NET))
    if not net.subnet_of(ipaddress.IPv4Network("127.0.0.0/8")) or net.prefixlen > 24:
        raise ValueError(f"HIBIKI_FS_TEST_NET={net} must be a /24 or larger inside 127.0.0.0/8")
    return net


def _reserve(address: str) -> socket.socket | None:
    """A listening socket on ``address``:``RESERVE_PORT`` (no SO_REUSEADDR), or None when another
    bench on this machine holds that address."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((address, RESERVE_PORT))
        s.listen(1)
    except OSError:
        s.close()
        return None
    return s


@dataclass(frozen=True)
class Bench:
    """The addresses of one bench: ``switch`` (FreeSWITCH: SIP, RTP, event socket),
    ``carrier`` (a trunk trusted by address), and ``phone(n)`` for the phones."""

    base: ipaddress.IPv4Address

    @property
    def switch(self) -> str:
        return str(self.base + 1)

    @property
    def carrier(self) -> str:
        return str(self.base + 9)

    def phone(self, n: int = 0) -> str:
        if not 0 <= n < 200:
            raise ValueError("phone number out of range")
        return str(self.base + 20 + n)


def pick_bench() -> Bench:
    net = test_net()
    subnets = list(net.subnets(new_prefix=24)) if net.prefixlen < 24 else [net]
    if len(subnets) > 2 * FIXED_SUBNETS:
        subnets = subnets[FIXED_SUBNETS:]   # left to the sites of support/failover.py (fixed addresses)
    random.shuffle(subnets)       # each /24 tried once, in random order
    for subnet in subnets:
        if subnet.network_address == ipaddress.IPv4Address("127.0.0.0"):
            continue   # 127.0.0.x belongs to the stack and everything else on the machine
        held = _reserve(str(subnet.network_address + 1))
        if held is not None:
            _held[subnet.network_address] = held
            return Bench(subnet.network_address)
    raise RuntimeError(f"no free /24 in {net} (each bench on this machine holds one)")


def release(bench: Bench) -> None:
    """Give the bench's /24 back (its FreeSWITCH and phones have stopped)."""
    held = _held.pop(bench.base, None)
    if held is not None:
        held.close()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = open("/proc/sys/net/ipv4/ip_local_port_range").read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(address: str, udp: bool = False) -> int:
    """A TCP port free on ``address`` (with ``udp`` also free for UDP), chosen at random below the
    kernel's ephemeral range: a port the OS hands out for ``bind(0)`` may meanwhile become the
    local port of some outgoing connection, and the stack would then find it taken."""
    low, _ = _ephemeral_range()
    for _ in range(200):
        port = random.randrange(10000, min(low, 32768))
        with socket.socket() as tcp:
            try:
                tcp.bind((address, port))
            except OSError:
                continue
            if not udp:
                return port
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((address, port))
                except OSError:
                    continue
                return port
    raise RuntimeError(f"no free port on {address}")


def free_udp_ports(address: str, count: int) -> int:
    """The first of ``count`` consecutive UDP ports free on ``address``, the first even, below the
    kernel's ephemeral range (a port there may be taken by anyone's ``bind(0)`` at any moment, and
    sipp binds its media port and the ports after it, video included, some time later)."""
    low, _ = _ephemeral_range()
    for _ in range(200):
        first = random.randrange(10000, min(low, 32768) - count) & ~1
        held: list[socket.socket] = []
        try:
            for port in range(first, first + count):
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(u)
                u.bind((address, port))
        except OSError:
            continue
        finally:
            for u in held:
                u.close()
        return first
    raise RuntimeError(f"no {count} free UDP ports in a row on {address}")


def free_udp_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind((address, 0))
        return int(u.getsockname()[1])
