"""Loopback addresses and free ports for one bench (a FreeSWITCH and its phones).

Every bench takes a random /24 inside ``HIBIKI_FS_TEST_NET`` (a CIDR in 127.0.0.0/8, default
``127.64.0.0/10``), so FreeSWITCH nodes of test runs going on at the same time never share an
address (and so never a SIP or RTP port). Ports are picked at random below the ephemeral range."""

from __future__ import annotations

import ipaddress
import os
import random
import socket
from dataclasses import dataclass

DEFAULT_NET = "127.64.0.0/10"


def test_net() -> ipaddress.IPv4Network:
    net = ipaddress.IPv4Network(os.environ.get("HIBIKI_FS_TEST_NET", DEFAULT_NET))
    if not net.subnet_of(ipaddress.IPv4Network("127.0.0.0/8")) or net.prefixlen > 24:
        raise ValueError(f"HIBIKI_FS_TEST_NET={net} must be a /24 or larger inside 127.0.0.0/8")
    return net


def _bindable(address: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((address, 0))
        except OSError:
            return False
    return True


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
    for _ in range(50):
        subnet = random.choice(subnets)
        if subnet.network_address == ipaddress.IPv4Address("127.0.0.0"):
            continue   # 127.0.0.x belongs to the stack and everything else on the machine
        if _bindable(str(subnet.network_address + 1)):
            return Bench(subnet.network_address)
    raise RuntimeError(f"no usable /24 in {net}")


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


def free_udp_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind((address, 0))
        return int(u.getsockname()[1])
