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
from personsync.sync.journal import list_runs


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


# An export reverts an Outlook edit (named "changed in Outlook only", kept from the CRM) and is
# killed after writing that contact (point 2) or after recording it (3): the re-run finds the
# pair in step and names nothing, so only the killed run can name what it overwrote.
@pytest.mark.parametrize("point", [2, 3])
def test_a_killed_run_still_names_the_edit_it_overwrote(
    sqlite_url: str, tmp_path: Path, point: int
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        (pid,) = db.add_many(list(generate(1, 8)))
        assert run_engine(db, url, Run("export"), yes=True).report is not None
        edit(url, str(pid), job_title="Typed in Outlook")
        assert run_killed(db, sqlite_url, url, Run("export"), point)
        assert by_cid(url)[str(pid)].record.job_title != "Typed in Outlook"
        killed = next(r for r in list_runs(db.engine) if r.status == "running")
        named = [p for p in killed.problems if p["kind"] == "conflict"]
        assert [(p["person_id"], p["field"], p["outlook"], p["kept"]) for p in named] == [
            (pid, "job_title", "Typed in Outlook", "crm")
        ]
        again = run_engine(db, url, Run("export"))
        assert again.report is not None and not again.report.conflicts
        # The run that finished the work has marked the killed one interrupted: still named.
        (interrupted,) = [r for r in list_runs(db.engine) if r.id == killed.id]
        assert interrupted.status == "interrupted" and interrupted.problems == killed.problems
    finally:
        db.close()
