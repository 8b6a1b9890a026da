"""Runs and their journal: every write is journaled (and committed) BEFORE it is made.

An entry starts as `intent` with the item's `before` (record, version, Customer ID); once the write
succeeded it becomes `done` with `after`, in the same transaction as the link rows it implies. So a
crash leaves at most one chunk of intents without their outcome, which is what `undo` skips.
Writes to the journal's own database (new Persons) are journaled `done` in their own
transaction instead (`Journal.done`): there is no moment at which one exists without the other.

`unfinished_person_creates` reads Person-create intents left open by a crash: runs of this
version leave none (see above); an interrupted run of an earlier one may have, and the next
import matches the Persons they made instead of creating them twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from personsync.errors import DatabaseError, RunNotFound
from personsync.persons.bulk import executemany
from personsync.stores.base import InterruptedWrite
from personsync.sync import pg_writes
from personsync.sync.links import normalise_folder, now
from personsync.sync.snapshot import ContactDeleted
from personsync.sync.tables import sync_journal, sync_runs
from personsync.sync.values import dumps, loads

# The journal's two writes of every record a run writes, made once (`executemany` compiles a
# statement once).
_ADD = sync_journal.insert()
_SETTLE = (
    update(sync_journal)
    .where(and_(sync_journal.c.run_id == bindparam("r"), sync_journal.c.seq == bindparam("s")))
    .values(state=bindparam("st"), after=bindparam("a"), error=bindparam("e"))
)


def _alone(entries: Iterable[Entry]) -> Iterator[tuple[Entry, None]]:
    for e in entries:
        yield e, None


@dataclass(frozen=True, slots=True)
class Entry:
    side: str  # contact | person
    action: str  # create | update | link | delete | restore
    item_id: str | None = None
    person_id: int | None = None
    before: Any = None


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: str
    command: str
    folder: str
    view: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    counts: dict[str, int]
    problems: list[dict[str, Any]]
    undone_by: str = ""  # the undo run that took this run back


def new_run_id() -> str:
    """Short enough to type: `20261124-1530-ab12cd34`. Four random bytes: with two, 100 runs
    started in one minute (a server running many profiles, the test suite) shared an id, the
    runs table's key, with a chance of 7 %."""
    return f"{now():%Y%m%d-%H%M}-{secrets.token_hex(4)}"


class Journal:
    """The journal of one run."""

    def __init__(
        self,
        engine: Engine,
        command: str,
        folder: str,
        view: str = "",
        *,
        run_id: str = "",
        planned: dict[str, int] | None = None,
        named: list[dict[str, Any]] | None = None,
    ) -> None:
        self.engine = engine
        # `run_id`: the id the run took the folder's lease under (sync/lease.py).
        self.run_id = run_id or new_run_id()
        self.folder = normalise_folder(folder) if folder else ""
        self.seq = 0
        try:
            with engine.begin() as conn:
                # Runs of this folder that died mid-way are over: say so in `runs list`.
                conn.execute(
                    update(sync_runs)
                    .where(sync_runs.c.folder == self.folder, sync_runs.c.status == "running")
                    .values(status="interrupted")
                )
                conn.execute(
                    sync_runs.insert().values(
                        id=self.run_id,
                        command=command,
                        folder=self.folder,
                        view=view,
                        started_at=now(),
                        status="running",
                        # The plan's counts until the run finishes: a run killed mid-way
                        # leaves them, so its re-run is not stopped by the guard for them.
                        counts=dumps(planned or {}),
                        # The fields the plan names (conflicts, overwritten edits) until the run
                        # finishes, as `problems`: a run killed after overwriting an edit is the
                        # only one that can name it (its re-run finds the pair in step).
                        problems=dumps([{"kind": "conflict", **c} for c in named or []]),
                    )
                )
        except SQLAlchemyError as exc:
            raise DatabaseError("cannot start a run in the journal") from exc

    def intents(self, entries: Iterable[Entry], *, conn: Connection | None = None) -> list[int]:
        """Journal a chunk of writes about to be made: committed before this returns, or in
        `conn`'s transaction (committed before the writes begin: the caller's job)."""
        return self._add(entries, None, conn)

    def done(self, conn: Connection, entries: Iterable[Entry], afters: Iterable[Any]) -> list[int]:
        """Journal writes made in `conn`'s own transaction (Persons: the database is the
        journal's), as done at once: they and their entries are committed together or not."""
        return self._add(entries, afters, conn)

    def noted(self, entries: Iterable[Entry]) -> list[int]:
        """Record what a run decided without writing either side (state `noted`: a new contact
        that makes no Person, see `noted_items`); never undone, nothing to undo."""
        return self._add(entries, None, None, state="noted")

    def _add(
        self,
        entries: Iterable[Entry],
        afters: Iterable[Any] | None,
        conn: Connection | None,
        *,
        state: str = "",
    ) -> list[int]:
        """The entries' seqs. `entries` (and `afters`) may be generators, which the hot paths
        pass: an Entry (and its JSON) made one at a time lives only until its row is made, not
        for the whole chunk; a chunk's worth of them, alive through the garbage collector's
        collections, was promoted to its oldest generation, whose full collections (every
        Record of the run) were a fifth of an import's time."""
        state = state or ("intent" if afters is None else "done")
        pairs = zip(entries, afters, strict=True) if afters is not None else _alone(entries)
        first = self.seq + 1
        rows = [
            {
                "run_id": self.run_id,
                "seq": seq,
                "side": e.side,
                "action": e.action,
                "folder": self.folder,
                "item_id": e.item_id,
                "person_id": e.person_id,
                "before": None if e.before is None else dumps(e.before),
                "state": state,
                "after": None if after is None else dumps(after),
            }
            for seq, (e, after) in enumerate(pairs, first)
        ]
        self.seq += len(rows)
        seqs = list(range(first, self.seq + 1))
        if not rows:
            return seqs
        if conn is not None:
            executemany(conn, _ADD, rows)
        else:
            with self.engine.begin() as own:
                executemany(own, _ADD, rows)
        return seqs

    def settle(
        self, conn: Connection, outcomes: Sequence[tuple[int, str, Any, str | None]]
    ) -> None:
        """Record (seq, state, after, error) inside the caller's transaction."""
        if not outcomes:
            return
        if conn.dialect.name == "postgresql":
            # One statement for the chunk (`pg_writes`).
            pg_writes.settle(
                conn,
                self.run_id,
                ((s, st, None if a is None else dumps(a), e) for s, st, a, e in outcomes),
            )
            return
        executemany(
            conn,
            _SETTLE,
            [
                {
                    "r": self.run_id,
                    "s": seq,
                    "st": state,
                    "a": None if after is None else dumps(after),
                    "e": error,
                }
                for seq, state, after, error in outcomes
            ],
        )

    def finish(
        self,
        status: str,
        counts: dict[str, int],
        problems: list[dict[str, Any]],
        *,
        whole: bool = True,
    ) -> None:
        """Record how the run ended. `whole`: it was a complete pass over the folder, so earlier
        runs' open intents are superseded; a decision's run (link, create new) of one pair is
        not, and leaves them for the next complete run to finish."""
        with self.engine.begin() as conn:
            conn.execute(
                update(sync_runs)
                .where(sync_runs.c.id == self.run_id)
                .values(
                    status=status,
                    finished_at=now(),
                    counts=dumps(counts),
                    problems=dumps(problems),
                )
            )
            if not whole:
                return
            # Intents of earlier runs of this folder are superseded by this complete pass.
            conn.execute(
                update(sync_journal)
                .where(
                    sync_journal.c.folder == self.folder,
                    sync_journal.c.state == "intent",
                    sync_journal.c.run_id != self.run_id,
                )
                .values(state="abandoned")
            )


@dataclass(frozen=True, slots=True)
class PendingCreate:
    item_id: str
    record: dict[str, Any]
    floor: int  # every Person this intent could have created has a larger id


def unfinished_person_creates(engine: Engine, folder: str) -> list[PendingCreate]:
    """Persons an interrupted import may have created without linking (see the module doc)."""
    t = sync_journal
    query = (
        select(t.c.item_id, t.c.before)
        .where(
            t.c.folder == normalise_folder(folder),
            t.c.state == "intent",
            t.c.side == "person",
            t.c.action == "create",
        )
        .order_by(t.c.run_id, t.c.seq)
    )
    with engine.connect() as conn:
        out = []
        for item_id, before in conn.execute(query):
            data = loads(before) or {}
            out.append(PendingCreate(item_id, data.get("record", {}), int(data.get("floor", 0))))
        return out


def noted_items(engine: Engine, folder: str) -> set[str]:
    """Contacts of this folder a run named as made into no Person (the CRM alone creates:
    journal entries in state `noted`), so that later runs do not name them again."""
    t = sync_journal
    query = select(t.c.item_id).where(t.c.state == "noted", t.c.folder == normalise_folder(folder))
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(query).all() if row[0]}


def interrupted_customer_id_writes(engine: Engine, folder: str) -> list[InterruptedWrite]:
    """Contact writes of this folder that earlier runs journaled but never settled (a complete
    run marks them `abandoned`). Each names the Customer ID it was to write: its Person's id."""
    t = sync_journal
    query = select(t.c.item_id, t.c.person_id, t.c.before).where(
        t.c.folder == normalise_folder(folder),
        t.c.state == "intent",
        t.c.side == "contact",
        t.c.action == "update",
        t.c.person_id.is_not(None),
    )
    with engine.connect() as conn:
        return [
            InterruptedWrite(item_id, str((loads(before) or {}).get("version", "")), str(pid))
            for item_id, pid, before in conn.execute(query)
            if item_id
        ]


def unsettled_creates(engine: Engine, folder: str, person_id: int) -> int:
    """Contacts for Person `person_id` that a run journaled creating in `folder` but never
    recorded (killed between the write and its outcome): the contact may exist, carrying the
    Person's id as its Customer ID, until a complete run finds it (and marks them `abandoned`)."""
    t = sync_journal
    query = select(func.count()).where(
        t.c.folder == normalise_folder(folder),
        t.c.state == "intent",
        t.c.side == "contact",
        t.c.action == "create",
        t.c.person_id == person_id,
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def contacts_deleted(
    engine: Engine, folder: str, person_ids: Collection[int]
) -> dict[int, ContactDeleted]:
    """Person id → the last run (export or sync) of `folder` that deleted its contact because
    the Person was removed (`--on-person-removed delete`: a done `contact delete` entry), for
    those of `person_ids` that have one whose run was not undone since. One query per 500
    Persons: the caller asks only of the few its snapshot names (see `engine.take_snapshot`)."""
    if not person_ids:
        return {}
    j, r = sync_journal, sync_runs
    ids = sorted(person_ids)
    found: list[Any] = []
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            query = (
                select(j.c.person_id, j.c.run_id, j.c.before, r.c.view, r.c.started_at)
                .join(r, r.c.id == j.c.run_id)
                .where(
                    j.c.state == "done",
                    j.c.folder == normalise_folder(folder),
                    j.c.side == "contact",
                    j.c.action == "delete",
                    j.c.person_id.in_(ids[start : start + 500]),
                    r.c.command.in_(("export", "sync")),
                )
            )
            found += conn.execute(query).all()
    undone = undone_by(engine, sorted({run_id for _, run_id, *_ in found}))
    out: dict[int, ContactDeleted] = {}
    for pid, run_id, before, view, _ in sorted(found, key=lambda row: row[4]):
        if run_id not in undone:  # (the last run's wins: sorted by when the runs started)
            why = str((loads(before) or {}).get("why", "")) or "removed"
            out[pid] = ContactDeleted(run_id, why, view)
    return out


def _info(row: Any) -> RunInfo:
    return RunInfo(
        row.id,
        row.command,
        row.folder,
        row.view,
        row.started_at,
        row.finished_at,
        row.status,
        loads(row.counts) or {},
        loads(row.problems) or [],
    )


def interrupted_plan(engine: Engine, folder: str, command: str) -> dict[str, int]:
    """The planned counts of this folder's last run when it was killed mid-way (status still
    running: its process died; interrupted: a later run saw it die) with the same command;
    else nothing. The caller holds the folder's lease, so no such run is alive."""
    t = sync_runs
    query = (
        select(t.c.command, t.c.status, t.c.counts)
        .where(t.c.folder == normalise_folder(folder))
        .order_by(t.c.started_at.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or row.command != command or row.status not in ("running", "interrupted"):
        return {}
    return {k: int(v) for k, v in (loads(row.counts) or {}).items()}


def undone_by(engine: Engine, run_ids: Sequence[str]) -> dict[str, str]:
    """run id → the undo run that finished taking it back (an undo records its target as its
    `view`), for those of `run_ids` that were undone."""
    t = sync_runs
    query = select(t.c.view, t.c.id).where(
        t.c.command == "undo",
        t.c.view.in_(list(run_ids)),
        t.c.status.in_(("clean", "done", "skipped")),
    )
    with engine.connect() as conn:
        return {view: rid for view, rid in conn.execute(query).all()}


def list_runs(engine: Engine, limit: int = 50) -> list[RunInfo]:
    query = select(sync_runs).order_by(sync_runs.c.started_at.desc()).limit(limit)
    with engine.connect() as conn:
        found = [_info(row) for row in conn.execute(query)]
    undone = undone_by(engine, [r.id for r in found])
    return [replace(r, undone_by=undone.get(r.id, "")) for r in found]


def get_run(engine: Engine, run_id: str) -> RunInfo:
    with engine.connect() as conn:
        row = conn.execute(select(sync_runs).where(sync_runs.c.id == run_id)).first()
    if row is None:
        raise RunNotFound(
            f"no run {run_id!r} in the journal", hint="`personsync runs list` shows the runs"
        )
    return replace(_info(row), undone_by=undone_by(engine, [run_id]).get(run_id, ""))


def entries(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    t = sync_journal
    query = select(t).where(t.c.run_id == run_id).order_by(t.c.seq)
    with engine.connect() as conn:
        return [
            {
                "seq": r.seq,
                "side": r.side,
                "action": r.action,
                "folder": r.folder,
                "item_id": r.item_id,
                "person_id": r.person_id,
                "before": loads(r.before),
                "after": loads(r.after),
                "state": r.state,
                "error": r.error,
            }
            for r in conn.execute(query)
        ]


def entry_count(engine: Engine, run_id: str) -> int:
    t = sync_journal
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(t.c.run_id == run_id)).scalar_one())
