"""``hibiki up``: the whole stack on one machine, on embedded defaults.

Starts nats-server with JetStream (data under ``<data dir>/nats``), then the five
services (each its own process, logs under ``<data dir>/log``), shows each component
coming up, prints the URLs, and on Ctrl-C (or SIGTERM, SIGHUP) stops the services and then
NATS. A component that dies is started again with backoff (``restarts.py``) and the
supervisor says which one and why it ended; nothing else is stopped. A second start finds
the SQLite store, the chdb store and the JetStream data where it left them.
"""

from __future__ import annotations

import functools
import json
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
from hibiki.stack.restarts import Backoff, ending
from hibiki.stack.services import SERVICES, ServiceSpec

HOST = "127.0.0.1"
NATS_PORT = 4222
START_TIMEOUT = 60.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    """SIGTERM or SIGHUP while the stack starts (Ctrl-C raises KeyboardInterrupt)."""


def _interrupted(*_: object) -> None:
    raise Interrupted


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes] = field(repr=False)
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict, repr=False)
    log_offset: int = 0                       # where this run's lines start in the log
    started: float = field(default_factory=time.monotonic)
    ready: Callable[[], bool] | None = field(default=None, repr=False)
    backoff: Backoff = field(default_factory=Backoff)
    restart_at: float | None = None           # dead, to be started again at this time
    restarting: bool = False                  # started again, not yet ready
    restarts: int = 0

    def this_run(self) -> list[str]:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self.log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return []
        return [line.strip() for line in text.splitlines() if line.strip()]

    def run_error(self) -> str | None:
        """The last error line of this run's log, if any (a warning that mentions an error is not one)."""
        for line in reversed(self.this_run()):
            if _is_error(line):
                return line
        return None

    def last_error(self) -> str:
        lines = self.this_run()
        return self.run_error() or (lines[-1] if lines else ending(self.process.poll() or 0))


def _is_error(line: str) -> bool:
    """A structlog JSON line of level error or critical; any other line (a traceback's last
    line, nats-server's ``[ERR]``) that says error."""
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and "level" in record:
            return str(record["level"]).lower() in ("error", "critical", "exception", "fatal")
    return "error" in line.lower() or "[ERR]" in line or "[FTL]" in line


def _say(text: str) -> None:
    """A line for whoever runs the stack. Their terminal or pipe may be gone (a closed window, a
    killed reader): the stack goes on, and its stop stops everything, without them."""
    try:
        print(text, flush=True)
    except (BrokenPipeError, ValueError, OSError):
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # later lines, and exit's flush
        except (OSError, ValueError):
            pass


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
        process, log_path, log_file, offset = self._popen(name, command, env)
        child = Child(name, process, log_path, log_file, command=command, env=env, log_offset=offset)
        self.children.append(child)
        return child

    def _popen(self, name: str, command: list[str],
               env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path, IO[bytes], int]:
        log_dir = self.root / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        log_file = log_path.open("ab")
        offset = log_file.tell()
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True, cwd=os.getcwd())
        return process, log_path, log_file, offset

    def _restart(self, child: Child) -> None:
        child.log_file.close()
        child.process, child.log_path, child.log_file, child.log_offset = self._popen(child.name, child.command, child.env)
        child.started = time.monotonic()
        child.restart_at = None
        child.restarting = True
        child.restarts += 1

    def _wait(self, child: Child, ready: Callable[[], bool], what: str) -> None:
        child.ready = ready
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
        # stopping the stack gives each service 15 s: callcontrol drains its calls for at most 10 s,
        # then hands the ones left back to their dialplan (never a SIGKILL under a caller)
        env.setdefault("HIBIKI_CALLCONTROL_DRAIN_SECONDS", "10")
        # One machine: each service finds the others on the ports they were moved to.
        env.setdefault("HIBIKI_ACD_DIRECTORY_GRPC", f"{HOST}:{extra_ports['directory_grpc_port']}")
        env.setdefault("HIBIKI_CALLCONTROL_DIRECTORY_GRPC", f"{HOST}:{extra_ports['directory_grpc_port']}")
        env.setdefault("HIBIKI_CALLCONTROL_ACD_GRPC", f"{HOST}:{extra_ports['grpc_port']}")
        env.setdefault("HIBIKI_DIRECTORY_CALLCONTROL_ADDRESS", f"{HOST}:{extra_ports['esl_port']}")
        env.setdefault("HIBIKI_ANALYTICS_ACD_URL", f"http://{HOST}:{env.get('HIBIKI_ACD_PORT', '8081')}")
        # the console (directory) reaches the ACD's queues/agents and analytics' call history
        env.setdefault("HIBIKI_DIRECTORY_ACD_HTTP", f"http://{HOST}:{env.get('HIBIKI_ACD_PORT', '8081')}")
        env.setdefault("HIBIKI_DIRECTORY_ANALYTICS_HTTP", f"http://{HOST}:{env.get('HIBIKI_ANALYTICS_PORT', '8083')}")
        env.setdefault("HIBIKI_DIRECTORY_CALLCONTROL_HTTP", f"http://{HOST}:{env.get('HIBIKI_CALLCONTROL_PORT', '8085')}")
        # the agent desktop's screen pop (ACD) reads the phonebook and the caller's previous calls
        env.setdefault("HIBIKI_ACD_DIRECTORY_HTTP", f"http://{HOST}:{env.get('HIBIKI_DIRECTORY_PORT', '8080')}")
        # supervision: callcontrol writes the audit trail at the directory; the supervisor page (ACD)
        # reaches callcontrol's supervision API
        env.setdefault("HIBIKI_CALLCONTROL_DIRECTORY_HTTP", f"http://{HOST}:{env.get('HIBIKI_DIRECTORY_PORT', '8080')}")
        env.setdefault("HIBIKI_ACD_CALLCONTROL_HTTP", f"http://{HOST}:{env.get('HIBIKI_CALLCONTROL_PORT', '8085')}")
        env.setdefault("HIBIKI_ACD_ANALYTICS_HTTP", f"http://{HOST}:{env.get('HIBIKI_ANALYTICS_PORT', '8083')}")
        # A FreeSWITCH on this machine started on freeswitch/conf with freeswitch.env (its event
        # socket on HIBIKI_FS_ESL_PORT, 8021 by default) is callcontrol's node without more settings.
        env.setdefault("HIBIKI_CALLCONTROL_FREESWITCH_NODES", f"local={HOST}:{env.get('HIBIKI_FS_ESL_PORT', '8021')}")
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
        _say(f"  logs in {self.root / 'log'}; a token for curl: hibiki token --user root --role platform-admin")
        _say(f"  FreeSWITCH on freeswitch/conf: . {fs_env} first (its /fsapi and event-socket credentials)")
        _say("Press Ctrl-C to stop.")

    def watch(self) -> int:
        """Keep every component running until Ctrl-C/SIGTERM/SIGHUP (then 0)."""
        stop = {"now": False}

        def _stop(*_: object) -> None:
            stop["now"] = True

        for signum in STOP_SIGNALS:
            signal.signal(signum, _stop)
        while not stop["now"]:
            for child in self.children:
                self._look_after(child, time.monotonic())
            time.sleep(0.1)
        return 0

    def _look_after(self, child: Child, now: float) -> None:
        if child.restart_at is not None:
            if now >= child.restart_at:
                self._restart(child)
                _say(f"hibiki: {child.name} started again (restart {child.restarts})")
            return
        returncode = child.process.poll()
        if returncode is not None:
            child.restarting = False
            delay = child.backoff.next_delay(now - child.started)
            child.restart_at = now + delay
            _say(f"hibiki: {child.name} ended: {ending(returncode)}; starting it again in {delay:.0f} s")
            error = child.run_error()
            if error:
                _say(f"hibiki: {child.name}'s last error this run: {error}")
        elif child.restarting and child.ready is not None and child.ready():
            child.restarting = False
            _say(f"  up   {child.name} again   ({now - child.started:.1f} s)")

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
    """Start the stack, keep it running, stop it on a signal; 0 unless it could not start."""
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGHUP, _interrupted)
    stack = Stack(root or data_dir())
    try:
        stack.start()
        code = stack.watch()
    except StartupError as exc:
        print(f"hibiki up: error: {exc}", file=sys.stderr, flush=True)
        code = 2
    except (KeyboardInterrupt, Interrupted):
        code = 0
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C does not cut the stop short
    _say("hibiki: stopping")
    stack.stop()
    _say("hibiki: stopped")
    return code
