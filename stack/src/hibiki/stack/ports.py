"""Is something listening on a local port yet? (the supervisor, the tests and the benchmarks ask)."""

from __future__ import annotations

import socket
import time


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    """Return once ``host:port`` accepts connections; :class:`TimeoutError` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on port {port} after {timeout:.0f} s")
