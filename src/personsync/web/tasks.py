"""Runs started from the console, each in its own thread, with progress a page can follow.

A task's progress is plain counters a run's events move (`hear`); the page's server-sent events
read them every half second, so a person sees the run move at least once a second however the
engine batches its writes. A wait the folder's service asked for (a throttled Graph folder) is
shown until the run writes again. A decision (link, create new, ignore, resolve) is quick and
answered in its own request: its waits go to the server's log (`log_waits`), as the CLI says
them on stderr.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from personsync.errors import MassChangeRefused, PersonsyncError
from personsync.sync.events import OnEvent, Planned, Progress, RunEvent, Waiting

log = logging.getLogger(__name__)
KEEP = 50  # finished tasks kept for their pages


@dataclass
class Task:
    id: str
    title: str
    total: int = 0
    done: int = 0
    phase: str = "planning"  # planning | waiting (for a person) | writing | finished | failed
    run_id: str | None = None
    error: str = ""
    hint: str = ""
    message: str = ""  # a line the task wants shown (Microsoft 365's device-code instructions)
    waiting: str = ""  # the wait the folder's service asked for, until the run writes again
    back: str = ""  # where the page leads when the task is over and made no run
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def hear(self, event: RunEvent) -> None:
        """A run's (or an undo's) events: the plan's size, then its progress. The console asks
        about the mass-change guard before it starts a run, so a GuardQuestion is refused here."""
        if isinstance(event, Planned):
            self.total, self.phase = event.plan.changes(), "writing"
            self.waiting = ""
        elif isinstance(event, Progress):
            self.total = event.total
            self.done = event.done
            self.phase = "writing"
            self.waiting = ""
        elif isinstance(event, Waiting):
            self.waiting = said_wait(event)

    @property
    def over(self) -> bool:
        return self.finished is not None

    @property
    def percent(self) -> int:
        if self.phase == "finished":
            return 100
        return min(100, round(100 * self.done / self.total)) if self.total else 0


def said_wait(event: Waiting) -> str:
    return f"The folder asked to slow down: waiting {event.seconds:.1f} s ({event.reason})."


def log_waits(what: str) -> OnEvent:
    """The listener of a decision run in a request (`what` names it in the log): the folder's
    waits, logged; until 2026-12-06 a decision passed none, and a throttled folder kept the
    page waiting without a word anywhere."""

    def hear(event: RunEvent) -> None:
        if isinstance(event, Waiting):
            log.warning("%s: %s", what, said_wait(event))

    return hear


class Tasks:
    def __init__(self) -> None:
        self._tasks: OrderedDict[str, Task] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def start(self, title: str, work: Callable[[Task], str | None], *, back: str = "") -> Task:
        """Run `work(task)` in a thread; it returns the run id of what it did (or None)."""
        task = Task(secrets.token_urlsafe(12), title, back=back)
        with self._lock:
            self._tasks[task.id] = task
            while len(self._tasks) > KEEP:
                oldest = next(iter(self._tasks))
                if not self._tasks[oldest].over:
                    break
                self._tasks.popitem(last=False)

        def body() -> None:
            try:
                task.run_id = work(task)
                task.phase = "finished"
            except (MassChangeRefused, PersonsyncError) as exc:
                task.error, task.hint, task.phase = exc.message, exc.hint, "failed"
            except Exception as exc:  # shown in the page; the server goes on
                log.exception("task %s failed", title)
                task.error, task.phase = f"{type(exc).__name__}: {exc}", "failed"
            finally:
                task.finished = time.monotonic()

        threading.Thread(target=body, name=f"task {title}", daemon=True).start()
        return task
