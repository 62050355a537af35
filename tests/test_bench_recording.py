"""``./dev bench recording`` still runs (small: one short file, a tiny index made by ClickHouse's
generators): every figure and every target line is printed with a verdict; the search found the
number it looked for (the bench asserts it)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_recording_benchmark_runs_and_prints_its_targets() -> None:
    result = subprocess.run([sys.executable, "-m", "benchmarks", "recording", "--files", "2", "--seconds", "5",
                             "--tenants", "3", "--per-tenant", "2000", "--repeat", "2"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for start in ("plain ffmpeg:", "recording path:", "storage:", "index: 6,000 recordings", "  search agent, 3 years",
                  "targets:"):
        assert any(line.startswith(start) for line in out.splitlines()), f"no line starting {start!r} in:\n{out}"
    verdicts = re.findall(r"^  (keeping|cores|storage|search).*\b(PASS|FAIL)$", out, re.MULTILINE)
    assert [v[0] for v in verdicts] == ["keeping", "cores", "storage", "search"], out
    mb = float(re.search(r"-> ([0-9.]+) MB per recorded hour", out).group(1))  # type: ignore[union-attr]
    assert 3 < mb < 30, out                                     # Opus at 24 kbit/s: ~11 MB an hour
