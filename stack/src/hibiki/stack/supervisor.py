"""``hibiki up``: the whole stack on one machine, on embedded defaults.

Starts nats-server with JetStream (data under ``<data dir>/nats``), then the five
services (each its own process, logs under ``<data dir>/log``), shows each component
coming up, prints the URLs, and on Ctrl-C stops the services and then NATS. A second
start finds the SQLite store, the chdb store and the JetStream data where it left them.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from hibiki.common.auth import load_authority
from hibiki.common.config import Env, data_dir
from hibiki.common.errors import StartupError
from hibiki.stack import freeswitch_env
from hibiki.stack.nats_server import nats_server_command
from hibiki.stack.ports import port_open
from hibiki.stack.services import SERVICES, ServiceSpec

HOST = "127.0.0.1"
NATS_PORT = 4222
START_TIMEOUT = 60.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes] = field(repr=False)

    def last_error(self) -> str:
        lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        for line in reversed(lines):
            if "error" in line.lower():
                return line.strip()
        return lines[-1].strip() if lines else f"exited with code {self.process.returncode}"


def _say(text: str) -> None:
    print(text, flush=True)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=0.5) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Stack:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.children: list[Child] = []

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> Child:
        log_dir = self.root / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        log_file = log_path.open("ab")
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True, cwd=os.getcwd())
        child = Child(name, process, log_path, log_file)
        self.children.append(child)
        return child

    def _wait(self, child: Child, ready: Callable[[], bool], what: str) -> None:
        started = time.monotonic()
        while time.monotonic() - started < START_TIMEOUT:
            if child.process.poll() is not None:
                raise StartupError(f"{child.name} did not start: {child.last_error()}")
            if ready():
                _say(f"  up   {child.name:<12} {what}   ({time.monotonic() - started:.1f} s)")
                return
            time.sleep(0.1)
        raise StartupError(f"{child.name} did not come up within {START_TIMEOUT:.0f} s (see {child.log_path})")

    def start(self) -> None:
        env = dict(os.environ)
        env["HIBIKI_DATA_DIR"] = str(self.root)
        env.setdefault("HIBIKI_NATS_URL", f"nats://{HOST}:{NATS_PORT}")
        nats_port = urlparse(env["HIBIKI_NATS_URL"]).port or NATS_PORT
        extra_ports = {"esl_port": env.get("HIBIKI_CALLCONTROL_ESL_PORT", "8084"),
                       "grpc_port": env.get("HIBIKI_ACD_GRPC_PORT", "50051"),
                       "directory_grpc_port": env.get("HIBIKI_DIRECTORY_GRPC_PORT", "50052")}
        env["PYTHONUNBUFFERED"] = "1"
        # services find each other's gRPC ports wherever they were moved (HIBIKI_*_GRPC_PORT)
        env.setdefault("HIBIKI_ACD_DIRECTORY_GRPC", f"{HOST}:{extra_ports['directory_grpc_port']}")
        env.setdefault("HIBIKI_CALLCONTROL_DIRECTORY_GRPC", f"{HOST}:{extra_ports['directory_grpc_port']}")
        env.setdefault("HIBIKI_CALLCONTROL_ACD_GRPC", f"{HOST}:{extra_ports['grpc_port']}")
        load_authority(Env.load(environ=env), self.root)  # create the shared secret once, before the services
        fs_env = freeswitch_env.prepare(self.root, env, HOST)   # FreeSWITCH's credentials, generated once
        _say(f"hibiki: starting the stack, data in {self.root}")
        if port_open(HOST, nats_port):
            raise StartupError(f"NATS: cannot listen on {HOST}:{nats_port}: address already in use")
        (self.root / "nats").mkdir(parents=True, exist_ok=True)
        nats = self._spawn("nats", nats_server_command(HOST, nats_port, self.root / "nats"), env)
        self._wait(nats, lambda: port_open(HOST, nats_port), f"nats://{HOST}:{nats_port} (JetStream, {self.root / 'nats'})")
        _say(f"  up   {'config store':<12} SQLite {self.root / 'directory.sqlite'}")
        spawned: list[tuple[ServiceSpec, Child]] = []
        for spec in SERVICES.values():
            command = [sys.executable, "-m", "hibiki.stack.cli", "serve", spec.name]
            spawned.append((spec, self._spawn(spec.name, command, env)))
        for spec, child in spawned:
            port = int(env.get(spec.port_var, spec.default_port))
            self._wait(child, functools.partial(_healthy, port), f"http://{HOST}:{port}")
        _say(f"  up   {'analytics db':<12} chdb {self.root / 'analytics' / 'chdb'}")
        _say("")
        _say("Hibiki is running:")
        for spec in SERVICES.values():
            port = int(env.get(spec.port_var, spec.default_port))
            _say(f"  {spec.name:<12} http://{HOST}:{port}  (/healthz, /metrics)")
            for label, what in spec.extra:
                _say(f"  {'':<12} {label}: {what.format(host=HOST, port=port, **extra_ports)}")
        _say(f"  {'nats':<12} nats://{HOST}:{nats_port}")
        _say(f"  logs in {self.root / 'log'}; a token for curl: hibiki token --user admin --role admin")
        _say(f"  FreeSWITCH on freeswitch/conf: . {fs_env} first (its /fsapi and event-socket credentials)")
        _say("Press Ctrl-C to stop.")

    def watch(self) -> int:
        """Block until Ctrl-C/SIGTERM (0) or until a component dies (1)."""
        stop = {"now": False}

        def _stop(*_: object) -> None:
            stop["now"] = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        while not stop["now"]:
            for child in self.children:
                if child.process.poll() is not None:
                    _say(f"hibiki: {child.name} stopped unexpectedly: {child.last_error()}")
                    return 1
            time.sleep(0.2)
        return 0

    def stop(self) -> None:
        services = [c for c in self.children if c.name != "nats"]
        nats = [c for c in self.children if c.name == "nats"]
        for group in (services, nats):
            for child in group:
                if child.process.poll() is None:
                    child.process.send_signal(signal.SIGTERM)
            for child in group:
                try:
                    child.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
                child.log_file.close()
                if child.process.returncode in (0, -signal.SIGTERM):
                    _say(f"  down {child.name}")
                else:
                    _say(f"  down {child.name} (exit code {child.process.returncode})")


def up(root: Path | None = None) -> int:
    stack = Stack(root or data_dir())
    try:
        stack.start()
        code = stack.watch()
    except StartupError as exc:
        print(f"hibiki up: error: {exc}", file=sys.stderr, flush=True)
        code = 2
    except KeyboardInterrupt:
        code = 0
    _say("hibiki: stopping")
    stack.stop()
    _say("hibiki: stopped")
    return code
