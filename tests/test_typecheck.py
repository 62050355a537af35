"""mypy --strict over the shared library, every service and the stack (settings in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_strict_passes() -> None:
    targets = ["libs/common/src", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "services").glob("*/src")), "stack/src"]
    result = subprocess.run([sys.executable, "-m", "mypy", *targets], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
