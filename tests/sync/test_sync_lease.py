"""One run at a time per folder (sync/lease.py), on SQLite and PostgreSQL, with real processes.

- Two processes start the same export into a `vcf:` folder at the same instant, 20 times (forked
  processes released by one barrier, the fast form): no contact is ever duplicated, and the run
  that is refused names the run that holds the folder.
- The CLI: a refused run exits with its own code (5) naming the holder and its start time;
  `--wait` waits; a dry run takes no lease.
- A holder killed with kill -9 mid-run is taken over by the next run, which finishes its work.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import pytest
from folder_help import cli
from sqlalchemy import Engine
from sync_fakes import records

from killed_run import race_two_exports
from personsync.errors import ExitCode
from personsync.model import Contact
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.stores.base import read_all
from personsync.sync import lease
from personsync.sync.lease import current_holder, held

N = 150


def _seed(url: str, n: int = N) -> None:
    db = PersonsDB(url)
    try:
        db.add_many(records(n, seed=7))
    finally:
        db.close()


def _customer_ids(folder: str) -> Counter[str]:
    store = open_folder(folder, create=False)
    try:
        return Counter(c.customer_id for c in read_all(store) if isinstance(c, Contact))
    finally:
        store.close()


def test_two_exports_at_once_never_duplicate(db_url: str, tmp_path: Path) -> None:
    _seed(db_url)
    refusals = 0
    for attempt in range(20):
        folder = f"vcf:{tmp_path / f'out{attempt}'}"
        refusals += race_two_exports(db_url, folder, N)
        ids = _customer_ids(folder)
        assert len(ids) == N and set(ids.values()) == {1}, f"attempt {attempt}: duplicates"
    assert refusals >= 10, f"only {refusals} of 20 attempts overlapped"


def test_refused_run_names_the_holder_and_exits_5(db_url: str, tmp_path: Path) -> None:
    _seed(db_url, 5)
    folder = f"vcf:{tmp_path / 'out'}"
    db = PersonsDB(db_url)
    try:
        with held(db.engine, folder, "20261205-0300-beef"):
            busy = cli("export", "--to", folder, "--db", db_url)
            assert busy.returncode == ExitCode.LEASE == 5
            assert "20261205-0300-beef" in busy.stderr and "since 20" in busy.stderr
            waited = cli("export", "--to", folder, "--db", db_url, "--wait", "0.5")
            assert waited.returncode == ExitCode.LEASE and "after waiting 0.5 s" in waited.stderr
            # A dry run takes no lease: it plans while the folder is held.
            assert cli("export", "--to", folder, "--db", db_url, "--dry-run").returncode == 0
            assert not _customer_ids(folder)
        assert current_holder(db.engine, folder) is None
        assert cli("export", "--to", folder, "--db", db_url).returncode == 0
        assert len(_customer_ids(folder)) == 5
    finally:
        db.close()


def test_wait_gets_the_lease_when_the_holder_finishes(db_url: str, tmp_path: Path) -> None:
    _seed(db_url, 5)
    folder = f"vcf:{tmp_path / 'out'}"
    db = PersonsDB(db_url)
    try:
        with held(db.engine, folder, "20261205-0300-cafe"):
            command = ["export", "--to", folder, "--db", db_url, "--wait", "60"]
            waiting = subprocess.Popen(
                [sys.executable, "-m", "personsync", *command],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            # Still waiting while the lease is held (the process has had time to start).
            with pytest.raises(subprocess.TimeoutExpired):
                waiting.wait(timeout=3)
        assert waiting.wait(timeout=60) == 0
        assert len(_customer_ids(folder)) == 5
    finally:
        db.close()


def test_killed_holder_is_taken_over(db_url: str, tmp_path: Path) -> None:
    _seed(db_url, 12)
    folder = f"vcf:{tmp_path / 'out'}"
    crash = "crash_after=3,chunk=3"
    killed = cli("export", "--to", folder, "--db", db_url, "--test-hooks", crash)
    assert killed.returncode == -signal.SIGKILL
    db = PersonsDB(db_url)
    try:
        # The dead run is still recorded as the holder, but its lock went with its process.
        dead = current_holder(db.engine, folder)
        assert dead is not None and dead.pid > 0
        # No --yes: the part the killed run had planned (and was let do) does not trip the guard.
        again = cli("export", "--to", folder, "--db", db_url, "--json")
        assert again.returncode == 0, again.stderr
        ids = _customer_ids(folder)
        assert len(ids) == 12 and set(ids.values()) == {1}
        assert current_holder(db.engine, folder) is None
    finally:
        db.close()


def test_a_lease_given_back_while_the_refusal_names_its_holder_is_taken(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race a refused run's message lost its holder's id to: the holder finished between
    the second run's failed try and its reading of the holder's row. The second run then found
    no row, waited, and said "another run holds it" of a folder nobody held. Now it tries the
    lease again and takes it (or names a holder, never nobody)."""
    _seed(db_url, 1)
    folder = f"vcf:{tmp_path / 'out'}"
    db = PersonsDB(db_url)
    first = ExitStack()
    first.enter_context(held(db.engine, folder, "20261205-0300-f1f1"))
    reads = []
    real = lease.current_holder

    def finished_meanwhile(engine: Engine, folder: str) -> lease.Holder | None:
        first.close()  # the first run gives the lease back just now
        reads.append(1)
        return real(engine, folder)

    monkeypatch.setattr(lease, "current_holder", finished_meanwhile)
    try:
        started = time.monotonic()
        with held(db.engine, folder, "20261205-0301-f2f2"):
            assert real(db.engine, folder).run_id == "20261205-0301-f2f2"  # type: ignore[union-attr]
        assert reads and time.monotonic() - started < lease.NAME_WAIT_SECONDS
    finally:
        first.close()
        db.close()
