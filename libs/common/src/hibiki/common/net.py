"""Binding listening sockets with a clear error instead of a traceback."""

from __future__ import annotations

import errno
import socket

from hibiki.common.errors import StartupError


def bind_tcp(host: str, port: int, what: str) -> socket.socket:
    """A listening TCP socket on host:port; :class:`StartupError` says why not."""
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
        sock.bind(address)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise StartupError(f"{what}: cannot listen on {host}:{port}: {reason}") from None
    sock.setblocking(False)
    return sock
