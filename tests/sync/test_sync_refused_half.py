"""A two-way pair whose Person write is refused for a reason other than a stale version (a
database constraint, a trigger of the CRM): the run names the Person and goes on, the CRM's
half still reaches the contact, and the link records only what both sides now hold, so the
Outlook edit the CRM refused is neither taken back from the contact nor forgotten: every later
run tries it again (and names it again) until the CRM takes it. SQLite and PostgreSQL, a `vcf:`
folder; kill -9 between the halves too."""

from __future__ import annotations

from pathlib import Path

import pytest
from folder_help import by_cid, contacts, edit
from proof_machine import Run, run_engine, run_killed
from sqlalchemy import text
from sync_fakes import records as generate

from personsync.errors import ExitCode
from personsync.model import Contact
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.sync.journal import entries
from personsync.sync.options import DEFAULT_CHUNK

REFUSED = "Grand Poobah"  # a job title the CRM's own rule refuses


def _refuse(db: PersonsDB, when: str = "UPDATE") -> None:
    """The CRM refuses one job title: a real constraint of the database, as an administrator
    may add (SQLite: a trigger, `when` a Person is updated or inserted; PostgreSQL: a CHECK
    constraint, which holds for both)."""
    with db.engine.begin() as conn:
        if db.engine.url.get_backend_name() == "sqlite":
            conn.execute(
                text(
                    f"CREATE TRIGGER refuse BEFORE {when} ON persons "
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


def _new_contacts(url: str, n: int, refused: int) -> str:
    """`n` new contacts in the folder, the `refused`-th with the job title the CRM refuses;
    the refused one's e-mail address."""
    made = [r.replace({"job_title": "Plain"}) for r in generate(n, 21)]
    made[refused] = made[refused].replace({"job_title": REFUSED})
    store = open_folder(url, create=True)
    try:
        store.create_many([Contact(r) for r in made])
    finally:
        store.close()
    return made[refused].email1


def _created_but_refused(db: PersonsDB, url: str, email: str, n: int) -> None:
    """Every contact but the refused one has its Person, once, carrying its Customer ID; the
    refused one has none and keeps its job title in the folder."""
    persons = {p.record.email1: p for p in db.iter_persons()}
    assert len(persons) == db.count() == n - 1 and email not in persons
    cards = contacts(url)
    assert len(cards) == n
    refused = [c for c in cards if c.record.email1 == email]
    assert [c.record.job_title for c in refused] == [REFUSED] and not refused[0].customer_id
    for c in cards:
        if c.record.email1 != email:
            assert c.customer_id == str(persons[c.record.email1].id)


@pytest.mark.parametrize("mode", ["import", "sync"])
def test_a_refused_new_person_does_not_hold_back_the_others_of_its_chunk(
    db_url: str, tmp_path: Path, mode: str
) -> None:
    """A chunk's new Persons go in one statement; the database refuses it whole when one value
    breaks its rule. The others of the chunk are still made and linked, and only the refused
    contact is named; the next run names it again and makes nobody twice."""
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        _refuse(db, "INSERT")
        email = _new_contacts(url, 5, 2)
        for _ in range(2):
            report = run_engine(db, url, Run(mode), yes=True, chunk=DEFAULT_CHUNK).report
            assert report is not None and report.exit_code == ExitCode.FAILED, report
            (error,) = report.errors
            assert "refused the change" in error["error"], error
            assert error["item_id"] == next(
                c.item_id for c in contacts(url) if c.record.email1 == email
            )
            _created_but_refused(db, url, email, 5)
    finally:
        db.close()


# Kill points of a refused chunk of new Persons made one by one: each one's transaction, its
# Customer ID's intents, write and outcome.
@pytest.mark.parametrize("point", [1, 2, 3, 4, 5, 6, 7, 8])
def test_a_refused_new_person_killed_while_the_others_are_made_one_by_one(
    sqlite_url: str, tmp_path: Path, point: int
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        _refuse(db, "INSERT")
        email = _new_contacts(url, 4, 1)
        assert run_killed(db, sqlite_url, url, Run("import"), point)
        report = run_engine(db, url, Run("import"), yes=True).report
        assert report is not None and [e["item_id"] for e in report.errors] == [
            c.item_id for c in contacts(url) if c.record.email1 == email
        ]
        _created_but_refused(db, url, email, 4)
    finally:
        db.close()
