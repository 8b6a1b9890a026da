"""A decision's "create new" (`manual.create_new`, the web console's decisions queue) killed with
kill -9 at each of the executor's checkpoints, then sent again, and sent twice at once: one new
Person (or contact) in the end, never two, every Customer ID once, and the next runs in step.
A `vcf:` folder; SQLite, and PostgreSQL for two at once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from folder_help import contacts
from proof_machine import Run, run_engine
from sync_fakes import records as generate

from killed_run import create_new_killed, race_two_decisions
from personsync.errors import UsageError
from personsync.model import Contact
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.sync import manual


def _copied(db: PersonsDB, url: str) -> tuple[int, str]:
    """Three Persons exported and synced; then a copy of one's contact, carrying its Customer
    ID, that the next sync names as a decision. (Person copied, the copy's item id.)"""
    ids = db.add_many(list(generate(3, 8)))
    assert run_engine(db, url, Run("sync"), yes=True).report is not None
    original = next(c for c in contacts(url) if c.customer_id == str(ids[0]))
    store = open_folder(url, create=False)
    try:
        record = original.record.replace({"first_name": "Copy", "email1": "copy@x.org"})
        copy = store.create(Contact(record, customer_id=original.customer_id)).item_id
    finally:
        store.close()
    out = run_engine(db, url, Run("sync"))
    assert out.report is not None
    assert [s["item_id"] for s in out.report.skipped if s["kind"] == "decide"] == [copy]
    return ids[0], copy


def _in_step(db: PersonsDB, url: str, persons: int) -> None:
    """After the next syncs: no Person and no contact twice, each contact its own Customer ID,
    and a second sync plans nothing."""
    for _ in range(2):
        out = run_engine(db, url, Run("sync"), yes=True)
        assert out.report is not None and out.report.exit_code == 0, out.report.to_dict()
    assert db.count() == persons
    cids = Counter(c.customer_id for c in contacts(url))
    assert len(cids) == persons and set(cids.values()) == {1}, cids
    assert {str(p.id) for p in db.iter_persons()} == set(cids)
    assert run_engine(db, url, Run("sync"), dry_run=True).plan.changes() == 0


def _again(db: PersonsDB, url: str, **target: object) -> None:
    """The decision sent again (the queue still showed it): it finishes the work or says it
    was done; it never makes a second one."""
    try:
        manual.create_new(db, url, **target)  # type: ignore[arg-type]
    except UsageError as exc:
        assert "already" in exc.message or "when it stopped" in exc.message, exc.message


# A Person made of the copy: (1) inside its transaction, (2) after it, (3) after the Customer
# ID's write, (4) after its outcome.
@pytest.mark.parametrize("point", [1, 2, 3, 4])
def test_create_new_person_killed_then_sent_again(
    sqlite_url: str, tmp_path: Path, point: int
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        _, copy = _copied(db, url)
        assert create_new_killed(db, sqlite_url, url, point, item_id=copy)
        _again(db, url, item_id=copy)
        _in_step(db, url, 4)
        # The copy is the new Person's contact, with its own Customer ID.
        (new,) = [p for p in db.iter_persons() if p.record.first_name == "Copy"]
        assert next(c for c in contacts(url) if c.item_id == copy).customer_id == str(new.id)
    finally:
        db.close()


# A contact made for a Person who has none: (1) after its intent, (2) after the write, (3)
# after its outcome.
@pytest.mark.parametrize("point", [1, 2, 3])
def test_create_new_contact_killed_then_sent_again(
    sqlite_url: str, tmp_path: Path, point: int
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        db.add_many(list(generate(3, 8)))
        assert run_engine(db, url, Run("export"), yes=True).report is not None
        (late,) = db.add_many(list(generate(1, 9)))
        assert create_new_killed(db, sqlite_url, url, point, person_id=late)
        _again(db, url, person_id=late)
        _in_step(db, url, 4)
    finally:
        db.close()


def test_create_new_sent_twice_makes_one(sqlite_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        _, copy = _copied(db, url)
        manual.create_new(db, url, item_id=copy)
        with pytest.raises(UsageError, match="already"):
            manual.create_new(db, url, item_id=copy)
        (late,) = db.add_many(list(generate(1, 9)))
        manual.create_new(db, url, person_id=late)
        with pytest.raises(UsageError, match="already"):
            manual.create_new(db, url, person_id=late)
        _in_step(db, url, 5)
    finally:
        db.close()


@pytest.mark.parametrize("attempt", range(3))
@pytest.mark.parametrize("target", ["contact", "person"])
def test_create_new_sent_twice_at_once_makes_one(
    db_url: str, tmp_path: Path, target: str, attempt: int
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        if target == "contact":
            made: dict[str, object] = {"item_id": _copied(db, url)[1]}
        else:
            db.add_many(list(generate(3, 8)))
            assert run_engine(db, url, Run("export"), yes=True).report is not None
            made = {"person_id": db.add_many(list(generate(1, 9)))[0]}
        results = race_two_decisions(db_url, url, **made)
        assert sorted(r[0] for r in results) == ["made", "refused"], results
        _in_step(db, url, 4)
    finally:
        db.close()
