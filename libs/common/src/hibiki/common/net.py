"""Listening sockets (bound with a clear error instead of a traceback) and address allow-lists."""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterable

from hibiki.common.errors import StartupError


def bind_tcp(host: str, port: int, what: str, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket on host:port; :class:`StartupError` says why not. With
    ``reuse_port`` (``SO_REUSEPORT``) another process of the same user may listen on the same
    address: the kernel shares new connections between them, and when one closes its socket the
    others take them all (a replacement started next to a draining process)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"{what}: cannot resolve listen address {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    # The protocol matters: asyncio sets TCP_NODELAY only on accepted sockets whose proto is
    # IPPROTO_TCP; without it a keep-alive client waits for its delayed ACK on every answer.
    sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise StartupError(f"{what}: cannot listen on {host}:{port}: {reason}") from None
    sock.setblocking(False)
    return sock


class AllowList:
    """Client addresses allowed to use an endpoint (FreeSWITCH nodes), by CIDR networks.

    IPv4-mapped IPv6 addresses count as their IPv4 address; answers are remembered per
    address string, as the callers are a handful of switches."""

    def __init__(self, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> None:
        self._networks = tuple(networks)
        self._known: dict[str, bool] = {}

    def __contains__(self, host: str) -> bool:
        allowed = self._known.get(host)
        if allowed is None:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                return False
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            allowed = any(address in net for net in self._networks)
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[host] = allowed
        return allowed
