"""A TEST HOOK for the crash-safety tests, documented as such.

With `RunOptions(crash_after=N)`, the executor kills its own process with SIGKILL (as `kill -9`
would) at the N-th checkpoint: after journaling a chunk, after writing it to the folder or the
Persons, after recording its links. 0 (the normal case) does nothing. An option of the run, not
an environment variable: one run's hook never reaches another run of the same process.
"""

from __future__ import annotations

import os
import signal


class Checkpoints:
    def __init__(self, crash_after: int = 0) -> None:
        self.crash_after = crash_after
        self.passed = 0

    def __call__(self) -> None:
        if not self.crash_after:
            return
        self.passed += 1
        if self.passed >= self.crash_after:
            os.kill(os.getpid(), signal.SIGKILL)
