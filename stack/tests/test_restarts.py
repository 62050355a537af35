"""The supervisor's restart policy and what it says about a component that ended."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import given, strategies as st

from hibiki.stack.restarts import MAX_DELAY, Backoff, ending
from hibiki.stack.supervisor import Child


def test_ending_names_the_signal_or_the_exit_code() -> None:
    assert ending(-9) == "killed by signal 9 (SIGKILL)"
    assert ending(-15) == "killed by signal 15 (SIGTERM)"
    assert ending(3) == "exited with code 3"
    assert ending(-200) == "killed by signal 200"


def test_backoff_doubles_while_dying_and_starts_over_after_a_stable_run() -> None:
    backoff = Backoff()
    assert [backoff.next_delay(0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.next_delay(61.0) == 1
    assert backoff.next_delay(2.0) == 2


@given(st.lists(st.floats(min_value=0, max_value=1e6), max_size=200))
def test_backoff_stays_between_one_second_and_the_limit(runs: list[float]) -> None:
    backoff = Backoff()
    for ran_for in runs:
        assert 1 <= backoff.next_delay(ran_for) <= MAX_DELAY


def test_only_this_runs_log_lines_explain_an_ending(tmp_path: Path) -> None:
    log_path = tmp_path / "svc.log"
    log_path.write_text('{"level": "error", "event": "from an earlier run"}\n')
    with log_path.open("ab") as log_file:
        offset = log_file.tell()
        process = subprocess.Popen([sys.executable, "-c", "print('starting'); raise SystemExit(3)"],
                                   stdout=log_file, stderr=subprocess.STDOUT)
        process.wait()
        child = Child("svc", process, log_path, log_file, log_offset=offset)
        assert child.run_error() is None
        assert child.last_error() == "starting"
    with log_path.open("ab") as log_file:
        log_file.write(b'{"level": "error", "event": "port taken"}\n')
        log_file.write(b'{"level": "warning", "event": "acd_unavailable", "error": "connection refused"}\n')
    assert child.run_error() == '{"level": "error", "event": "port taken"}'   # the warning is not an error
    with log_path.open("ab") as log_file:
        log_file.write(b"OSError: [Errno 98] Address already in use\n")
    assert child.run_error() == "OSError: [Errno 98] Address already in use"
