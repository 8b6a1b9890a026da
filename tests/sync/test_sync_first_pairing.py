"""A first two-way sync against contacts that match their Persons but are not linked yet: what it
reads, what it holds, and what it journals (the work `bench/sync_bench.py sync-first` measures at
100,000). Real SQLite database, real vCard folder."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from folder_help import by_cid, contacts
from sync_fakes import records as generate

from held import assert_holds_its_set_values_only, held
from personsync.model import Contact, Person, Record, field_values
from personsync.persons.repo import PersonsDB
from personsync.stores import card_reader, open_folder
from personsync.sync import engine, planner
from personsync.sync.journal import entries
from personsync.sync.merge import three_way
from personsync.sync.options import RunOptions
from personsync.sync.plan import Link
from personsync.sync.snapshot import ReadVersions, Snapshot
from personsync.sync.undo import undo


class CountingDB(PersonsDB):
    """A Persons database that counts the Persons it hands out, by id."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.handed: list[int] = []
        self.listed: list[str | None] = []  # the views whose versions were listed

    def iter_persons(self, view: str | None = None, *, times: bool = True) -> Iterator[Person]:
        for p in super().iter_persons(view, times=times):
            self.handed.append(p.id)
            yield p

    def get_many(self, ids: Iterable[int], *, times: bool = True) -> dict[int, Person]:
        got = super().get_many(ids, times=times)
        self.handed += list(got)
        return got

    def versions(self, view: str | None = None) -> dict[int, str]:
        self.listed.append(view)
        return super().versions(view)


def _snapshot(db: PersonsDB, url: str) -> Snapshot:
    store = open_folder(url, create=False)
    try:
        return engine.take_snapshot(db, store, "sync", None)
    finally:
        store.close()


def _folder(tmp_path: Path, records: list[Record]) -> str:
    """A vCard folder holding an unlinked copy of each record (no Customer IDs)."""
    url = f"vcf:{tmp_path / 'contacts'}"
    store = open_folder(url, create=True)
    try:
        for r in records:
            store.create(Contact(r))
    finally:
        store.close()
    return url


def test_first_sync_reads_each_person_once(sqlite_url: str, tmp_path: Path) -> None:
    records = list(generate(6, 3))
    db = CountingDB(sqlite_url)
    try:
        ids = db.add_many(records)
        url = _folder(tmp_path, records)
        out = engine.run(db, url, "sync", options=RunOptions(yes=True))
        assert out.report is not None
        assert out.report.exit_code == 0, out.report.to_dict()
        assert out.report.counts["link"] == len(ids)
        # Every Person of the view was read for the view's half; matching the new contacts
        # against "every Person not linked here" must not read them all again.
        assert sorted(db.handed) == sorted(ids)
        # Nor list every Person's version again when the view is every Person.
        assert db.listed == [None]
    finally:
        db.close()


def test_a_snapshot_s_records_are_not_walked_by_the_collector(
    sqlite_url: str, tmp_path: Path
) -> None:
    # The Persons read from rows and the contacts read from cards (one Record per pair when
    # they agree): each is one reference for the collector, to a tuple it no longer tracks.
    # A full export of 100,000 spent 1.5 s of CPU in full collections walking 65 slots each.
    records = list(generate(6, 7))
    db = PersonsDB(sqlite_url)
    try:
        db.add_many(records)
        url = _folder(tmp_path, [records[0].replace({"department": "Elsewhere"}), *records[1:]])
        snap = _snapshot(db, url)
    finally:
        db.close()
    rows = [p.record for p in snap.persons.persons.values()]
    cards = [c.record for c in snap.folder.contacts.values()]
    assert len(rows) == len(cards) == 6
    # Twice: a tuple whose inner tuple (categories) comes later in the collector's list is
    # let go at the next collection, once that inner one was.
    gc.collect()
    gc.collect()
    # Five Persons agree with their contacts field for field: they hold the card's Record.
    read_from_cards = {id(r) for r in cards}
    assert sum(id(r) in read_from_cards for r in rows) == 5
    for record in rows + cards:
        assert not gc.is_tracked(held(record))  # one tuple: the collector walks no further
        if id(record) in read_from_cards:
            assert_holds_its_set_values_only(record)  # model._Sparse
        else:
            assert held(record) == field_values(record)


def test_equal_records_are_shared_and_different_ones_kept(sqlite_url: str, tmp_path: Path) -> None:
    records = list(generate(4, 5))
    db = PersonsDB(sqlite_url)
    try:
        ids = db.add_many(records)
        # The last contact differs from its Person in one field: it keeps its own Record.
        changed = records[3].replace({"department": "Elsewhere"})
        url = _folder(tmp_path, [*records[:3], changed])
        snap = _snapshot(db, url)
        read = {c.record.email1: c.record for c in snap.folder.contacts.values()}
        persons = snap.persons.persons
        for pid, r in zip(ids[:3], records[:3], strict=True):
            assert persons[pid].record == r
            assert persons[pid].record is read[r.email1]  # one Record for the pair
        assert persons[ids[3]].record == records[3]
        assert persons[ids[3]].record is not read[records[3].email1]
        assert read[records[3].email1] == changed
        # The plan's agreed values of an equal pair are that same Record, not a copy.
        result = planner.plan(snap, "sync")
        links = [a for a in result.actions if isinstance(a, Link)]
        assert {a.person_id for a in links} == set(ids[:3])
        for a in links:
            assert a.record is a.contact.record
    finally:
        db.close()


def test_three_way_agrees_on_the_crm_record_itself_when_nothing_flows_in() -> None:
    crm = next(iter(generate(1, 8)))
    outlook = crm.replace({"department": "Only in Outlook"})
    assert three_way(crm, crm.replace({}), None, "sync").baseline is crm
    # Something flows into the CRM: the agreed values are a new Record with it.
    both = three_way(crm.replace({"department": ""}), outlook, None, "sync")
    assert both.to_crm == {"department": "Only in Outlook"}
    assert both.baseline.department == "Only in Outlook"


def test_a_link_journals_only_the_customer_id_and_undo_takes_it_back(
    sqlite_url: str, tmp_path: Path
) -> None:
    records = list(generate(3, 9))
    db = PersonsDB(sqlite_url)
    try:
        ids = db.add_many(records)
        url = _folder(tmp_path, records)
        before = {c.record.email1: c.record for c in contacts(url)}
        out = engine.run(db, url, "sync", options=RunOptions(yes=True))
        assert out.report is not None and out.report.counts["link"] == 3
        journal = [e for e in entries(db.engine, out.report.run_id) if e["side"] == "contact"]
        assert len(journal) == 3
        for e in journal:
            # The record is not changed by the write: only what it changes is kept.
            assert set(e["before"]) == {"version", "customer_id"}
            assert e["before"]["customer_id"] == ""
        assert set(by_cid(url)) == {str(i) for i in ids}
        report = undo(db, out.report.run_id, options=RunOptions(yes=True))
        assert not report.errors and not report.skipped, report.to_dict()
        after: dict[str, Any] = {c.record.email1: c for c in contacts(url)}
        assert {c.customer_id for c in after.values()} == {""}
        assert {k: c.record for k, c in after.items()} == before
    finally:
        db.close()


def test_a_link_holds_a_name_only_when_its_record_has_another(
    sqlite_url: str, tmp_path: Path
) -> None:
    records = list(generate(3, 11))
    db = PersonsDB(sqlite_url)
    try:
        ids = db.add_many(records)
        url = _folder(tmp_path, records)
        store = open_folder(url, create=False)
        try:
            result = planner.plan(engine.take_snapshot(db, store, "sync", None), "sync")
        finally:
            store.close()
        links = [a for a in result.actions if isinstance(a, Link)]
        assert {a.person_id for a in links} == set(ids)
        names = {pid: r.display_name for pid, r in zip(ids, records, strict=True)}
        for a in links:
            # The agreed record's own name: made when asked, no string held per pair.
            assert a.other_name == ""
            assert a.name == names[a.person_id]
        shown = {d["person_id"]: d["name"] for d in result.to_dict()["actions"]}
        assert shown == names
    finally:
        db.close()
    # A pair shown under a name its agreed values do not make keeps that name.
    link = links[0]
    other = Link.named(link.person_id, "v", link.contact, link.record, "email", "Someone Else")
    assert other.other_name == "Someone Else" and other.name == "Someone Else"
    same = Link.named(link.person_id, "v", link.contact, link.record, "email", link.name)
    assert same.other_name == "" and same.name == link.name


def test_a_snapshot_holds_one_string_per_version_and_item_id(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = list(generate(8, 11))
    monkeypatch.setattr(card_reader, "CHUNK", 2)
    db = PersonsDB(sqlite_url)
    try:
        ids = db.add_many(records)
        url = _folder(tmp_path, records)
        # Files named after their cards' UIDs (as Outlook's exports and the bench's are): the
        # item id is the UID.
        for path in (tmp_path / "contacts").glob("*.vcf"):
            uid = next(ln[4:] for ln in path.read_text().splitlines() if ln.startswith("UID:"))
            path.rename(path.with_name(f"{uid}.vcf"))
        # Half of the read parsed by the helper process (its contacts come back unpickled).
        store = open_folder(url, create=False, read_helper_from=2)
        try:
            snap = engine.take_snapshot(db, store, "sync", None)
        finally:
            store.close()
        listing, read = snap.folder.listing, snap.folder.contacts
        assert len(read) == len(records) == len(listing)
        keys = {i: i for i in listing}
        for item_id, contact in read.items():
            assert contact.version is listing[item_id]  # the listing's string, not a copy
            # and the one the store keeps for the file that holds one card (updated later
            # without a re-read): one string for all three, not two.
            assert store._listed.single(item_id) is listing[item_id]
            assert contact.item_id is keys[item_id]
            assert contact.extra.uid is contact.item_id
        assert len({id(c.extra.version) for c in read.values()}) == 1  # "3.0", once
        persons = snap.persons.persons
        assert sorted(persons) == sorted(ids)
        for pid, person in persons.items():
            assert person.version is snap.persons.versions[pid]
        # Every Person read at the version listed: the versions are read from the Persons,
        # not held in a dict of their own beside them.
        assert isinstance(snap.persons.versions, ReadVersions)
        assert snap.persons.versions._rest == {}
        # Nor the versions listed of the contacts read, from the contacts.
        assert isinstance(listing, ReadVersions) and listing._rest == {}
    finally:
        db.close()


def test_persons_read_hold_the_ids_of_the_versions_listed(sqlite_url: str) -> None:
    # Ids above 256 (Python shares the smaller ints anyway). The streamed read of most Persons
    # and the keyed read of a few: each Person's id, and its key, is the int listed with the
    # versions (the snapshot holds both), not an equal one read from its row.
    db = PersonsDB(sqlite_url)
    try:
        ids = db.add_many([Record(first_name=f"P{i}") for i in range(300)])
        versions = db.versions()
        listed = {pid: pid for pid in versions}
        big = [pid for pid in versions if pid > 256]
        for wanted in (big, big[:5]):
            persons = engine._read_persons(db, wanted, None, len(ids))
            assert sorted(persons) == sorted(wanted)
            for pid, person in persons.items():
                assert pid is listed[pid] and person.id is listed[pid]
    finally:
        db.close()


def test_the_pool_of_records_read_is_keyed_by_their_own_values(tmp_path: Path) -> None:
    # The Persons read take the Record of a contact with the very same values from a pool of
    # the contacts read: keyed by the contacts' Records themselves (no int per contact, 3 MB
    # at 100,000, nor a tuple of values made for it), and a Person whose values only hash
    # alike is not given it.
    records = list(generate(3, 13))
    url = _folder(tmp_path, records)
    read = {c.record.email1: c for c in contacts(url)}
    same = engine._SameRecords(read, {})
    assert all(key is r for key, r in same.pool.items())
    assert sorted(map(id, same.pool.values())) == sorted(id(c.record) for c in read.values())
    twin = Person(1, Record(*field_values(records[0])), "1")
    assert same(twin, 1).record is read[records[0].email1].record
    other = Person(2, records[1].replace({"notes": "only here"}), "1")
    assert same(other, 2).record is other.record
