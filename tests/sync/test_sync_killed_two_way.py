"""kill -9 during a two-way sync, then the same sync again: both halves of every pair land, and
nothing is lost or duplicated. The run is a forked child given the executor checkpoint at which
it sends itself SIGKILL (proof_machine.run_killed); SQLite and PostgreSQL, a `vcf:` folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from folder_help import by_cid, edit
from proof_machine import Run, run_engine, run_killed
from sync_fakes import records as generate

from personsync.persons.repo import PersonsDB


# A pair changed on both sides, in different fields, is written in two halves: the Person
# (checkpoints 1-3: intents, write, outcome), then the contact (4-6). Point 3 is between them.
@pytest.mark.parametrize("point", [0, 1, 2, 3, 4, 5, 6])
def test_sync_killed_between_its_halves_finishes_both(
    db_url: str, tmp_path: Path, point: int
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids = db.add_many(list(generate(3, 8)))
        assert run_engine(db, url, Run("sync"), yes=True).report is not None
        pid = ids[1]
        db.update(pid, {"job_title": "Treasurer"})  # in the CRM
        edit(url, str(pid), notes="called on Monday")  # in Outlook
        assert run_killed(db, db_url, url, Run("sync"), point)
        out = run_engine(db, url, Run("sync"))
        assert out.report is not None and out.report.exit_code == 0, out.report.to_dict()
        contact, person = by_cid(url)[str(pid)], db.get(pid)
        assert (contact.record.job_title, contact.record.notes) == ("Treasurer", "called on Monday")
        assert (person.record.job_title, person.record.notes) == ("Treasurer", "called on Monday")
        assert len(by_cid(url)) == 3 and db.count() == 3
        assert run_engine(db, url, Run("sync"), dry_run=True).plan.changes() == 0
    finally:
        db.close()
