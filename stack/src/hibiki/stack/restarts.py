"""Why a component of ``hibiki up`` ended and when to start it again (policy only, no I/O).

A dead component is started again after 1 s, then 2, 4, 8, ... up to 30 s while it keeps
dying; a run of 60 s or more counts as healthy and the next death starts over at 1 s.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

FIRST_DELAY = 1.0
MAX_DELAY = 30.0
STABLE_SECONDS = 60.0


def ending(returncode: int) -> str:
    """``killed by signal 9 (SIGKILL)`` or ``exited with code 3``, from a Popen return code."""
    if returncode < 0:
        number = -returncode
        try:
            return f"killed by signal {number} ({signal.Signals(number).name})"
        except ValueError:
            return f"killed by signal {number}"
    return f"exited with code {returncode}"


@dataclass
class Backoff:
    """The delay before each restart of one component."""

    first: float = FIRST_DELAY
    limit: float = MAX_DELAY
    stable: float = STABLE_SECONDS
    failures: int = 0

    def next_delay(self, ran_for: float) -> float:
        """The wait before starting again a component that ran ``ran_for`` seconds this time."""
        if ran_for >= self.stable:
            self.failures = 0
        delay = min(self.limit, self.first * float(2 ** min(self.failures, 30)))
        self.failures += 1
        return delay
