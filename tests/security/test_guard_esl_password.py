"""Issue 10, item 12, replayed: FreeSWITCH's inbound event socket accepted the password written in the
repository (``CHANGE-ME-esl``) because callcontrol used it (or ``ClueCon``) when nothing was set.
callcontrol now refuses to start with an unset or placeholder password towards any node that is not
on loopback, and ``hibiki up`` generates one (stack/tests/test_up.py reads it in freeswitch.env).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.servers import free_port

pytestmark = pytest.mark.slow
PLACEHOLDERS = {"unset": None, "empty": "", "ClueCon": "ClueCon", "CHANGE-ME-esl": "CHANGE-ME-esl", "CHANGE-ME": "CHANGE-ME"}


def serve_callcontrol(tmp_path: Path, nats_url: str, nodes: str, password: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIBIKI_CALLCONTROL_FREESWITCH")}
    env.update({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_url, "HIBIKI_AUTH_SECRET": "s" * 48,
                "HIBIKI_CALLCONTROL_PORT": str(free_port()), "HIBIKI_CALLCONTROL_ESL_PORT": "0",
                "HIBIKI_CALLCONTROL_FREESWITCH_NODES": nodes})
    if password is not None:
        env["HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD"] = password
    try:
        return subprocess.run([sys.executable, "-m", "hibiki.stack.cli", "serve", "callcontrol"], env=env,
                              capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired as exc:   # it started and ran: no refusal
        return subprocess.CompletedProcess(exc.cmd, 0, "", str(exc.stderr or ""))


def test_a_placeholder_password_towards_a_remote_node_stops_callcontrol(tmp_path: Path, nats_server: Any) -> None:
    started = []
    for label, password in PLACEHOLDERS.items():
        ended = serve_callcontrol(tmp_path, nats_server.url, "fs1=192.0.2.10:8021", password)
        if ended.returncode == 0 or "refusing to send it to fs1" not in ended.stderr:
            started.append(label)
        else:
            assert ended.stderr.strip().splitlines()[-1].startswith("hibiki callcontrol: error: "
                                                                   "HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD ")
    print(f"\ncallcontrol started with a placeholder event-socket password towards a remote node: "
          f"{len(started)} of {len(PLACEHOLDERS)} {started}")
    assert started == []
