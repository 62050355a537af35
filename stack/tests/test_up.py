"""`hibiki up`: the whole stack as a user starts it, stopped with Ctrl-C, started again."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import queue
import signal
import socket
import shlex
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import nats
import pytest

from hibiki.common import bus
from support.servers import FIXTURES, free_port

pytestmark = pytest.mark.slow


def stack_env(tmp_path: Path) -> dict[str, str]:
    names = ["DIRECTORY_PORT", "DIRECTORY_GRPC_PORT", "CALLCONTROL_PORT", "CALLCONTROL_ESL_PORT", "ACD_PORT", "ACD_GRPC_PORT",
             "RECORDING_PORT", "ANALYTICS_PORT"]
    env = {f"HIBIKI_{n}": str(free_port()) for n in names}
    env["HIBIKI_NATS_URL"] = f"nats://127.0.0.1:{free_port()}"
    env["HIBIKI_DATA_DIR"] = str(tmp_path / "ignored")  # --data-dir wins
    return {**os.environ, **env}


class Up:
    def __init__(self, env: dict[str, str], data: Path) -> None:
        self.start([sys.executable, "-m", "hibiki.stack.cli", "up", "--data-dir", str(data)], env)

    def start(self, command: list[str], env: dict[str, str], **options: Any) -> None:
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        **options)
        self.lines: list[str] = []
        self._output: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._output.put(line.rstrip())
        self._output.put(None)

    def wait_for(self, text: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._output.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if text in line:
                return
        raise AssertionError(f"{text!r} not printed within {timeout:.0f} s:\n" + "\n".join(self.lines))

    def rest(self) -> str:
        """What it printed after the last line waited for, until it ended."""
        self.process.wait(30)
        lines = []
        while (line := self._output.get(timeout=5)) is not None:
            lines.append(line)
        return "\n".join(lines)

    def components(self) -> dict[str, int]:
        """The pid of each component this `hibiki up` started (its child processes, from /proc)."""
        found: dict[str, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(fields[1]) == self.process.pid and fields[0] != "Z":
                name = "nats" if cmdline[0].endswith(b"nats-server") else cmdline[-2].decode()
                found[name] = int(stat.parent.name)
        return found

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        self.wait_for("hibiki: stopped")
        return self.process.wait(30)


def freeswitch_env(data: Path) -> dict[str, str]:
    """``<data dir>/freeswitch.env`` as a shell would read it (``. freeswitch.env``)."""
    values = {}
    for line in (data / "freeswitch.env").read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words:
            assert words[0] == "export" and len(words) == 2, line
            name, _, value = words[1].partition("=")
            values[name] = value
    return values


def fsapi(env: dict[str, str], body: bytes, data: Path | None = None) -> bytes:
    """POST /fsapi as FreeSWITCH does with ``<data>/freeswitch.env`` (no credentials without ``data``)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if data is not None:
        fs = freeswitch_env(data)
        user_password = f"{fs['HIBIKI_DIRECTORY_FSAPI_USER']}:{fs['HIBIKI_DIRECTORY_FSAPI_PASSWORD']}"
        headers["Authorization"] = "Basic " + base64.b64encode(user_password.encode()).decode()
    request = urllib.request.Request(f"http://127.0.0.1:{env['HIBIKI_DIRECTORY_PORT']}/fsapi", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as reply:
        return reply.read()


def api(env: dict[str, str], token: str, path: str, body: object) -> dict[str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{env['HIBIKI_DIRECTORY_PORT']}{path}",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as reply:
        assert reply.status == 201
        return dict(json.loads(reply.read()))


def closed(port: str) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", int(port))) != 0


async def publish_and_read(url: str, publish: bool) -> bytes:
    nc = await nats.connect(url)
    js = nc.jetstream()
    if publish:
        await bus.publish(js, "hibiki.t1.call.started", b"from the first run", "first-run-1")
    msg = await js.get_last_msg(bus.EVENTS_STREAM, "hibiki.t1.call.started")
    await nc.close()
    return bytes(msg.data)


def test_up_serves_stops_cleanly_and_finds_its_data_again(tmp_path: Path) -> None:
    env = stack_env(tmp_path)
    data = tmp_path / "var"
    body = (FIXTURES / "xml_curl" / "xml_curl_directory_user_exists.body").read_bytes()

    first = Up(env, data)
    try:
        first.wait_for("Press Ctrl-C to stop.")
        text = "\n".join(first.lines)
        for name in ("nats", "directory", "callcontrol", "acd", "recording", "analytics"):
            assert f"  up   {name}" in text
        assert f"POST http://127.0.0.1:{env['HIBIKI_DIRECTORY_PORT']}/fsapi" in text
        assert fsapi(env, body, data) == (b'<document type="freeswitch/xml"><section name="result">'
                                          b'<result status="not found"/></section></document>')
        # FreeSWITCH's environment: generated credentials, the URLs and ports in use, private to the owner
        fs = freeswitch_env(data)
        assert fs["HIBIKI_DIRECTORY_URL"] == f"http://127.0.0.1:{env['HIBIKI_DIRECTORY_PORT']}/fsapi"
        assert fs["HIBIKI_CALLCONTROL_ADDR"] == f"127.0.0.1:{env['HIBIKI_CALLCONTROL_ESL_PORT']}"
        assert fs["HIBIKI_HOST"] == "127.0.0.1" and len(fs["HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD"]) >= 24
        assert len(fs["HIBIKI_DIRECTORY_FSAPI_PASSWORD"]) >= 24
        # callcontrol's node is the local FreeSWITCH that environment describes (none runs here: not ready)
        with pytest.raises(urllib.error.HTTPError) as not_ready:
            urllib.request.urlopen(f"http://127.0.0.1:{env['HIBIKI_CALLCONTROL_PORT']}/readyz", timeout=5)
        assert not_ready.value.code == 503 and json.loads(not_ready.value.read())["checks"]["freeswitch"] is False
        assert fs["HIBIKI_FS_ESL_PORT"] == "8021"
        assert (data / "freeswitch.env").stat().st_mode & 0o077 == 0
        assert f". {data / 'freeswitch.env'}" in text
        with pytest.raises(urllib.error.HTTPError) as refused:   # without them: 401
            fsapi(env, body)
        assert refused.value.code == 401
        assert asyncio.run(publish_and_read(env["HIBIKI_NATS_URL"], publish=True)) == b"from the first run"
        # An administrator adds user 1000 with a desk phone on 127.0.0.1 through the admin API:
        # the tenant with a platform-admin token (README), which an admin token cannot do.
        def token_for(*args: str) -> str:
            return subprocess.run([sys.executable, "-m", "hibiki.stack.cli", "token", *args],
                                  env={**env, "HIBIKI_DATA_DIR": str(data)}, capture_output=True, text=True,
                                  check=True).stdout.strip()

        with pytest.raises(urllib.error.HTTPError) as refused:
            api(env, token_for("--user", "admin", "--role", "admin"), "/api/v1/tenants", {"id": "t1", "domain": "127.0.0.1"})
        assert refused.value.code == 403 and json.loads(refused.value.read())["error_id"] == "forbidden"
        token = token_for("--user", "root", "--role", "platform-admin")
        tenant = api(env, token, "/api/v1/tenants", {"id": "t1", "domain": "127.0.0.1", "representative_number": "046-251-1111"})
        assert tenant["representative_number"] == "0462511111"
        user = api(env, token, "/api/v1/tenants/t1/users", {"username": "u1000", "extension": "1000"})
        api(env, token, "/api/v1/tenants/t1/devices", {"user_id": user["id"], "sip_username": "1000",
                                                       "password": "a long enough secret"})
    finally:
        assert first.interrupt() == 0
    assert "  down nats" in first.lines and "  down directory" in first.lines
    assert all(closed(port) for key, port in env.items() if key.endswith("_PORT") and key.startswith("HIBIKI_"))
    secret = (data / "auth.secret").read_text()

    second = Up(env, data)
    try:
        second.wait_for("Press Ctrl-C to stop.")
        assert freeswitch_env(data) == fs          # generated once: the same credentials after a restart
        answer = fsapi(env, body, data)
        assert b'<user id="1000">' in answer and b"dial-string" in answer
        assert asyncio.run(publish_and_read(env["HIBIKI_NATS_URL"], publish=False)) == b"from the first run"
    finally:
        assert second.interrupt() == 0
    assert (data / "auth.secret").read_text() == secret
    assert (data / "analytics" / "chdb").is_dir()


def test_up_refuses_a_busy_nats_port(tmp_path: Path) -> None:
    env = stack_env(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", int(env["HIBIKI_NATS_URL"].rsplit(":", 1)[1])))
        busy.listen()
        result = subprocess.run([sys.executable, "-m", "hibiki.stack.cli", "up", "--data-dir", str(tmp_path / "v")],
                                env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "hibiki up: error: NATS: cannot listen on 127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_killed_service_is_started_again_and_nothing_else_stops(tmp_path: Path) -> None:
    env = stack_env(tmp_path)
    data = tmp_path / "var"
    (data / "log").mkdir(parents=True)
    (data / "log" / "callcontrol.log").write_text('{"event": "stale warning", "level": "error", "run": "yesterday"}\n')
    up = Up(env, data)
    try:
        up.wait_for("Press Ctrl-C to stop.")
        before = up.components()
        assert sorted(before) == ["acd", "analytics", "callcontrol", "directory", "nats", "recording"]
        os.kill(before["callcontrol"], signal.SIGKILL)
        up.wait_for("hibiki: callcontrol ended")
        assert up.lines[-1] == "hibiki: callcontrol ended: killed by signal 9 (SIGKILL); starting it again in 1 s"
        up.wait_for("  up   callcontrol again")
        with urllib.request.urlopen(f"http://127.0.0.1:{env['HIBIKI_CALLCONTROL_PORT']}/healthz", timeout=5) as reply:
            assert reply.status == 200
        after = up.components()
        environ = dict(v.split("=", 1) for v in Path(f"/proc/{after['callcontrol']}/environ").read_text().split("\0") if "=" in v)
        assert environ["HIBIKI_CALLCONTROL_ACD_GRPC"] == f"127.0.0.1:{env['HIBIKI_ACD_GRPC_PORT']}"   # the moved ports
        assert environ["HIBIKI_CALLCONTROL_DIRECTORY_GRPC"] == f"127.0.0.1:{env['HIBIKI_DIRECTORY_GRPC_PORT']}"
        assert after["callcontrol"] != before["callcontrol"]
        assert {k: v for k, v in after.items() if k != "callcontrol"} == {k: v for k, v in before.items() if k != "callcontrol"}
        # Dying again at once: the next start waits longer.
        os.kill(after["callcontrol"], signal.SIGKILL)
        up.wait_for("hibiki: callcontrol ended")
        assert up.lines[-1] == "hibiki: callcontrol ended: killed by signal 9 (SIGKILL); starting it again in 2 s"
        up.wait_for("  up   callcontrol again")
        assert up.components()["nats"] == before["nats"]
        print("\n".join(line for line in up.lines if "callcontrol" in line and not line.startswith("  ")))
    finally:
        assert up.interrupt() == 0
    assert not any("stale warning" in line for line in up.lines)
    assert "  down callcontrol" in up.lines and "  down nats" in up.lines


REPO = Path(__file__).resolve().parents[2]


class DevUp(Up):
    """The real `./dev up`, as a terminal runs it: the leader of its own process group."""

    def __init__(self, env: dict[str, str], data: Path) -> None:
        self.start([str(REPO / "dev"), "up", "--data-dir", str(data)], env, cwd=REPO, start_new_session=True)


@pytest.mark.parametrize("how", ["SIGTERM to ./dev", "Ctrl-C"])
def test_dev_up_stopped_by_a_signal_stops_everything_and_exits_0(tmp_path: Path, how: str) -> None:
    env = stack_env(tmp_path)
    up = DevUp(env, tmp_path / "var")
    try:
        up.wait_for("Press Ctrl-C to stop.")
        components = up.components()
        assert len(components) == 6, components   # ./dev became `hibiki up`: the components are its children
        if how == "Ctrl-C":
            os.killpg(up.process.pid, signal.SIGINT)  # a terminal's Ctrl-C goes to the whole foreground group
        else:
            up.process.send_signal(signal.SIGTERM)
        up.wait_for("hibiki: stopped")
        assert up.process.wait(30) == 0
    finally:
        if up.process.poll() is None:
            os.killpg(up.process.pid, signal.SIGKILL)
    text = "\n".join(up.lines) + up.rest()
    assert "error" not in text, text
    assert all(closed(port) for key, port in env.items() if key.endswith("_PORT") and key.startswith("HIBIKI_"))
    assert closed(env["HIBIKI_NATS_URL"].rsplit(":", 1)[1])
    assert not any(Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]
                   for pid in components.values())
    print(f"{how}: exit 0, {len(components)} components stopped, every port closed")


def test_up_whose_reader_went_away_still_stops_everything(tmp_path: Path) -> None:
    """A terminal closed or a pipe's reader killed: the next line `hibiki up` prints meets a broken
    pipe. Stopping must not fail on it: every component stops, every port closes."""
    env = stack_env(tmp_path)
    read_end, write_end = os.pipe()
    process = subprocess.Popen([sys.executable, "-m", "hibiki.stack.cli", "up", "--data-dir", str(tmp_path / "var")],
                               env=env, stdout=write_end, stderr=subprocess.STDOUT)
    os.close(write_end)
    up = Up.__new__(Up)
    up.process = process
    try:
        seen, deadline = b"", time.monotonic() + 120
        with os.fdopen(read_end, "rb", buffering=0) as reader:
            while b"Press Ctrl-C to stop." not in seen:
                assert time.monotonic() < deadline and process.poll() is None, seen.decode(errors="replace")
                seen += reader.read(4096)
            components = up.components()
            assert len(components) == 6, components
        process.send_signal(signal.SIGTERM)          # its next line ("stopping ...") meets EPIPE
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert all(closed(port) for key, port in env.items() if key.endswith("_PORT") and key.startswith("HIBIKI_"))
    assert closed(env["HIBIKI_NATS_URL"].rsplit(":", 1)[1])
    assert not any(Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]
                   for pid in components.values())
