"""Issue 10, item 12 on the real switch: FreeSWITCH's inbound event socket used to accept the
password written in the repository (``CHANGE-ME-esl``). With ``hibiki up`` generating the
password (nothing set by the operator) and FreeSWITCH started on ``freeswitch/conf`` with the
``freeswitch.env`` it wrote, callcontrol connects, and the placeholders are refused.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support.switch.esl import Esl
from support.switch.freeswitch import FreeSwitch
from support.switch.net import pick_bench
from support.switch.stack import HibikiUp


def readiness(url: str) -> dict[str, bool]:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as reply:
            return dict(json.loads(reply.read())["checks"])
    except urllib.error.HTTPError as exc:   # 503 while not ready, with the same body
        return dict(json.loads(exc.read())["checks"])


def test_the_generated_event_socket_password_is_shared_and_placeholders_are_refused(tmp_path: Path,
                                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD", "HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    fs = FreeSwitch(tmp_path / "freeswitch", pick_bench())
    stack = HibikiUp(tmp_path / "var", {"HIBIKI_CALLCONTROL_FREESWITCH_NODES": f"fs1={fs.address}:{fs.ports.esl}"})
    assert "HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD" not in stack.env
    stack.start()
    try:
        generated = stack.freeswitch_env()["HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD"]
        assert len(generated) >= 24 and generated not in ("CHANGE-ME-esl", "ClueCon")
        fs.start(stack.freeswitch_env())       # returns once its event socket took the generated password
        try:
            deadline = time.monotonic() + 20
            while True:                        # callcontrol (given the password by hibiki up) connects
                checks = readiness(stack.callcontrol_url)
                if checks.get("freeswitch") or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            refused = []
            for placeholder in ("CHANGE-ME-esl", "ClueCon"):
                try:
                    Esl(fs.address, fs.ports.esl, placeholder, timeout=5).close()
                except PermissionError:
                    refused.append(placeholder)
            print(f"\nreal FreeSWITCH event socket: callcontrol connected with the generated password: "
                  f"{checks.get('freeswitch')}; placeholders refused: {refused}")
            assert checks.get("freeswitch") is True
            assert refused == ["CHANGE-ME-esl", "ClueCon"]
        finally:
            fs.stop()
    finally:
        stack.stop()
    assert os.environ.get("HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD") is None
