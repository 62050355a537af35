"""A real FreeSWITCH 1.10 on a copy of the project's ``freeswitch/conf``: only ports and
addresses change, through the environment variables ``vars.xml`` reads (env-set)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from support.switch.esl import Esl
from support.switch.net import Bench, free_port

FREESWITCH = Path(os.environ.get("HIBIKI_FS_BINARY", "/opt/freeswitch/bin/freeswitch"))
REPO = Path(__file__).resolve().parents[3]
CONF = REPO / "freeswitch" / "conf"
SOUNDS = REPO / "freeswitch" / "sounds"     # Hibiki's sound directory: FreeSWITCH's sounds_dir (-sounds)
DIRS = ("log", "db", "run", "certs", "storage", "recordings", "tmp", "cache")
RTP_PORTS = 200   # per node; each call takes 2 (RTP+RTCP) per leg


@dataclass(frozen=True)
class Ports:
    sip: int
    tls: int
    ws: int
    wss: int
    esl: int
    rtp_start: int


class FreeSwitch:
    """One FreeSWITCH process on the bench's switch address; its ports are chosen here (so the
    stack can be told the event socket before FreeSWITCH starts), the other variables for
    ``vars.xml`` (``HIBIKI_DIRECTORY_URL``, passwords, ...) are given to ``start``. ``conf``: the
    configuration copied at each start (the project's by default)."""

    def __init__(self, root: Path, bench: Bench, conf: Path = CONF) -> None:
        self.root = root
        self.conf_source = conf
        self.bench = bench
        self.address = bench.switch
        rtp_start = 20000 + 2 * (int(bench.base) % 5000)   # the address is ours alone: any range will do
        self.ports = Ports(free_port(self.address, udp=True), free_port(self.address), free_port(self.address),
                           free_port(self.address), free_port(self.address), rtp_start)
        self.password = ""
        self.env: dict[str, str] = {}
        self.own_env = {
            "HIBIKI_FS_SIP_IP": self.address, "HIBIKI_FS_RTP_IP": self.address, "HIBIKI_FS_EXTERNAL_IP": self.address,
            "HIBIKI_FS_ESL_LISTEN_IP": self.address, "HIBIKI_FS_ESL_PORT": str(self.ports.esl),
            "HIBIKI_FS_SIP_PORT": str(self.ports.sip), "HIBIKI_FS_TLS_PORT": str(self.ports.tls),
            "HIBIKI_FS_WS_PORT": str(self.ports.ws), "HIBIKI_FS_WSS_PORT": str(self.ports.wss),
            "HIBIKI_FS_RTP_START_PORT": str(rtp_start), "HIBIKI_FS_RTP_END_PORT": str(rtp_start + RTP_PORTS),
        }
        self.conf = root / "conf"
        self.process: subprocess.Popen[bytes] | None = None
        self._esl: Esl | None = None

    @property
    def sip(self) -> str:
        """``address:port`` phones send SIP to."""
        return f"{self.address}:{self.ports.sip}"

    @property
    def log_path(self) -> Path:
        return self.root / "log" / "freeswitch.log"

    def command(self) -> list[str]:
        args = [str(FREESWITCH), "-nonat", "-nonatmap", "-nf", "-nc", "-conf", str(self.conf), "-sounds", str(SOUNDS)]
        for name in DIRS:
            args += [f"-{'temp' if name == 'tmp' else name}", str(self.root / name)]
        return args

    def start(self, env: dict[str, str], timeout: float = 30.0) -> None:
        """Start on a fresh copy of the configuration (``freeswitch/conf``) with ``env`` (the variables ``vars.xml``
        reads) plus this node's addresses and ports; returns once the SIP profile runs."""
        self.env = {**os.environ, **env, **self.own_env}
        self.password = self.env.get("HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD", "")
        if self.conf.exists():
            shutil.rmtree(self.conf)
        shutil.copytree(self.conf_source, self.conf)
        for name in DIRS:
            (self.root / name).mkdir(parents=True, exist_ok=True)
        out = (self.root / "stdout.log").open("ab")
        self.process = subprocess.Popen(self.command(), env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"FreeSWITCH ended with {self.process.returncode}: see {self.root / 'stdout.log'}")
            try:
                esl = Esl(self.address, self.ports.esl, self.password, timeout=2)
            except (OSError, ConnectionError):
                time.sleep(0.2)
                continue
            if re.search(r"internal\s+profile\s+\S+\s+RUNNING", esl.api("sofia status")):
                self._esl = esl
                return
            esl.close()
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"FreeSWITCH not ready within {timeout} s: see {self.log_path}")

    def esl(self) -> Esl:
        """A new event-socket connection (for events: one per kind of wait)."""
        return Esl(self.address, self.ports.esl, self.password)

    def api(self, command: str) -> str:
        """``fs_cli -x <command>`` over the harness's own connection."""
        if self._esl is None or self._esl.closed:
            self._esl = self.esl()
        return self._esl.api(command)

    # -- the log: what ran, what was missing ---------------------------------------------------

    def log_mark(self) -> int:
        """The log's size now: ``log_since(mark)`` reads only what came after."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, mark: int = 0) -> str:
        with self.log_path.open("rb") as fh:
            fh.seek(mark)
            return fh.read().decode(errors="replace")

    def applications(self, mark: int = 0, uuid: str | None = None) -> list[tuple[str, str]]:
        """``(application, data)`` that ran since ``mark`` (``EXECUTE ... app(data)`` lines),
        only the channel ``uuid``'s when given."""
        found = []
        for line in self.log_since(mark).splitlines():
            if uuid and not line.startswith(uuid):
                continue
            m = re.search(r"EXECUTE \[depth=\d+\] \S+ (\w+)\((.*)\)$", line)
            if m:
                found.append((m.group(1), m.group(2)))
        return found

    def missing_files(self, mark: int = 0) -> list[str]:
        """Every prompt FreeSWITCH could not play since ``mark`` (``File ... not found``, ...)."""
        pattern = re.compile(r"(File \S+ not found|Invalid file format|Can't open \S+|Can't find language)")
        return [line for line in self.log_since(mark).splitlines() if pattern.search(line)]

    def wait_log(self, pattern: str, mark: int = 0, timeout: float = 10.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            m = regex.search(self.log_since(mark))
            if m:
                return m
            if time.monotonic() > deadline:
                raise TimeoutError(f"{pattern!r} not in FreeSWITCH's log within {timeout} s")
            time.sleep(0.1)

    # -- what FreeSWITCH knows ----------------------------------------------------------------

    def registrations(self) -> str:
        return self.api("sofia status profile internal reg")

    def channel_count(self) -> int:
        m = re.search(r"(\d+) total", self.api("show channels count"))
        return int(m.group(1)) if m else 0

    def wait_channels(self, count: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.channel_count() != count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.channel_count()} channels, not {count}, after {timeout} s:\n"
                                   + self.api("show channels"))
            time.sleep(0.2)

    def stop(self) -> None:
        if self._esl is not None:
            self._esl.close()
            self._esl = None
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
