"""The one place the web console and the sync profiles call the sync engine.

Both shells describe a run as a `SyncRequest` and go through these functions, so the engine's
two-way mode and its conflict options plug in here (`MODES`, `OPTIONS`) and nowhere else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from personsync.errors import MassChangeRefused, SyncError
from personsync.persons.repo import ALL_PERSONS
from personsync.sync import engine, guard, journal
from personsync.sync.events import OnEvent
from personsync.sync.links import normalise_folder
from personsync.sync.merge import policy
from personsync.sync.options import RunOptions
from personsync.sync.plan import Plan
from personsync.sync.report import RunReport
from personsync.sync.undo import undo as undo_run

if TYPE_CHECKING:
    from personsync.sync.persons_side import PersonsSide

# The directions the engine offers, in the CRM's words.
MODES: dict[str, str] = {
    "export": "Into Outlook (export)",
    "import": "From Outlook (import)",
    "sync": "Both ways (sync)",
}

# Engine options a person can set per run or profile: name → (label, {value: what it means});
# "" is the engine's default. Field rules are the folder's own (`personsync rules`).
OPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "on_conflict": (
        "When both sides changed the same field",
        {
            "": "the default (into Outlook: the CRM wins; from Outlook: Outlook wins; "
            "both ways: skip it and ask me)",
            "crm": "the CRM's value wins",
            "outlook": "Outlook's value wins",
            "newest": "the newer change wins",
            "skip": "skip it and ask me (Decisions)",
        },
    ),
    "recreate": (
        "Contacts deleted in Outlook",
        {"": "keep them deleted (default)", "yes": "create them again"},
    ),
}


def needs_view(direction: str) -> bool:
    """Export and both ways read a view of Persons; import brings in the whole folder."""
    return direction != "import"


@dataclass(frozen=True)
class SyncRequest:
    direction: str
    folder: str
    view: str = ALL_PERSONS
    max_change: float = 50.0  # the mass-change guard's share, in percent
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def view_or_none(self) -> str | None:
        return self.view if needs_view(self.direction) else None


def run_options(req: SyncRequest, *, dry_run: bool = False, confirmed: bool = False) -> RunOptions:
    """The engine's options for a request: its guard share and the options a person set."""
    return RunOptions(
        dry_run=dry_run,
        yes=confirmed,
        max_share=req.max_change / 100,
        on_conflict=policy(req.options.get("on_conflict") or None),
        recreate=req.options.get("recreate") == "yes",
    )


def preview(db: PersonsSide, req: SyncRequest) -> Plan:
    """The plan, nothing written (the engine's dry run)."""
    options = run_options(req, dry_run=True)
    return engine.run(db, req.folder, req.direction, view=req.view_or_none, options=options).plan


def guard_problem(plan: Plan, max_change: float) -> str | None:
    """What the mass-change guard would stop this plan for, or None."""
    try:
        guard.check(plan, max_change / 100)
    except MassChangeRefused as exc:
        return exc.message
    return None


def run(
    db: PersonsSide,
    req: SyncRequest,
    *,
    confirmed: bool = False,
    on_event: OnEvent | None = None,
) -> RunReport:
    """Plan and apply; MassChangeRefused unless `confirmed` (a person saw the numbers)."""
    with folder_lock(req.folder):
        outcome = engine.run(
            db,
            req.folder,
            req.direction,
            view=req.view_or_none,
            options=run_options(req, confirmed=confirmed),
            on_event=on_event,
        )
    assert outcome.report is not None  # not a dry run
    return outcome.report


def undo(db: PersonsSide, run_id: str, *, on_event: OnEvent | None = None) -> RunReport:
    """Undo a run a person chose after seeing what undo would put back (`undo_preview`): the
    mass-change guard does not ask again."""
    info = journal.get_run(db.engine, run_id)
    with folder_lock(info.folder):
        return undo_run(db, run_id, options=RunOptions(yes=True), on_event=on_event)


def undo_preview(db: PersonsSide, run_id: str) -> list[dict[str, Any]]:
    """What undo would try to put back: the run's completed writes, newest first."""
    engine.ensure_tables(db.engine)
    journal.get_run(db.engine, run_id)  # RunNotFound
    return [
        e
        for e in reversed(journal.entries(db.engine, run_id))
        if e["state"] == "done" and e["action"] != "link"
    ]


# --- one run at a time per folder in this process ------------------------------------------------
# The engine's lease covers every process (LeaseHeld); this lock refuses a second run of a folder
# in this process (the console's own runs, its scheduler) before it opens the folder at all.
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def folder_lock(folder: str) -> Iterator[None]:
    key = normalise_folder(folder)
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    if not lock.acquire(blocking=False):
        raise SyncError(
            f"another run of {folder} is in progress",
            hint="wait for it to finish (see Runs), then start this one again",
        )
    try:
        yield
    finally:
        lock.release()
