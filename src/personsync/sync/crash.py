"""A TEST HOOK for the crash-safety tests, documented as such.

With `PERSONSYNC_CRASH_AFTER=N` in the environment, the executor kills its own process with
SIGKILL (as `kill -9` would) at the N-th checkpoint: after journaling a chunk, after writing it to
the folder or the Persons, after recording its links. Unset (the normal case) it does nothing.
"""

from __future__ import annotations

import os
import signal


class Checkpoints:
    def __init__(self) -> None:
        raw = os.environ.get("PERSONSYNC_CRASH_AFTER", "")
        self.crash_after = int(raw) if raw.isdigit() else 0
        self.passed = 0

    def __call__(self) -> None:
        if not self.crash_after:
            return
        self.passed += 1
        if self.passed >= self.crash_after:
            os.kill(os.getpid(), signal.SIGKILL)
