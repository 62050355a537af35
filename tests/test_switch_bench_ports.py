"""The real-switch tier's harness (tests/support/switch): a port picked free for ``hibiki up``
but taken by someone else before the stack binds it (a CI run failed so: callcontrol "cannot
listen on 127.0.0.1:10906: address already in use") starts the stack again on fresh ports."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from support.switch.stack import HOST, HibikiUp


def test_a_port_taken_between_the_pick_and_the_bind_moves_the_stack_to_fresh_ports(tmp_path: Path) -> None:
    stack = HibikiUp(tmp_path / "var")
    # as the bench does: an address derived from a picked port moves with it
    stack.env["HIBIKI_DIRECTORY_CALLCONTROL_ADDRESS"] = stack.callcontrol_esl
    taken = stack.port("CALLCONTROL_ESL_PORT")
    squatter = socket.socket()
    squatter.bind((HOST, taken))
    squatter.listen(1)
    try:
        stack.start()
        try:
            assert len(stack.port_retries) == 1, stack.port_retries
            assert f"{HOST}:{taken}" in stack.port_retries[0]
            assert "address already in use" in stack.port_retries[0]
            moved = stack.port("CALLCONTROL_ESL_PORT")
            assert moved != taken
            assert stack.env["HIBIKI_DIRECTORY_CALLCONTROL_ADDRESS"] == f"{HOST}:{moved}"
            # the stack runs on its new ports: callcontrol healthy, its event socket listening
            assert httpx.get(f"{stack.callcontrol_url}/healthz", timeout=5).status_code == 200
            with socket.create_connection((HOST, moved), timeout=5):
                pass
            assert "Press Ctrl-C to stop." in "\n".join(stack.lines)
        finally:
            stack.stop()
    finally:
        squatter.close()


def test_a_stack_that_fails_for_another_reason_is_not_started_again(tmp_path: Path) -> None:
    stack = HibikiUp(tmp_path / "var", {"HIBIKI_ACD_PORT": "70000"})   # not a port: the ACD refuses to start
    try:
        stack.start(timeout=60)
    except RuntimeError as exc:
        assert "did not come up" in str(exc) and "HIBIKI_ACD_PORT='70000' is not a TCP port" in str(exc)
    else:
        stack.stop()
        raise AssertionError("hibiki up came up without its data directory")
    assert stack.port_retries == []
