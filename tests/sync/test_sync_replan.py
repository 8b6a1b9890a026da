"""A write refused because its side changed since the snapshot (a stale version) is planned
anew in the same run, against what is there now: the run neither fails nor overwrites the new
edit. Any store: here the in-memory folder and the real Persons database (SQLite); the CardDAV
servers in tests/stores/test_carddav_replan.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from personsync.errors import ExitCode
from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.stores.memory import MemoryStore
from personsync.sync import engine
from personsync.sync.journal import entries
from personsync.sync.options import RunOptions
from personsync.sync.plan import Plan
from personsync.sync.replan import MAX_ROUNDS
from run_events import YES, planned

ANN = Record(first_name="Ann", last_name="Lee", email1="ann@example.org", company="Old Co")
BOB = Record(first_name="Bob", last_name="Ray", company="Acme")


@pytest.fixture
def setup(sqlite_url: str) -> Iterator[tuple[PersonsDB, str, MemoryStore, list[int]]]:
    name = f"r{uuid.uuid4().hex[:8]}"
    db = PersonsDB(sqlite_url)
    ids = db.add_many([ANN, BOB])
    url = f"memory:{name}"
    first = engine.run(db, url, "sync", options=YES)
    assert first.report is not None and first.report.exit_code == 0
    try:
        yield db, url, MemoryStore.named(name), ids
    finally:
        db.close()


def _contact(store: MemoryStore, pid: int) -> Contact:
    return next(c for c in store.items.values() if c.customer_id == str(pid))


def _edit(store: MemoryStore, pid: int, **values: Any) -> None:
    """Someone else edits the contact in the folder (its version moves on)."""
    now = _contact(store, pid)
    store.update(now, replace(now, record=now.record.replace(values)))


def _meanwhile(*edits: tuple[MemoryStore, int, dict[str, Any]]) -> Any:
    """An `on_plan` that edits contacts after the snapshot and before the writes."""

    def edit(plan: Plan) -> None:
        for store, pid, values in edits:
            _edit(store, pid, **values)

    return edit


def test_a_contact_edited_during_the_run_is_planned_again_and_keeps_its_edit(
    setup: tuple[PersonsDB, str, MemoryStore, list[int]],
) -> None:
    db, url, store, (ann, _) = setup
    db.update(ann, {"company": "New Co"})
    edit = _meanwhile((store, ann, {"job_title": "Chief"}))
    out = engine.run(db, url, "sync", on_event=planned(edit))
    report = out.report
    assert report is not None
    assert report.exit_code == ExitCode.CLEAN, report.to_dict()
    assert report.errors == []
    assert report.counts["replanned"] == 1
    assert "re-planned 1 contact changed during the run" in report.warnings
    # Both edits: the CRM's company went out, the folder's job title came in.
    now = _contact(store, ann)
    assert (now.record.company, now.record.job_title) == ("New Co", "Chief")
    person = db.get(ann).record
    assert (person.company, person.job_title) == ("New Co", "Chief")
    # The refused write is journaled as stale, the second plan's writes as done.
    states = [(e["action"], e["state"]) for e in entries(db.engine, report.run_id)]
    assert ("update", "stale") in states and states.count(("update", "done")) == 2
    again = engine.run(db, url, "sync", options=RunOptions(dry_run=True))
    assert again.plan.changes() == 0


@pytest.mark.parametrize("moved", ["contact", "person"])
def test_a_pair_written_on_both_sides_keeps_every_edit(
    setup: tuple[PersonsDB, str, MemoryStore, list[int]], moved: str
) -> None:
    # Both sides are to be written: the folder changed department before the run, the CRM the
    # company. Then one side moves on meanwhile (job title) and its write is refused.
    # contact: the Person's write is made first and records the pair's link; planned again,
    # the CRM's company must still go out, not be taken back from the contact.
    # person: the contact's write waits too (written alone, its link would say the CRM has
    # the department), and the pair is planned again whole.
    db, url, store, (ann, _) = setup
    db.update(ann, {"company": "New Co"})
    _edit(store, ann, department="Sales")

    def edit(plan: Plan) -> None:
        if moved == "contact":
            _edit(store, ann, job_title="Chief")
        else:
            db.update(ann, {"job_title": "Chief"})

    out = engine.run(db, url, "sync", on_event=planned(edit))
    assert out.report is not None and out.report.exit_code == ExitCode.CLEAN, out.report.to_dict()
    assert out.report.counts["replanned"] == 1
    for now in (_contact(store, ann).record, db.get(ann).record):
        assert (now.company, now.department, now.job_title) == ("New Co", "Sales", "Chief")


def test_an_export_replans_and_names_what_it_overwrites(
    setup: tuple[PersonsDB, str, MemoryStore, list[int]],
) -> None:
    # One-way: the folder's new edit of a field the CRM did not change is taken back, as in
    # any export, and named as a conflict with both values; the CRM's edit goes out.
    db, url, store, (ann, _) = setup
    db.update(ann, {"company": "New Co"})
    out = engine.run(
        db, url, "export", on_event=planned(_meanwhile((store, ann, {"company": "Theirs"})))
    )
    report = out.report
    assert report is not None and report.errors == [] and report.counts["replanned"] == 1
    assert _contact(store, ann).record.company == "New Co"
    named = [(c["field"], c["outlook"], c["kept"]) for c in report.conflicts]
    assert named == [("company", "Theirs", "crm")]


def test_a_card_edited_again_and_again_is_left_to_the_next_run(
    setup: tuple[PersonsDB, str, MemoryStore, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, url, store, (ann, bob) = setup
    db.update(ann, {"company": "New Co"})
    db.update(bob, {"company": "Bob Co"})
    hot = _contact(store, ann).item_id
    original = MemoryStore.update
    refused = []

    def busy(self: MemoryStore, old: Contact, new: Contact) -> Any:
        if old.item_id == hot:  # someone edits it just before each of our writes
            refused.append(old.version)
            now = self.items[hot]
            edited = now.record.replace({"notes": "x" * len(refused)})
            original(self, now, replace(now, record=edited))
        return original(self, old, new)

    monkeypatch.setattr(MemoryStore, "update", busy)
    out = engine.run(db, url, "sync", options=YES)
    report = out.report
    assert report is not None
    assert len(refused) == MAX_ROUNDS + 1  # the first write and one per round
    assert report.errors == [] and report.exit_code == ExitCode.SKIPPED
    assert [(s["person_id"], s["item_id"]) for s in report.skipped] == [(ann, hot)]
    assert "the next run reads it again" in report.skipped[0]["reason"]
    assert _contact(store, bob).record.company == "Bob Co"  # the others proceed
    monkeypatch.undo()
    settled = engine.run(db, url, "sync", options=YES)
    assert settled.report is not None and settled.report.exit_code == ExitCode.CLEAN
    assert _contact(store, ann).record.company == "New Co"
    assert db.get(ann).record.notes == "x" * len(refused)
