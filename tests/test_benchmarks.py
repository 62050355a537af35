"""The benchmarks still run (a smoke test on a tiny store, so they cannot rot); the figures are not checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def bench(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_the_list_names_the_benchmarks() -> None:
    result = bench("list")
    assert result.returncode == 0, result.stderr
    assert "directory" in result.stdout
    assert "callcontrol" in result.stdout


def test_the_directory_benchmark_runs_and_prints_its_table() -> None:
    result = bench("directory", "--seconds", "1", "--tenants", "3", "--users", "20", "--connections", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for start in ("constant endpoint", "directory (mix)", "config change visible on 2 replicas", "memory:", "targets:"):
        assert any(line.startswith(start) for line in lines), f"no line starting {start!r} in:\n{result.stdout}"
    assert "errors" in result.stdout


def test_the_callcontrol_benchmark_runs_and_prints_its_table() -> None:
    result = bench("callcontrol", "--seconds", "1", "--rates", "5")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for start in ("baseline (answers, hangs up)", "callcontrol (IVR)", "controllers idle",
                  "controller CPU per IVR call", "target ("):
        assert any(line.startswith(start) for line in lines), f"no line starting {start!r} in:\n{result.stdout}"
    assert "setup ms" in result.stdout and "event ms" in result.stdout


def test_the_acd_benchmark_runs_and_prints_its_table() -> None:
    result = bench("acd", "--agents", "40", "--queues", "4", "--seconds", "0.3")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for start in ("hibiki Acd", "baseline (first ready", "ready -> offered:", "calls answered per agent", "targets:"):
        assert any(line.startswith(start) for line in lines), f"no line starting {start!r} in:\n{result.stdout}"
    assert "p99 decision < 1 ms" in result.stdout
    assert "acd" in bench("list").stdout


def test_the_acd_service_benchmark_runs_and_prints_its_table() -> None:
    result = bench("acd-service", "--seconds", "1", "--agents", "4", "--queues", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for start in ("gRPC commands, flat out", "ready -> offered, flat out",
                  "enqueue -> offered (agent ready), flat out", "gRPC commands, half load", "ready -> offered, half load", "calls answered:", "target: ready -> offered"):
        assert any(line.startswith(start) for line in lines), f"no line starting {start!r} in:\n{result.stdout}"
    assert "errors: 0" in result.stdout, result.stdout
    assert "acd-service" in bench("list").stdout


def _no_switch() -> str | None:
    from support.switch import sipp
    from support.switch.freeswitch import FREESWITCH
    if not FREESWITCH.exists() or not sipp.available():
        return f"needs the real FreeSWITCH ({FREESWITCH}) and sipp: ../shared/freeswitch/install.sh (root)"
    return None


@pytest.mark.freeswitch
@pytest.mark.slow
@pytest.mark.parametrize("layout", ["shared", "split"])
def test_the_freeswitch_benchmark_runs_and_prints_its_table(layout: str) -> None:
    if (reason := _no_switch()) is not None:
        pytest.skip(reason)
    result = bench("freeswitch", "--users", "8", "--seconds", "2", "--register-rates", "5", "--call-rates", "2",
                   "--did-rates", "2", "--hold-ms", "200", "--layout", layout, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"layout: {layout}:" in result.stdout and f"(layout {layout})" in result.stdout, result.stdout
    if layout == "split":     # the stack on its own core, the switches and sipp on the other
        assert any(line.startswith("layout split: switches, sipp and the driver on core 0") for line in lines)
    for start in ("REGISTER  hibiki", "REGISTER  static", "call      hibiki", "call      static", "DID       hibiki",
                  "DID       static", "REGISTERs/s: hibiki", "call setups/s (extension to extension): hibiki",
                  "call setups/s (DID -> IVR -> queue -> agent): hibiki"):
        assert any(line.startswith(start) for line in lines), f"no line starting {start!r} in:\n{result.stdout}"
    rows = [line.split() for line in lines if line.startswith(("REGISTER  ", "call      ", "DID       "))]
    # at a few per second both switches keep up: every REGISTER and call went through, every call was answered
    # (by the called phone, or through the IVR and the queue by an agent's phone)
    assert len(rows) == 6 and all(row[-1] == "yes" for row in rows), result.stdout
    assert all(row[6] == row[4] for row in rows if row[0] != "REGISTER"), result.stdout   # ok == answered
    assert "freeswitch" in bench("list").stdout


def test_the_analytics_benchmark_runs_and_prints_its_table() -> None:
    result = bench("analytics", "--calls", "2000", "--centers", "3", "--sample", "300", "--repeat", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for start in ("generator:", "pipeline:", "load calls", "events:", "reports, one center, 3 years",
                  "engine bulk insert, one center", "platform: 3 centers", "reports, one tenant of 3 centers",
                  "wallboard, one center", "targets:"):
        assert any(line.startswith(start) for line in lines), f"no line starting {start!r} in:\n{result.stdout}"
    assert "every compared column agrees" in result.stdout, result.stdout
    assert "FAILED" not in result.stdout, result.stdout
    assert "analytics" in bench("list").stdout
