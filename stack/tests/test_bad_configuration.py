"""Bad configuration ends with one clear line on stderr and exit code 2, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from support.servers import NatsServer, free_port


def serve(service: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hibiki.stack.cli", "serve", service, *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("hibiki ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    return {"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": f"nats://127.0.0.1:{free_port()}"}


def test_malformed_environment_value(base_env: dict[str, str]) -> None:
    line = one_line(serve("directory", {**base_env, "HIBIKI_DIRECTORY_PORT": "80a"}))
    assert line == "hibiki directory: error: HIBIKI_DIRECTORY_PORT='80a' is not a TCP port (0-65535)"
    line = one_line(serve("directory", {**base_env, "HIBIKI_DIRECTORY_FSAPI_ALLOW": "10.0.0.0/8,bogus"}))
    assert "HIBIKI_DIRECTORY_FSAPI_ALLOW: 'bogus' is not an IP address" in line


def test_port_in_use(base_env: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_line(serve("acd", base_env, "--port", str(port)))
    assert line == f"hibiki acd: error: acd HTTP: cannot listen on 127.0.0.1:{port}: address already in use"


def test_unreachable_nats(base_env: dict[str, str]) -> None:
    line = one_line(serve("analytics", {**base_env, "HIBIKI_ANALYTICS_PORT": str(free_port())}))
    assert line.startswith(f"hibiki analytics: error: cannot reach NATS at {base_env['HIBIKI_NATS_URL']}")


def test_unusable_database_url(base_env: dict[str, str], tmp_path: Path) -> None:
    nats = NatsServer(tmp_path / "nats")
    nats.start()
    try:
        env = {**base_env, "HIBIKI_NATS_URL": nats.url, "HIBIKI_DIRECTORY_PORT": str(free_port()),
               "HIBIKI_DIRECTORY_DATABASE_URL": "postgresql+nosuchdriver://u:secret@db/x"}
        line = one_line(serve("directory", env))
    finally:
        nats.stop()
    assert "configuration store" in line and "secret" not in line
