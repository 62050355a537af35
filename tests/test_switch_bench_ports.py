"""The real-switch tier's harness (tests/support/switch): a port picked free for ``hibiki up``
but taken by someone else before the stack binds it (a CI run failed so: callcontrol "cannot
listen on 127.0.0.1:10906: address already in use") starts the stack again on fresh ports; each
bench holds its /24 of loopback addresses (FreeSWITCH's ports) while it lives."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from support.switch.net import RESERVE_PORT, pick_bench, release
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


def test_a_bench_holds_its_24_until_released_so_parallel_benches_never_share_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIBIKI_FS_TEST_NET", "127.250.4.0/23")    # two /24s: 127.250.4 and 127.250.5
    first, second = pick_bench(), pick_bench()
    try:
        assert {str(first.base), str(second.base)} == {"127.250.4.0", "127.250.5.0"}
        # another process binding the switch address's reservation is refused as well
        probe = subprocess.run([sys.executable, "-c", f"import socket; socket.socket().bind(({first.switch!r}, {RESERVE_PORT}))"],
                               capture_output=True, text=True)
        assert probe.returncode != 0 and "Address already in use" in probe.stderr
        with pytest.raises(RuntimeError, match="no free /24"):
            pick_bench()
        release(first)
        assert pick_bench() == first
    finally:
        release(first)
        release(second)


def test_benches_leave_the_failover_sites_24s_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIBIKI_FS_TEST_NET", "127.250.16.0/20")   # 16 /24s; support/failover.py uses .17-.19
    picked = [pick_bench() for _ in range(12)]
    try:
        assert sorted(int(str(b.base).split(".")[2]) for b in picked) == list(range(20, 32))
        with pytest.raises(RuntimeError, match="no free /24"):
            pick_bench()
    finally:
        for bench in picked:
            release(bench)


def test_sipp_media_ports_are_a_free_run_below_the_ephemeral_range(monkeypatch: pytest.MonkeyPatch) -> None:
    """sipp binds its media port and the three after it (audio RTP and RTCP, video) when it starts; a
    CI run lost a carrier call when the video port, picked from the ephemeral range, was taken. The
    run is even, below the kernel's ephemeral range, every port of it free; a run with a port held
    by someone else is passed over."""
    from support.switch import net

    address = "127.0.0.1"
    low, _ = net._ephemeral_range()
    for _ in range(100):
        run = net.free_udp_ports(address, 4)
        assert run % 2 == 0 and 10000 <= run and run + 4 <= min(low, 32768)
        for port in range(run, run + 4):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind((address, port))
    taken = net.free_udp_ports(address, 8)
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind((address, taken + 2))              # the third port of the first run drawn
    draws = iter([taken, taken + 4])
    monkeypatch.setattr(net.random, "randrange", lambda *_: next(draws))
    try:
        assert net.free_udp_ports(address, 4) == taken + 4
    finally:
        squatter.close()
