"""One run at a time per (Persons database, contact folder): the lease.

Two runs on one folder at once would both see the same unlinked Persons and both create their
contacts (the duplicates of issue 12), so every run that writes takes the folder's lease before it
reads its snapshot and holds it until its last outcome is recorded. A dry run writes nothing and
takes none.

- **SQLite**: the database lives on one machine, so the lease is an OS lock, `fcntl.flock` on a
  file per folder in `<database>.locks/`. The kernel drops it when its process ends in any way
  (kill -9, power cut), so a dead holder's lease is free at once. `flock` locks belong to the
  open file, not the process: two runs in one server process exclude each other too.
- **PostgreSQL**: `pg_try_advisory_lock` on a connection of its own, held for the run, in
  autocommit (no transaction stays open for the run's length). The server drops the lock when
  that connection ends, so a holder killed on this machine or another is taken over. The key is
  hashed from the schema and the folder, so test schemas (and organisations sharing a database
  in schemas) do not block each other. The connection is never handed back to the pool holding
  the lock: it is unlocked first, or else thrown away.

The lock is the truth; the row in `sync_leases` (run, process, host, start) only lets a refused
run name the one it waits for. A run that ends by an error or Ctrl-C leaves its row (removing it
could wait on the database lock an interrupted call still holds); the next holder replaces it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, delete, select, text
from sqlalchemy.exc import SQLAlchemyError

from personsync.errors import DatabaseError, LeaseHeld
from personsync.sync.links import normalise_folder, now
from personsync.sync.tables import sync_leases

POLL_SECONDS = 0.1
NAME_WAIT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Holder:
    run_id: str
    pid: int
    host: str
    started_at: datetime

    def describe(self) -> str:
        return (
            f"run {self.run_id} (process {self.pid} on {self.host}) "
            f"holds it since {self.started_at:%Y-%m-%d %H:%M:%S} UTC"
        )


def current_holder(engine: Engine, folder: str) -> Holder | None:
    """Who last took the folder's lease and has not given it back (None: nobody recorded)."""
    t = sync_leases
    query = select(t.c.run_id, t.c.pid, t.c.host, t.c.started_at).where(
        t.c.folder == normalise_folder(folder)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    started = row.started_at
    return Holder(row.run_id, row.pid, row.host, started)


def _alive(holder: Holder | None) -> bool:
    """Whether the recorded holder's process still runs (on another machine: assumed so)."""
    if holder is None:
        return False
    if holder.host != socket.gethostname():
        return True
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _refused(
    engine: Engine, folder: str, waited: float, try_again: Callable[[], bool]
) -> LeaseHeld | None:
    """The refusal naming the run that holds the folder; None when the lease was taken after
    all (`try_again` took it: the holder gave it back meanwhile).

    The holder writes its row just after it took the lock, and deletes it just before it gives
    the lock back: between this run's failed try and its reading of the row, the holder may
    have finished. Reading then found no row (or a dead holder's leftover) and the refusal
    named nobody, for a folder nobody held (seen in the two-exports race on PostgreSQL). So
    while no live holder is recorded, try the lock again; give the holder a moment to write
    its row."""
    deadline = time.monotonic() + NAME_WAIT_SECONDS
    while True:
        holder = current_holder(engine, folder)
        if _alive(holder):
            break
        if try_again():
            return None
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS / 4)
    who = holder.describe() if holder else "another run holds it (it has just started)"
    after = f" after waiting {waited:g} s" if waited else ""
    return LeaseHeld(
        f"the contact folder {folder} is busy{after}: {who}",
        hint="let that run finish, or pass --wait SECONDS to wait for it",
    )


def _record(conn: Connection, folder: str, run_id: str) -> None:
    """Name this run the holder. In one transaction (the caller's `engine.begin()`), so a
    refused run reading meanwhile sees the old row or the new one, never none."""
    t = sync_leases
    conn.execute(delete(t).where(t.c.folder == folder))
    conn.execute(
        t.insert().values(
            folder=folder,
            run_id=run_id,
            pid=os.getpid(),
            host=socket.gethostname(),
            started_at=now(),
        )
    )


def _forget(conn: Connection, folder: str, run_id: str) -> None:
    t = sync_leases
    conn.execute(delete(t).where(t.c.folder == folder, t.c.run_id == run_id))


def _waiting(wait: float) -> Iterator[None]:
    """Yields once per try, until `wait` seconds have passed."""
    deadline = time.monotonic() + wait
    while True:
        yield
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(POLL_SECONDS, left))


@contextmanager
def held(engine: Engine, folder: str, run_id: str, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the lease of `folder` for run `run_id`, waiting up to `wait` seconds for it;
    raises LeaseHeld (naming the holder) when it stays taken."""
    key = normalise_folder(folder)
    try:
        if engine.dialect.name == "postgresql":
            with _pg_lease(engine, key, run_id, wait):
                yield
        else:
            with _sqlite_lease(engine, key, run_id, wait):
                yield
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot take or give back the lease of {key}: {exc}") from exc


def lock_file(database: str, folder: str) -> Path:
    """The lock file of `folder` beside a SQLite database file."""
    digest = hashlib.sha256(folder.encode()).hexdigest()[:24]
    return Path(f"{database}.locks") / f"{digest}.lock"


@contextmanager
def _sqlite_lease(engine: Engine, folder: str, run_id: str, wait: float) -> Iterator[None]:
    database = engine.url.database
    if not database or database == ":memory:":
        # A database in memory is this connection's alone: no other run can see it.
        yield
        return
    path = lock_file(os.path.abspath(database), folder)
    path.parent.mkdir(exist_ok=True)
    handle: IO[bytes] = open(path, "ab")  # noqa: SIM115  # held for the run, closed below

    def take() -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    try:
        if not any(take() for _ in _waiting(wait)):
            refused = _refused(engine, folder, wait, take)
            if refused is not None:
                raise refused
        with engine.begin() as conn:
            _record(conn, folder, run_id)
        yield
        with engine.begin() as conn:
            _forget(conn, folder, run_id)
    finally:
        handle.close()  # gives the flock back


@contextmanager
def _pg_lease(engine: Engine, folder: str, run_id: str, wait: float) -> Iterator[None]:
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    key = text("SELECT hashtextextended('personsync-lease:' || current_schema() || ':' || :f, 0)")
    locked = False
    try:
        number = conn.execute(key, {"f": folder}).scalar_one()

        def take() -> bool:
            nonlocal locked
            locked = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": number}).scalar_one()
            )
            return locked

        if not any(take() for _ in _waiting(wait)):
            refused = _refused(engine, folder, wait, take)
            if refused is not None:
                raise refused
        # Named in a transaction of its own (the lock's connection is in autocommit, where
        # the delete and the insert were two commits, and a refused run reading between them
        # found no holder to name).
        with engine.begin() as named:
            _record(named, folder, run_id)
        yield
        _forget(conn, folder, run_id)
        conn.commit()
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": number})
        locked = False
    finally:
        if locked:
            # Never hand a connection that still holds the lock back to the pool.
            conn.invalidate()
        conn.close()
