"""baresip as a phone, driven over its ``ctrl_tcp`` module (netstring JSON): it registers with
the provisioned password, dials, answers (``answermode=auto`` or ``answer()``), sends a 440 Hz
tone as its microphone, and reports what a person would notice as events (``CALL_INCOMING``,
``CALL_ESTABLISHED``, ``CALL_RTPESTAB`` = RTP arrived, ``CALL_CLOSED``, ``REGISTER_OK``)."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.switch.net import free_port

BARESIP = shutil.which("baresip") or "/usr/bin/baresip"
MODULES = Path("/usr/lib/baresip/modules")


def available() -> bool:
    return Path(BARESIP).exists() and (MODULES / "ctrl_tcp.so").exists()


@dataclass
class PhoneEvent:
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0

    @property
    def peer(self) -> str:
        return str(self.data.get("peeruri", ""))

    @property
    def call_id(self) -> str:
        return str(self.data.get("id", ""))


class Baresip:
    """One baresip process with one account ``user@domain`` registered at ``switch_sip``."""

    def __init__(self, workdir: Path, local_ip: str, switch_sip: str, user: str, domain: str, password: str,
                 auto_answer: bool = True, register: bool = True, name: str | None = None, max_calls: int = 4,
                 tone_hz: int = 440, record: bool = False, backup_sip: str | None = None,
                 regint: int = 300, sipnat: str = "") -> None:
        """``backup_sip``: a second proxy (``outbound2``); ``sipnat="outbound"``: SIP outbound (RFC 5626),
        a registration with each proxy; ``regint``: seconds between its REGISTER refreshes."""
        self.name = name or user
        # a directory of its own: a random port in the name repeated one of an earlier phone of the same name
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"baresip-{self.name}-", dir=workdir))
        self.local_ip = local_ip
        self.user, self.domain = user, domain
        self.sip_port = free_port(local_ip, udp=True)
        self.ctrl_port = free_port(local_ip)
        (self.workdir / "config").write_text(f"""poll_method epoll
sip_listen {local_ip}:{self.sip_port}
sip_transports udp
audio_player aufile,{self.workdir / 'heard.wav'}
audio_source ausine,{tone_hz}
ausrc_srate 48000
ausrc_channels 2
audio_alert aufile,/dev/null
audio_level no
rtp_stats yes
jitter_buffer_delay 1-5
module_path {MODULES}
module g711.so
module ausine.so
module aufile.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen {local_ip}:{self.ctrl_port}
net_interface {local_ip}
call_max_calls {max_calls}
""" + (f"module sndfile.so\nsnd_path {self.workdir}\n" if record else "")
            + ("module_tmp uuid.so\n" if sipnat else ""))   # SIP outbound (RFC 5626) needs an instance id
        params = [f'auth_pass={password}', f'outbound="sip:{switch_sip}"', "audio_codecs=PCMU,PCMA",
                  f"answermode={'auto' if auto_answer else 'manual'}", "ptime=20"]
        if backup_sip:
            params.append(f'outbound2="sip:{backup_sip}"')
        if sipnat:
            params.append(f"sipnat={sipnat}")
        params.append(f"regint={regint}" if register else "regint=0")
        (self.workdir / "accounts").write_text(f"<sip:{user}@{domain}>;" + ";".join(params) + "\n")
        (self.workdir / "contacts").write_text("")
        self.events: list[PhoneEvent] = []
        self._cond = threading.Condition()
        self._responses: queue.Queue[dict[str, Any]] = queue.Queue()
        self._token = 0
        self.log = (self.workdir / "baresip.log").open("wb")
        self.process = subprocess.Popen([BARESIP, "-f", str(self.workdir), "-v"], stdout=self.log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.sock = self._connect()
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"

    def _connect(self, timeout: float = 10.0) -> socket.socket:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return socket.create_connection((self.local_ip, self.ctrl_port), timeout=2)
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"baresip {self.name} did not start: {self.workdir / 'baresip.log'}") from None
                time.sleep(0.1)

    def _read(self) -> None:
        buffer = b""
        self.sock.settimeout(None)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
                while b":" in buffer:
                    length_text, rest = buffer.split(b":", 1)
                    length = int(length_text)
                    if len(rest) < length + 1:
                        break
                    payload, buffer = rest[:length], rest[length + 1:]
                    message = json.loads(payload)
                    if message.get("event"):
                        with self._cond:
                            self.events.append(PhoneEvent(str(message.get("type")), message, time.monotonic()))
                            self._cond.notify_all()
                    elif message.get("response"):
                        self._responses.put(message)
        except (OSError, ValueError):
            return

    def command(self, command: str, params: str = "", timeout: float = 10.0) -> dict[str, Any]:
        """A ``menu`` command (``dial``, ``accept``, ``hangup``, ``transfer``, ``sndcode``, ...)."""
        self._token += 1
        message = json.dumps({"command": command, "params": params, "token": str(self._token)}).encode()
        self.sock.sendall(str(len(message)).encode() + b":" + message + b",")
        return self._responses.get(timeout=timeout)

    # -- what the person holding the phone notices ---------------------------------------------

    def wait(self, event_type: str, timeout: float = 15.0, after: int = 0) -> PhoneEvent:
        """The first event of this type (after position ``after``: see ``mark``)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[after:]:
                    if event.type == event_type:
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [e.type for e in self.events[after:]]
                    raise TimeoutError(f"{self.name}: no {event_type} within {timeout} s (saw {seen})")
                self._cond.wait(remaining)

    def mark(self) -> int:
        with self._cond:
            return len(self.events)

    def saw(self, event_type: str, after: int = 0) -> bool:
        with self._cond:
            return any(e.type == event_type for e in self.events[after:])

    def wait_registered(self, timeout: float = 15.0) -> None:
        """Registered (the first REGISTER may answer before the control connection is up, so
        ``reginfo`` is asked as well)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in list(self.events):
                if event.type == "REGISTER_FAIL":
                    raise AssertionError(f"{self.name} not registered: {event.data}")
                if event.type == "REGISTER_OK":
                    return
            info = str(self.command("reginfo").get("data", ""))
            if re.search(r"(\x1b\[32m|\s)OK\s", info):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not registered within {timeout} s: {info!r}")
            time.sleep(0.2)

    def _first_of(self, types: tuple[str, ...], timeout: float) -> PhoneEvent:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if event.type in types:
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self.name}: none of {types} within {timeout} s")
                self._cond.wait(remaining)

    def dial(self, number: str) -> None:
        self.command("dial", f"sip:{number}@{self.domain}")

    def answer(self) -> None:
        self.command("accept")

    def hangup(self) -> None:
        self.command("hangup")

    def stop(self) -> None:
        try:
            self.command("quit", timeout=2)
        except (OSError, queue.Empty):
            pass
        try:
            self.process.wait(3)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self.sock.close()
        self.log.close()
