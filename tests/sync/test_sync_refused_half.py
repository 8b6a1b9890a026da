"""A two-way pair whose Person write is refused for a reason other than a stale version (a
database constraint, a trigger of the CRM): the run names the Person and goes on, the CRM's
half still reaches the contact, and the link records only what both sides now hold, so the
Outlook edit the CRM refused is neither taken back from the contact nor forgotten: every later
run tries it again (and names it again) until the CRM takes it. SQLite and PostgreSQL, a `vcf:`
folder; kill -9 between the halves too."""

from __future__ import annotations

from pathlib import Path

import pytest
from folder_help import by_cid, edit
from proof_machine import Run, run_engine, run_killed
from sqlalchemy import text
from sync_fakes import records as generate

from personsync.errors import ExitCode
from personsync.persons.repo import PersonsDB
from personsync.sync.journal import entries

REFUSED = "Grand Poobah"  # a job title the CRM's own rule refuses


def _refuse(db: PersonsDB) -> None:
    """The CRM refuses one job title: a real constraint of the database, as an administrator
    may add (SQLite: a trigger; PostgreSQL: a CHECK constraint)."""
    with db.engine.begin() as conn:
        if db.engine.url.get_backend_name() == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE UPDATE ON persons "
                    f"WHEN NEW.job_title = '{REFUSED}' "
                    "BEGIN SELECT RAISE(ABORT, 'this job title is not allowed'); END"
                )
            )
        else:
            conn.execute(
                text(f"ALTER TABLE persons ADD CONSTRAINT refuse CHECK (job_title <> '{REFUSED}')")
            )


def _allow(db: PersonsDB) -> None:
    with db.engine.begin() as conn:
        if db.engine.url.get_backend_name() == "sqlite":
            conn.execute(text("DROP TRIGGER refuse"))
        else:
            conn.execute(text("ALTER TABLE persons DROP CONSTRAINT refuse"))


def _pair(db: PersonsDB, url: str) -> int:
    """Three Persons synced; one then changed on both sides: the CRM's company, and in
    Outlook a job title the CRM refuses."""
    ids = db.add_many(list(generate(3, 8)))
    assert run_engine(db, url, Run("sync"), yes=True).report is not None
    pid = ids[1]
    _refuse(db)
    db.update(pid, {"company": "New Co"})
    edit(url, str(pid), job_title=REFUSED)
    return pid


def _holds(db: PersonsDB, url: str, pid: int, old_title: str) -> None:
    """Nothing lost: the contact has both edits, the Person the CRM's and its old job title."""
    contact, person = by_cid(url)[str(pid)].record, db.get(pid).record
    assert (contact.company, contact.job_title) == ("New Co", REFUSED)
    assert (person.company, person.job_title) == ("New Co", old_title)
    assert len(by_cid(url)) == 3 and db.count() == 3


def _until_allowed(db: PersonsDB, url: str, pid: int, old_title: str) -> None:
    """Every later run tries the refused value again and says so; once the CRM allows it, it
    lands, and both sides agree."""
    for _ in range(2):
        again = run_engine(db, url, Run("sync"))
        assert again.report is not None and again.report.exit_code == ExitCode.FAILED
        assert [e["person_id"] for e in again.report.errors] == [pid]
        _holds(db, url, pid, old_title)
    _allow(db)
    last = run_engine(db, url, Run("sync"))
    assert last.report is not None and last.report.exit_code == 0, last.report.to_dict()
    for record in (by_cid(url)[str(pid)].record, db.get(pid).record):
        assert (record.company, record.job_title) == ("New Co", REFUSED)
    assert run_engine(db, url, Run("sync"), dry_run=True).plan.changes() == 0


def test_a_refused_person_half_names_the_person_and_keeps_both_edits(
    db_url: str, tmp_path: Path
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        pid = _pair(db, url)
        old_title = db.get(pid).record.job_title
        out = run_engine(db, url, Run("sync"))
        report = out.report
        assert report is not None and report.exit_code == ExitCode.FAILED, report
        (error,) = report.errors
        assert error["person_id"] == pid, error
        # The database's own words (SQLite's trigger, PostgreSQL's constraint), not a crash.
        assert "refused the change" in error["error"], error
        assert "not allowed" in error["error"] or '"refuse"' in error["error"], error
        # The refused write is journaled as failed; the contact's half was made.
        states = [(e["side"], e["state"]) for e in entries(db.engine, report.run_id)]
        assert ("person", "failed") in states and ("contact", "done") in states, states
        _holds(db, url, pid, old_title)
        _until_allowed(db, url, pid, old_title)
    finally:
        db.close()


# The Person's half is refused (checkpoints 1-3: its intents, its write, its outcome), then the
# run is killed before, during or after the contact's half (4-6).
@pytest.mark.parametrize("point", [1, 2, 3, 4, 5, 6])
def test_a_refused_person_half_killed_between_the_halves(
    sqlite_url: str, tmp_path: Path, point: int
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        pid = _pair(db, url)
        old_title = db.get(pid).record.job_title
        assert run_killed(db, sqlite_url, url, Run("sync"), point)
        _until_allowed(db, url, pid, old_title)
    finally:
        db.close()


def test_a_refused_person_does_not_hold_back_the_others_of_its_chunk(
    db_url: str, tmp_path: Path
) -> None:
    """A chunk's Person updates go in one statement; the database refuses it whole when one
    value breaks its rule. The others of the chunk are still written, and only the refused
    Person is named."""
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        pid = _pair(db, url)
        others = [p for p in db.versions() if p != pid]
        for other in others:
            edit(url, str(other), job_title=f"Outlook title {other}")
        report = run_engine(db, url, Run("sync"), yes=True).report
        assert report is not None and [e["person_id"] for e in report.errors] == [pid]
        for other in others:
            assert db.get(other).record.job_title == f"Outlook title {other}"
        _holds(db, url, pid, db.get(pid).record.job_title)
    finally:
        db.close()
