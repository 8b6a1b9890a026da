"""kill -9 at every executor checkpoint of a full export and a full import on PostgreSQL, whose
chunks are written by one statement each (COPY and array statements: `sync/pg_writes.py`), then
the same run again: every record lands once, linked both ways, and a third run plans nothing.
(The SQLite runs are killed as CLI processes in test_sync_crash.py; the state machine kills
runs at random points on both databases.)"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from folder_help import contacts
from proof_machine import Run, run_engine, run_killed
from sync_fakes import records as generate

from personsync.model import Contact
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.sync.journal import entries, list_runs
from personsync.sync.links import Links

N = 8  # chunks of 2 (proof_machine.CHUNK): four chunks, three checkpoints each


def _linked_once(db: PersonsDB, url: str, run_id: str) -> None:
    """Each record once on each side, linked both ways with the versions written, and the
    finishing run's journal settled."""
    found = contacts(url)
    ids = sorted(db.versions())
    assert len(found) == N and len(ids) == N
    assert sorted(int(c.customer_id) for c in found) == ids, Counter(c.customer_id for c in found)
    persons = db.get_many(ids)
    assert {p.contact_manager_id for p in persons.values()} == {c.item_id for c in found}
    links = Links(db.engine, url).load()
    assert {(pid, lk.item_id, lk.item_version) for pid, lk in links.items()} == {
        (int(c.customer_id), c.item_id, c.version) for c in found
    }
    assert {e["state"] for e in entries(db.engine, run_id)} <= {"done"}
    assert run_engine(db, url, Run("sync"), dry_run=True).plan.changes() == 0


@pytest.mark.postgres
@pytest.mark.parametrize("point", range(13))
@pytest.mark.parametrize("direction", ["export", "import"])
def test_a_run_killed_at_any_checkpoint_is_finished_by_the_next(
    pg_url: str, tmp_path: Path, direction: str, point: int
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(pg_url)
    try:
        if direction == "export":
            db.add_many(generate(N, 12))
        else:
            store = open_folder(url, create=True)
            try:
                for record in generate(N, 12):
                    store.create(Contact(record))
            finally:
                store.close()
        assert run_killed(db, pg_url, url, Run(direction), point)
        out = run_engine(db, url, Run(direction), yes=True)
        assert out.report is not None and out.report.exit_code == 0, out.report.to_dict()
        _linked_once(db, url, out.report.run_id)
        assert list_runs(db.engine)[0].status == "clean"
    finally:
        db.close()
