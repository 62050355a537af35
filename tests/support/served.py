"""A service run as an operator runs it (``hibiki serve <service>``, a process of its own) on a
free port of a loopback address, for tests that speak plain HTTP to it (schemathesis)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from hibiki.common.auth import Claims, TokenAuthority
from support.servers import free_port


@dataclass(frozen=True)
class Served:
    url: str
    token: str
    log: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def serve(service: str, host: str, data_dir: Path, env: Mapping[str, str], port: int | None = None) -> Iterator[Served]:
    """``hibiki serve <service>`` on ``host`` and a free port (or ``port``: a restart) until the block
    ends; ``env`` adds the service's own variables (ports, NATS URL). The token is a service token
    for every tenant."""
    secret = "s" * 48
    port = port or free_port()
    prefix = f"HIBIKI_{service.upper()}_"
    environ = {**os.environ, "HIBIKI_AUTH_SECRET": secret, "HIBIKI_DATA_DIR": str(data_dir),
               prefix + "HOST": host, prefix + "PORT": str(port), **env}
    log = data_dir / f"{service}.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "hibiki.stack.cli", "serve", service], env=environ,
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{service} ended ({process.returncode}): {log.read_text()[-2000:]}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service} not up within 60 s: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield Served(url, TokenAuthority(secret.encode()).issue(Claims("schemathesis", "service")), log)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
