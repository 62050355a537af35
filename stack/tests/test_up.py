"""`hibiki up`: the whole stack as a user starts it, stopped with Ctrl-C, started again."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

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
        self.process = subprocess.Popen([sys.executable, "-m", "hibiki.stack.cli", "up", "--data-dir", str(data)],
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []

    def wait_for(self, text: str) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if text in line:
                return
        raise AssertionError(f"{text!r} never printed:\n" + "\n".join(self.lines))

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
        assert (data / "freeswitch.env").stat().st_mode & 0o077 == 0
        assert f". {data / 'freeswitch.env'}" in text
        with pytest.raises(urllib.error.HTTPError) as refused:   # without them: 401
            fsapi(env, body)
        assert refused.value.code == 401
        assert asyncio.run(publish_and_read(env["HIBIKI_NATS_URL"], publish=True)) == b"from the first run"
        # An administrator adds user 1000 with a desk phone on 127.0.0.1 through the admin API.
        token = subprocess.run([sys.executable, "-m", "hibiki.stack.cli", "token", "--user", "admin", "--role",
                                "platform-admin"], env={**env, "HIBIKI_DATA_DIR": str(data)}, capture_output=True,
                               text=True, check=True).stdout.strip()
        user = api(env, token, "/api/v1/tenants", {"id": "t1", "domain": "127.0.0.1"})
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
