"""The stack as an operator starts it: ``hibiki up`` in a subprocess, its data in a temporary
directory, every port moved to a free one through the documented ``HIBIKI_*`` variables, and
the public admin APIs with real tokens."""

from __future__ import annotations

import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from support.switch.net import free_port

HOST = "127.0.0.1"   # `hibiki up` serves on 127.0.0.1 (its health checks look there)
PORT_VARIABLES = ("DIRECTORY_PORT", "DIRECTORY_GRPC_PORT", "CALLCONTROL_PORT", "CALLCONTROL_ESL_PORT",
                  "ACD_PORT", "ACD_GRPC_PORT", "RECORDING_PORT", "ANALYTICS_PORT")
BIND_ATTEMPTS = 4    # `hibiki up` started again on fresh ports after a port was taken meanwhile
ACCEPTED = {"POST": (200, 201), "PUT": (200, 201), "PATCH": (200,), "DELETE": (200, 204), "GET": (200,)}


log = logging.getLogger("support.switch.stack")


def _free_ports(count: int) -> list[int]:
    """``count`` different free ports on the stack's address (``free_port`` alone may repeat one)."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port(HOST)
        if port not in ports:
            ports.append(port)
    return ports


def _bind_failure(lines: list[str]) -> str | None:
    """The line of ``hibiki up``'s output saying a port it was given was taken, if any."""
    for line in lines:
        if "address already in use" in line.lower():
            return line
    return None


class HibikiUp:
    """``hibiki up --data-dir <data>`` with free ports; ``extra_env`` adds variables (e.g.
    ``HIBIKI_CALLCONTROL_FREESWITCH_NODES``).

    The ports are picked free here but bound by the services seconds later: another process on the
    machine may take one in between. ``start`` then stops that ``hibiki up``, picks fresh ports (and
    rewrites every ``127.0.0.1:<old port>`` in the environment, e.g. the services' addresses of each
    other) and starts again, up to ``BIND_ATTEMPTS`` times; ``port_retries`` keeps each reason."""

    def __init__(self, data: Path, extra_env: dict[str, str] | None = None) -> None:
        self.data = data
        *ports, nats = _free_ports(len(PORT_VARIABLES) + 1)
        self.env = {**os.environ, **{f"HIBIKI_{name}": str(port) for name, port in zip(PORT_VARIABLES, ports)}}
        self.env["HIBIKI_NATS_URL"] = f"nats://{HOST}:{nats}"
        self.port_retries: list[str] = []
        self.env["HIBIKI_DATA_DIR"] = str(data)
        self.env["HIBIKI_LOG_LEVEL"] = "info"
        self.env.update(extra_env or {})
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._ended = threading.Event()

    def port(self, name: str) -> int:
        """``port("DIRECTORY_PORT")``: the port given to the stack."""
        return int(self.env[f"HIBIKI_{name}"])

    @property
    def nats_url(self) -> str:
        return self.env["HIBIKI_NATS_URL"]

    @property
    def directory_url(self) -> str:
        return f"http://{HOST}:{self.port('DIRECTORY_PORT')}"

    @property
    def acd_url(self) -> str:
        return f"http://{HOST}:{self.port('ACD_PORT')}"

    @property
    def callcontrol_url(self) -> str:
        return f"http://{HOST}:{self.port('CALLCONTROL_PORT')}"

    @property
    def callcontrol_esl(self) -> str:
        return f"{HOST}:{self.port('CALLCONTROL_ESL_PORT')}"

    def _move_ports(self) -> dict[int, int]:
        """Fresh ports for every port variable and NATS; ``127.0.0.1:<old>`` becomes ``127.0.0.1:<new>``
        in every variable (the ones a test or the bench derived from the ports too)."""
        old = [self.port(name) for name in PORT_VARIABLES] + [int(self.nats_url.rsplit(":", 1)[1])]
        moved = dict(zip(old, _free_ports(len(old))))
        pattern = re.compile(re.escape(HOST) + r":(\d+)(?!\d)")

        def swap(m: re.Match[str]) -> str:
            return f"{HOST}:{moved.get(int(m.group(1)), int(m.group(1)))}"

        for name in PORT_VARIABLES:
            self.env[f"HIBIKI_{name}"] = str(moved[self.port(name)])
        for name, value in list(self.env.items()):
            if name.startswith("HIBIKI_") and f"{HOST}:" in value:
                self.env[name] = pattern.sub(swap, value)
        return moved

    def start(self, timeout: float = 90.0) -> None:
        """``hibiki up``, until it says it is running; on a port taken meanwhile, again on fresh ports."""
        for attempt in range(1, BIND_ATTEMPTS + 1):
            try:
                self._start_once(timeout)
                return
            except RuntimeError:
                failure = _bind_failure(self.lines)
                if failure is None or attempt == BIND_ATTEMPTS:
                    raise
                moved = self._move_ports()
                reason = f"attempt {attempt}: {failure.strip()}"
                self.port_retries.append(reason)
                log.warning("hibiki up could not bind a port; starting again on fresh ports (%s); moved %s",
                            reason, moved)

    def _start_once(self, timeout: float) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.lines = []
        self._ready = threading.Event()
        self._ended = threading.Event()
        self.process = subprocess.Popen([sys.executable, "-m", "hibiki.stack.cli", "up", "--data-dir", str(self.data)],
                                        env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        threading.Thread(target=self._read, args=(self.process, self.lines, self._ready, self._ended),
                         daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.2):
            if self._ended.is_set() or time.monotonic() > deadline:
                self.stop()
                self._ended.wait(10)   # the whole output, for the reason
                raise RuntimeError("hibiki up did not come up:\n" + "\n".join(self.lines))

    @staticmethod
    def _read(process: subprocess.Popen[str], lines: list[str], ready: threading.Event,
              ended: threading.Event) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip())
            if "Press Ctrl-C to stop." in line:
                ready.set()
        ended.set()

    def log(self, service: str) -> str:
        """A service's log (JSON lines) as ``hibiki up`` keeps it under ``<data>/log``."""
        path = self.data / "log" / f"{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def token(self, user: str = "tests", tenant: str = "*", roles: tuple[str, ...] = ("platform-admin",),
              service: bool = False) -> str:
        """A token printed by ``hibiki token`` (the public way), signed with this stack's secret."""
        who = ["--service", user] if service else ["--user", user]
        command = [sys.executable, "-m", "hibiki.stack.cli", "token", *who, "--tenant", tenant]
        for role in roles:
            command += ["--role", role]
        return subprocess.run(command, env=self.env, capture_output=True, text=True, check=True).stdout.strip()

    def freeswitch_env(self) -> dict[str, str]:
        """``<data dir>/freeswitch.env`` (``export NAME=value`` lines ``hibiki up`` writes for
        FreeSWITCH, e.g. generated credentials), or nothing while it does not exist."""
        path = self.data / "freeswitch.env"
        values: dict[str, str] = {}
        if not path.exists():
            return values
        for line in path.read_text().splitlines():
            words = shlex.split(line, comments=True)
            if len(words) == 2 and words[0] == "export" and "=" in words[1]:
                name, value = words[1].split("=", 1)
                values[name] = value
        return values

    def service_pid(self, service: str) -> int:
        """The process id of one service ``hibiki up`` started (its child running ``serve <service>``)."""
        assert self.process is not None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == self.process.pid and b"serve" in cmdline and service.encode() in cmdline:
                return int(entry.name)
        raise LookupError(f"no {service} under hibiki up ({self.process.pid})")

    def kill_service(self, service: str) -> None:
        """SIGKILL one service of this stack (by its process id)."""
        os.kill(self.service_pid(service), signal.SIGKILL)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(45)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


class Api:
    """One service's admin API with a bearer token: ``api.post(path, body)`` returns the JSON and
    fails the test on an unexpected status (``expect=`` for refusals)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=15)

    def request(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        reply = self.http.request(method, path, json=body)
        wanted = (expect,) if expect is not None else ACCEPTED[method]
        if reply.status_code not in wanted:
            raise AssertionError(f"{method} {path} -> {reply.status_code} {reply.text}")
        return reply.json() if reply.content else None

    def get(self, path: str, expect: int | None = None) -> Any:
        return self.request("GET", path, expect=expect)

    def post(self, path: str, body: Any, expect: int | None = None) -> Any:
        return self.request("POST", path, body, expect)

    def put(self, path: str, body: Any, expect: int | None = None) -> Any:
        return self.request("PUT", path, body, expect)

    def patch(self, path: str, body: Any, expect: int | None = None) -> Any:
        return self.request("PATCH", path, body, expect)

    def delete(self, path: str, expect: int | None = None) -> Any:
        return self.request("DELETE", path, expect=expect)

    def close(self) -> None:
        self.http.close()
