"""Sync runs in child processes, for the crash and lease tests on any store.

- `race_two_exports`: two processes start the same export at one instant.
- `create_new_killed`, `race_two_decisions`: a decision's "create new" killed, or sent twice.
- `link_killed`: a `link` (that may move a Person's link) killed at one of its checkpoints.
- `undo_killed`: an undo killed at one of its checkpoints, as `run_killed`.
- `run_killed`: a run killed with SIGKILL (as `kill -9`) at a chosen point. It goes in a forked
  child that kills itself at the executor's `point`-th checkpoint (after a chunk's intents, after
  its write, after its outcomes), or right after planning (point 0). The point is handed to the
  child in-process: no environment variable, nothing the library reads.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from dataclasses import replace
from multiprocessing.connection import Connection
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from personsync.errors import LeaseHeld, UsageError
from personsync.persons.repo import PersonsDB
from personsync.sync import engine, manual
from personsync.sync.events import Planned, RunEvent
from personsync.sync.options import RunOptions

FORK = multiprocessing.get_context("fork")


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _child(
    db_url: str,
    folder: str,
    mode: str,
    view: str | None,
    options: RunOptions,
    point: int,
    out: Connection,
) -> None:
    if point:
        # The executor's own kill point (a run option, handed in here in-process).
        options = replace(options, crash_after=point)

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
    return _killed(db, _child, (db_url, folder, mode, view, options, point))


def _killed(db: PersonsDB, target: Any, args: tuple[Any, ...]) -> bool:
    """`target(*args, pipe)` in a forked child that may kill itself; True if it was killed."""
    db.engine.dispose()  # the child opens its own connections: none shared over the fork
    here, there = FORK.Pipe(duplex=False)
    child = FORK.Process(target=target, args=(*args, there))
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


def _export_in_child(url: str, folder: str, start: Barrier, out: Queue) -> None:  # type: ignore[type-arg]
    db = PersonsDB(url, migrate=False)
    try:
        start.wait(timeout=30)
        try:
            outcome = engine.run(db, folder, "export", options=RunOptions(yes=True))
        except LeaseHeld as exc:
            out.put(("refused", exc.message))
            return
        except BaseException as exc:
            out.put(("failed", repr(exc)))
            raise
        assert outcome.report is not None
        out.put(("ran", outcome.report.run_id, outcome.plan.counts()["create-contact"]))
    finally:
        db.close()


def race_two_exports(db_url: str, folder: str, persons: int) -> bool:
    """Two processes start the same export into `folder` at the same instant (released by one
    barrier). Checks what each said; True if one was refused the lease (they overlapped)."""
    results = _two_at_once(_export_in_child, (db_url, folder))
    ran = [r for r in results if r[0] == "ran"]
    refused = [r for r in results if r[0] == "refused"]
    if refused:
        # One ran, and the other was told which run holds the folder.
        assert len(ran) == 1 and ran[0][1] in refused[0][1], results
        return True
    # The second started after the first had finished: it found nothing to create.
    assert sorted(r[2] for r in ran) == [0, persons], results
    return False


# --- an undo (sync/undo.py), killed ----------------------------------------------------------
def _undo_child(db_url: str, run_id: str, options: RunOptions, out: Connection) -> None:
    from personsync.sync.undo import undo

    db = PersonsDB(db_url, migrate=False)
    try:
        report = undo(db, run_id, options=options)
        out.send(("finished", report.run_id))
    except BaseException as exc:
        out.send(("failed", repr(exc)))
    finally:
        db.close()


def undo_killed(db: PersonsDB, db_url: str, run_id: str, options: RunOptions) -> bool:
    """`undo(run_id)` in a child killed at its `options.crash_after`-th checkpoint (after a
    chunk's intents, after its writes, after its outcomes); True if it was killed."""
    return _killed(db, _undo_child, (db_url, run_id, options))


# --- a decision's "create new" (sync/manual.py), killed or sent twice at once ------------------
def _create_new_child(
    db_url: str, folder: str, target: dict[str, Any], point: int, out: Connection
) -> None:
    db = PersonsDB(db_url, migrate=False)
    try:
        report = manual.create_new(db, folder, crash_after=point, **target)
        out.send(("finished", report.run_id))
    except BaseException as exc:
        out.send(("failed", repr(exc)))
    finally:
        db.close()


def create_new_killed(db: PersonsDB, db_url: str, folder: str, point: int, **target: Any) -> bool:
    """`manual.create_new(**target)` in a child killed at the executor's `point`-th checkpoint;
    True if it was killed (False: it ended first)."""
    return _killed(db, _create_new_child, (db_url, folder, target, point))


def _link_child(
    db_url: str, folder: str, person_id: int, item_id: str, point: int, out: Connection
) -> None:
    db = PersonsDB(db_url, migrate=False)
    try:
        report = manual.link(db, person_id, folder, item_id, yes=True, crash_after=point)
        out.send(("finished", report.run_id))
    except BaseException as exc:
        out.send(("failed", repr(exc)))
    finally:
        db.close()


def link_killed(
    db: PersonsDB, db_url: str, folder: str, person_id: int, item_id: str, point: int
) -> bool:
    """`manual.link(person_id, item_id, yes=True)` in a child killed at its `point`-th
    checkpoint; True if it was killed (False: it ended first)."""
    return _killed(db, _link_child, (db_url, folder, person_id, item_id, point))


def _decide_in_child(
    url: str,
    folder: str,
    target: dict[str, Any],
    start: Barrier,
    out: Queue,  # type: ignore[type-arg]
) -> None:
    db = PersonsDB(url, migrate=False)
    try:
        start.wait(timeout=30)
        try:
            out.put(("made", manual.create_new(db, folder, **target).run_id))
        except (LeaseHeld, UsageError) as exc:
            out.put(("refused", exc.message))
        except BaseException as exc:
            out.put(("failed", repr(exc)))
            raise
    finally:
        db.close()


def race_two_decisions(db_url: str, folder: str, **target: Any) -> list[tuple[str, str]]:
    """Two processes send the same "create new" decision at the same instant; what each said."""
    return _two_at_once(_decide_in_child, (db_url, folder, target))


def _two_at_once(target: Any, args: tuple[Any, ...]) -> list[Any]:
    """`target(*args, barrier, queue)` in two forked processes released by one barrier; what
    each put on the queue."""
    start = FORK.Barrier(2)
    out: Queue = FORK.Queue()  # type: ignore[type-arg]
    children = [FORK.Process(target=target, args=(*args, start, out)) for _ in range(2)]
    for child in children:
        child.start()
    results = [out.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0, results
    return results
