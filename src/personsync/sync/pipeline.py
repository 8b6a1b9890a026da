"""A run's writes to the contact folder, started one chunk ahead of their bookkeeping.

Why: the vCard folder's batches are written by a helper process (`stores.file_writer`); while it
writes one chunk, this process can record the chunk before (links, journal) and journal the
next. A store starts a batch with `begin_create_many`/`begin_update_many` and hands back a
function that waits for the results; stores without a helper do the work at once and the
function just returns it, so for them nothing changes.

No thread: a thread writing beside the engine took the GIL from its database calls (SQLite
releases it for every row) and slowed them threefold; the helper is a process for that reason.

What stays in order, and why it is enough for crash safety (see `apply`):
- a chunk's intents are committed before its write is begun (the caller's job);
- a chunk's outcomes (links, journal, `contact_manager_id`) are recorded only after its write
  finished, by `then`, in the order the writes were begun;
A crash therefore leaves at most two chunks with intents but no outcome, which the next run
completes exactly as it completes one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

R = TypeVar("R")


class _Job(Generic[R]):
    __slots__ = ("then", "wait")

    def __init__(self, wait: Callable[[], R], then: Callable[[R], None]) -> None:
        self.wait = wait
        self.then = then


class WriteQueue:
    """Begun writes, finished in order; at most one is still open when `submit` returns."""

    def __init__(self) -> None:
        self._jobs: deque[_Job[Any]] = deque()

    def submit(self, begin: Callable[[], Callable[[], R]], then: Callable[[R], None]) -> None:
        """Begin a write (`begin` returns the function that waits for its result), then finish
        the ones begun before it: wait for each and run its `then`."""
        self._jobs.append(_Job(begin(), then))
        while len(self._jobs) > 1:
            self._finish_one()

    def drain(self) -> None:
        """Finish every begun write: after this the store is quiet."""
        while self._jobs:
            self._finish_one()

    def close(self) -> None:
        """Forget writes not finished (after an error): their outcomes stay unrecorded, exactly
        as after a crash at this point; the store finishes them when it is closed."""
        self._jobs.clear()

    def _finish_one(self) -> None:
        job = self._jobs.popleft()
        job.then(job.wait())
