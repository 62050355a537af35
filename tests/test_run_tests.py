"""``./dev test`` (tools/run_tests.py): the fast layer, then the real-switch tier on xdist workers,
one exit status; any selection of one's own goes to one pytest unchanged. Run here on a small
project of its own (a pytest.ini, a fast test and a ``freeswitch`` one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "run_tests.py"


def project(tmp_path: Path, fast_ok: bool = True, tier_ok: bool = True) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    freeswitch: the tier\naddopts = -p no:cacheprovider\n")
    (tmp_path / "test_fast.py").write_text(f"def test_fast():\n    assert {fast_ok}\n")
    (tmp_path / "test_tier.py").write_text(
        "import os, pytest\n\n"
        "@pytest.mark.freeswitch\n"
        "def test_tier_a():\n    print('WORKER', os.environ.get('PYTEST_XDIST_WORKER', 'none'))\n"
        f"    assert {tier_ok}\n\n"
        "@pytest.mark.freeswitch\n"
        "def test_tier_b():\n    pass\n")
    return tmp_path


def run(where: Path, *args: str, workers: str = "2") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HIBIKI_FS_TEST_WORKERS": workers}
    return subprocess.run([sys.executable, str(TOOL), *args], cwd=where, env=env, capture_output=True, text=True,
                          timeout=300)


def test_without_arguments_the_fast_layer_then_the_tier_on_workers(tmp_path: Path) -> None:
    result = run(project(tmp_path), "-q", "-rA")
    assert result.returncode == 0, result.stdout + result.stderr
    runs = [line for line in result.stdout.splitlines() if line.startswith("+ pytest")]
    assert runs == ["+ pytest -m not freeswitch -q -rA", "+ pytest -m freeswitch -n 2 --dist loadfile --no-loadscope-reorder -q -rA"]
    assert "1 passed, 2 deselected" in result.stdout
    assert "WORKER gw" in result.stdout          # the tier ran on an xdist worker
    assert "2 passed" in result.stdout


@pytest.mark.parametrize(("fast_ok", "tier_ok"), [(False, True), (True, False), (False, False)])
def test_one_failing_run_fails_the_command(tmp_path: Path, fast_ok: bool, tier_ok: bool) -> None:
    result = run(project(tmp_path, fast_ok, tier_ok), "-q")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.count("+ pytest") == 2      # the tier runs even when the fast layer failed


def test_stop_at_first_failure_skips_the_tier(tmp_path: Path) -> None:
    result = run(project(tmp_path, fast_ok=False), "-x")
    assert result.returncode == 1 and result.stdout.count("+ pytest") == 1, result.stdout


def test_no_tests_collected_is_a_failure(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    assert run(tmp_path).returncode == 5


def test_a_selection_goes_to_one_pytest_unchanged(tmp_path: Path) -> None:
    result = run(project(tmp_path, tier_ok=False), "-k", "fast", "-q")
    assert result.returncode == 0, result.stdout
    assert [line for line in result.stdout.splitlines() if line.startswith("+ pytest")] == ["+ pytest -k fast -q"]


def test_one_worker_runs_the_tier_in_one_process(tmp_path: Path) -> None:
    result = run(project(tmp_path), "-s", workers="1")
    assert result.returncode == 0, result.stdout
    assert "+ pytest -m freeswitch -s" in result.stdout and "WORKER none" in result.stdout


def test_a_bad_worker_count_is_refused(tmp_path: Path) -> None:
    result = run(project(tmp_path), workers="two")
    assert result.returncode != 0 and "HIBIKI_FS_TEST_WORKERS='two'" in result.stderr
