"""The whole engine (snapshot → plan → journal → apply → undo) on the in-memory folder and a small
stand-in for the Persons database."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from sync_fakes import FakePersonsDB

from personsync.errors import MassChangeRefused
from personsync.model import Contact, Record
from personsync.stores.memory import MemoryStore
from personsync.sync import engine
from personsync.sync.events import GuardQuestion
from personsync.sync.journal import entries, get_run, list_runs
from personsync.sync.options import RunOptions
from personsync.sync.undo import undo

ANN = Record(first_name="Ann", last_name="Lee", email1="ann@example.org")
BOB = Record(first_name="Bob", last_name="Ray", company="Acme")
CY = Record(first_name="Cy", last_name="Po", business_phone="+44 20 7946 0000")


@pytest.fixture
def folder() -> tuple[str, MemoryStore]:
    name = f"t{uuid.uuid4().hex[:8]}"
    return f"memory:{name}", MemoryStore.named(name)


def test_export_then_noop_then_change(folder: tuple[str, MemoryStore]) -> None:
    url, store = folder
    db = FakePersonsDB()
    ids = db.add_many([ANN, BOB, CY])
    out = engine.run(db, url, "export")
    assert out.report is not None and out.report.exit_code == 0
    assert out.report.counts["create-contact"] == 3
    by_cid = {c.customer_id: c for c in store.items.values()}
    assert set(by_cid) == {str(i) for i in ids}
    assert by_cid[str(ids[0])].record == ANN
    # Both halves of the link.
    assert all(db.get(i).contact_manager_id == by_cid[str(i)].item_id for i in ids)

    again = engine.run(db, url, "export", options=RunOptions(dry_run=True))
    assert again.plan.changes() == 0 and again.plan.unchanged == 3

    db.update(ids[1], {"job_title": "Boss"})
    third = engine.run(db, url, "export")
    assert third.plan.counts()["update-contact"] == 1
    assert by_cid[str(ids[1])].item_id in store.items
    assert store.items[by_cid[str(ids[1])].item_id].record.job_title == "Boss"
    assert len(store.items) == 3


def test_export_dry_run_writes_nothing(folder: tuple[str, MemoryStore]) -> None:
    url, store = folder
    db = FakePersonsDB()
    db.add_many([ANN, BOB])
    out = engine.run(db, url, "export", options=RunOptions(dry_run=True))
    assert out.report is None and out.plan.counts()["create-contact"] == 2
    assert store.items == {} and list_runs(db.engine) == []


def test_import_creates_links_and_writes_customer_ids(folder: tuple[str, MemoryStore]) -> None:
    url, store = folder
    for r in (ANN, BOB):
        store.create(replace_contact(r))
    db = FakePersonsDB()
    out = engine.run(db, url, "import")
    assert out.report is not None and out.report.counts["create-person"] == 2
    persons = {p.record.first_name: p for p in db.rows.values()}
    assert {c.customer_id for c in store.items.values()} == {str(p.id) for p in persons.values()}
    assert engine.run(db, url, "import", options=RunOptions(dry_run=True)).plan.changes() == 0
    # An edit in the folder flows to the Person.
    item = next(c for c in store.items.values() if c.record.first_name == "Ann")
    store.update(item, replace(item, record=item.record.replace({"job_title": "CTO"})))
    out = engine.run(db, url, "import")
    assert out.plan.counts()["update-person"] == 1
    assert db.get(persons["Ann"].id).record.job_title == "CTO"


def replace_contact(r: Record):  # type: ignore[no-untyped-def]
    from personsync.model import Contact

    return Contact(r)


def test_mass_change_guard_stops_unless_yes(folder: tuple[str, MemoryStore]) -> None:
    url, store = folder
    db = FakePersonsDB()
    store.create(replace_contact(Record(first_name="Zed", email1="zed@example.org")))
    db.add_many([ANN, BOB, CY])
    with pytest.raises(MassChangeRefused) as info:
        engine.run(db, url, "export")
    assert "3 contacts in" in info.value.message and "holds only 1 now" in info.value.message
    assert len(store.items) == 1  # nothing written
    assert (
        engine.run(db, url, "export", on_event=lambda e: isinstance(e, GuardQuestion)).report
        is not None
    )
    assert len(store.items) == 4


def test_undo_restores_contacts_and_reports_changed_ones(folder: tuple[str, MemoryStore]) -> None:
    url, store = folder
    db = FakePersonsDB()
    ids = db.add_many([ANN, BOB])
    engine.run(db, url, "export")
    db.update(ids[0], {"job_title": "CEO"})
    db.update(ids[1], {"job_title": "CFO"})
    run = engine.run(db, url, "export", options=RunOptions(yes=True)).report
    assert run is not None
    # Someone edits Bob's contact after the run: undo must leave it alone.
    bob = next(c for c in store.items.values() if c.customer_id == str(ids[1]))
    store.update(bob, replace(bob, record=bob.record.replace({"notes": "mine"})))
    report = undo(db, run.run_id, options=RunOptions(yes=True))  # all of the folder
    assert report.counts == {"undone": 1, "not-undone": 1}
    ann = next(c for c in store.items.values() if c.customer_id == str(ids[0]))
    assert ann.record.job_title == ""
    assert store.items[bob.item_id].record.notes == "mine"
    assert get_run(db.engine, report.run_id).status == "done"
    # The next export re-applies the Person's values.
    assert (
        engine.run(db, url, "export", options=RunOptions(yes=True)).plan.counts()["update-contact"]
        == 2
    )


def test_undo_of_export_deletes_created_contacts(folder: tuple[str, MemoryStore]) -> None:
    url, store = folder
    db = FakePersonsDB()
    ids = db.add_many([ANN, BOB])
    run = engine.run(db, url, "export").report
    assert run is not None
    assert [e["state"] for e in entries(db.engine, run.run_id)] == ["done", "done"]
    report = undo(db, run.run_id, options=RunOptions(yes=True))  # all of the folder
    assert report.counts == {"undone": 2} and store.items == {}
    assert db.get(ids[0]).contact_manager_id is None
    assert (
        engine.run(db, url, "export", options=RunOptions(dry_run=True)).plan.counts()[
            "create-contact"
        ]
        == 2
    )


def test_undo_of_import_deletes_created_persons(folder: tuple[str, MemoryStore]) -> None:
    url, store = folder
    store.create(replace_contact(ANN))
    db = FakePersonsDB()
    run = engine.run(db, url, "import").report
    assert run is not None and len(db.rows) == 1
    report = undo(db, run.run_id, options=RunOptions(yes=True))  # all of the folder
    assert report.counts == {"undone": 2}
    assert db.rows == {}
    assert next(iter(store.items.values())).customer_id == ""


def test_one_bad_record_does_not_stop_the_run(folder: tuple[str, MemoryStore]) -> None:
    url, store = folder
    db = FakePersonsDB()
    ids = db.add_many([ANN, BOB])
    engine.run(db, url, "export")
    db.update(ids[0], {"job_title": "X"})
    db.update(ids[1], {"job_title": "Y"})
    real_update = store.update

    def flaky(old, new):  # type: ignore[no-untyped-def]
        if new.record.first_name == "Ann":
            from personsync.errors import StoreError

            raise StoreError("disk full")
        return real_update(old, new)

    store.update = flaky  # type: ignore[method-assign]
    report = engine.run(db, url, "export", options=RunOptions(yes=True)).report
    assert report is not None and report.exit_code == 1
    assert report.counts["update-contact"] == 1
    assert report.errors[0]["name"] == "Ann Lee" and "disk full" in report.errors[0]["error"]
    del store.update
    # The failed record is planned again next time; the other is done.
    assert (
        engine.run(db, url, "export", options=RunOptions(dry_run=True)).plan.counts()[
            "update-contact"
        ]
        == 1
    )


def test_ambiguous_import_is_reported_with_name_and_email(folder: tuple[str, MemoryStore]) -> None:
    url, store = folder
    db = FakePersonsDB()
    db.add_many([ANN, ANN.replace({"first_name": "Anne"})])
    store.create(replace_contact(ANN))
    report = engine.run(db, url, "import", options=RunOptions(yes=True)).report
    assert report is not None and report.exit_code == 4
    (skipped,) = report.skipped
    assert skipped["name"] == "Ann Lee" and skipped["email"] == "ann@example.org"
    assert skipped["folder"].startswith("memory:") and len(skipped["candidates"]) == 2
    assert len(db.rows) == 2


def test_contact_copy_keeps_working_after_replace() -> None:
    # Guard against the memory store handing out shared objects that the engine mutates.
    c = replace_contact(ANN)
    assert replace(c, customer_id="1").customer_id == "1" and c.customer_id == ""


def test_link_decides_an_ambiguous_match_and_undo_takes_it_back(
    folder: tuple[str, MemoryStore],
) -> None:
    from personsync.sync.manual import link

    url, store = folder
    db = FakePersonsDB()
    (pid,) = db.add_many([ANN])
    a = store.create(replace_contact(ANN.replace({"job_title": "old"})))
    store.create(replace_contact(Record(first_name="Other", email2="ann@example.org")))
    plan = engine.run(db, url, "export", options=RunOptions(dry_run=True)).plan
    assert plan.counts()["decide"] == 1 and plan.changes() == 0

    decided = link(db, pid, url, a.item_id)
    assert store.items[a.item_id].customer_id == str(pid)
    assert db.get(pid).contact_manager_id == a.item_id
    plan = engine.run(db, url, "export", options=RunOptions(dry_run=True)).plan
    assert plan.counts()["decide"] == 0
    assert [(x.kind, x.old.item_id) for x in plan.of("update-contact")] == [  # type: ignore[union-attr]
        ("update-contact", a.item_id)
    ]

    undo(db, decided.run_id)
    assert store.items[a.item_id].customer_id == ""
    assert (
        engine.run(db, url, "export", options=RunOptions(dry_run=True)).plan.counts()["decide"] == 1
    )


def test_import_chunk_whose_persons_fail_leaves_nothing_half_done(
    folder: tuple[str, MemoryStore], tmp_path, monkeypatch
) -> None:
    """The Persons of a chunk, their journal entries and links commit together: when the
    insert fails half-way, the chunk is reported and rolled back whole; the others proceed, and
    the next run creates the missing Persons once."""
    from personsync.errors import DatabaseError
    from personsync.persons.repo import PersonsDB
    from personsync.sync.links import Links
    from personsync.sync.tables import sync_journal, sync_links

    url, store = folder
    people = [Record(first_name=f"P{n}", last_name="Lee", email1=f"p{n}@x.org") for n in range(7)]
    store.create_many([Contact(r) for r in people])
    db = PersonsDB(str(tmp_path / "p.db"))
    real = Links.save
    calls = []

    def failing_second_chunk(conn, folder, rows):
        calls.append(len(rows))
        if len(calls) == 2:  # its Persons and journal entries are in the transaction already
            raise DatabaseError("disk full")
        return real(conn, folder, rows)

    monkeypatch.setattr(Links, "save", staticmethod(failing_second_chunk))
    out = engine.run(db, url, "import", options=RunOptions(chunk=3))
    assert out.report is not None and out.report.exit_code != 0
    assert out.report.counts["create-person"] == 4
    failed = {e["item_id"] for e in out.report.errors}
    assert len(failed) == 3 and all("disk full" in e["error"] for e in out.report.errors)
    assert db.count() == 4
    with db.engine.connect() as conn:
        journaled = {r.item_id for r in conn.execute(sync_journal.select()) if r.side == "person"}
        linked = {r.item_id for r in conn.execute(sync_links.select())}
    assert not failed & journaled and not failed & linked and len(linked) == 4
    assert all(not c.customer_id for c in store.items.values() if c.item_id in failed)

    monkeypatch.setattr(Links, "save", staticmethod(real))
    again = engine.run(
        db, url, "import", options=RunOptions(yes=True)
    )  # 3 new of 4: the guard would ask
    assert again.report is not None and again.report.exit_code == 0
    assert again.report.counts["create-person"] == 3
    assert db.count() == 7
    assert sorted(db.get(int(c.customer_id)).record.first_name for c in store.items.values()) == [
        f"P{n}" for n in range(7)
    ]
    db.close()
