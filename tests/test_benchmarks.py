"""The benchmarks still run (a smoke test on a tiny store, so they cannot rot); the figures are not checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
