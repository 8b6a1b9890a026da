"""A sync run killed with SIGKILL (as `kill -9`) at a chosen point, for the crash tests on any
store: the run goes in a forked child process that kills itself at the executor's `point`-th
checkpoint (after a chunk's intents, after its write, after its outcomes), or right after
planning (point 0). The point is handed to the child in-process: no environment variable, nothing
the library reads."""

from __future__ import annotations

import multiprocessing
import os
import signal
from multiprocessing.connection import Connection

from personsync.persons.repo import PersonsDB
from personsync.sync import apply, engine
from personsync.sync.events import Planned, RunEvent
from personsync.sync.options import RunOptions

FORK = multiprocessing.get_context("fork")


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class _Killer:
    """Stands in for the executor's checkpoints (sync/crash.py), in the child only."""

    point = 0

    def __init__(self) -> None:
        self.passed = 0

    def __call__(self) -> None:
        self.passed += 1
        if self.passed >= self.point:
            _kill()


def _child(
    db_url: str,
    folder: str,
    mode: str,
    view: str | None,
    options: RunOptions,
    point: int,
    out: Connection,
) -> None:
    _Killer.point = point
    apply.Checkpoints = _Killer  # type: ignore[misc,assignment]  # this forked child only

    def planned(event: RunEvent) -> None:
        if point == 0 and isinstance(event, Planned):
            _kill()

    db = PersonsDB(db_url, migrate=False)
    try:
        outcome = engine.run(db, folder, mode, view=view, options=options, on_event=planned)
        assert outcome.report is not None
        out.send(("finished", outcome.report.run_id))
    except BaseException as exc:
        out.send(("failed", repr(exc)))
    finally:
        db.close()


def run_killed(
    db: PersonsDB,
    db_url: str,
    folder: str,
    mode: str,
    options: RunOptions,
    point: int,
    view: str | None = None,
) -> bool:
    """Run in a child killed at `point`; True if it was killed (False: it ended first)."""
    db.engine.dispose()  # the child opens its own connections: none shared over the fork
    here, there = FORK.Pipe(duplex=False)
    child = FORK.Process(target=_child, args=(db_url, folder, mode, view, options, point, there))
    child.start()
    there.close()
    child.join(timeout=120)
    assert child.exitcode is not None, "the run did not end"
    if child.exitcode == -signal.SIGKILL:
        here.close()
        return True
    message = here.recv() if here.poll() else None
    here.close()
    assert child.exitcode == 0 and message is not None and message[0] == "finished", message
    return False
