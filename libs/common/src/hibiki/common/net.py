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
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
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
