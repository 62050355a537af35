"""`./dev test`: every test with one command and one exit status.

Without arguments (or with display options only: -q, -v, -x, -s, -r..., --durations=N, --tb=...,
--maxfail=N, which go to both runs) it runs the fast layer (``-m "not freeswitch"``), then the
real-switch tier (``-m freeswitch``) with its test modules spread over ``HIBIKI_FS_TEST_WORKERS``
pytest-xdist workers (``--dist loadfile``: a module's tests stay on one worker, with their bench;
the longest modules first; default 1, one process: ``4`` is faster but not yet reliable). Its exit status is the first run's that failed, else 0
(pytest's 5, no tests collected, counts as a failure). Any other argument means a selection of
your own: the arguments go to one pytest unchanged (``./dev test -k fsapi``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

DISPLAY = re.compile(r"^(-q+|-v+|-x|-s|-r[a-zA-Z]+|--durations=[0-9]+|--durations-min=[0-9.]+|--tb=\w+"
                     r"|--color=\w+|--maxfail=[0-9]+)$")
DEFAULT_WORKERS = 1     # 4 took the tier to 9 min on a quiet machine, but 2 of its 96 timing-bound tests failed in 1 of 2 CI runs


def workers() -> int:
    value = os.environ.get("HIBIKI_FS_TEST_WORKERS", str(DEFAULT_WORKERS))
    if not re.fullmatch(r"[0-9]{1,2}", value) or int(value) > 64:
        raise SystemExit(f"HIBIKI_FS_TEST_WORKERS={value!r}: a number of workers from 0 to 64")
    return int(value)


def pytest(args: list[str]) -> int:
    print(f"+ pytest {' '.join(args)}", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", *args])


def main(args: list[str]) -> int:
    if not all(DISPLAY.match(arg) for arg in args):
        return pytest(args)
    n = workers()
    # --no-loadscope-reorder: the modules in the order tests/freeswitch/conftest.py gives (longest first)
    tier = ["-m", "freeswitch", *(["-n", str(n), "--dist", "loadfile", "--no-loadscope-reorder"] if n > 1 else []),
            *args]
    first = pytest(["-m", "not freeswitch", *args])
    if first != 0 and any(arg == "-x" or arg.startswith("--maxfail") for arg in args):
        return first     # asked to stop at the first failure
    second = pytest(tier)
    return first if first != 0 else second


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
