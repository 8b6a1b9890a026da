"""The contract every contact store must pass, shipped with the package (as alembic ships its
dialect suite): a store outside this repository runs it by defining a `folder` fixture that
returns a `Folder` (its URL and the options for `open_folder`), then

    from personsync.testing.store_contract import *  # noqa: F403

in a test module. Every test runs against that folder; a store skips nothing but the fields it
declares in `Capabilities.unsupported_fields`. Needs pytest (a dev dependency).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from personsync import fields
from personsync.errors import CapabilityError, ConflictError, ItemNotFound, StoreError
from personsync.model import Contact, Record
from personsync.stores import open_folder
from personsync.stores.base import GuardedStore, ItemRef, ReadProblem, get_one


@dataclass
class Folder:
    url: str
    options: dict[str, Any] = field(default_factory=dict)

    def open(self) -> GuardedStore:
        return open_folder(self.url, create=True, **self.options)


@pytest.fixture
def store(folder: Folder) -> Iterator[GuardedStore]:
    opened = folder.open()
    yield opened
    opened.close()


# --- helpers -------------------------------------------------------------------------------------


def rich_record() -> Record:
    """Every field non-empty, with the characters formats like to trip over."""
    values: dict[str, Any] = {}
    for spec in fields.FIELDS:
        if spec.kind == "date":
            values[spec.name] = date(1980, 3, 22) if spec.name == "birthday" else date(2004, 6, 1)
        elif spec.kind == "list":
            values[spec.name] = ("Kundé", "VIP: gold", "a\\b")
        elif spec.kind == "email":
            values[spec.name] = f"zoë.{spec.name}@exämple.org"
        elif spec.kind == "phone":
            values[spec.name] = "+1 212-555-0100 ext. 7"
        elif spec.kind == "url":
            values[spec.name] = "https://example.org/a?b=c;d,e"
        elif spec.kind == "multiline":
            values[spec.name] = f'{spec.label} line 1, Straße; ok\nline 2: "quoted" \\ end'
        else:
            values[spec.name] = f"{spec.label}: Ünïcødé, a; b — 日本"
    return Record.from_values(values)


def supported(store: GuardedStore, record: Record) -> dict[str, Any]:
    """The record's values the store declares it can hold."""
    skip = store.capabilities.unsupported_fields
    return {k: v for k, v in record.values().items() if k not in skip}


def read(store: GuardedStore, item_id: str) -> Contact:
    got = get_one(store, item_id)
    assert got is not None, f"{item_id} not found"
    return got


def listed(store: GuardedStore) -> dict[str, str]:
    return {ref.item_id: ref.version for ref in store.list_items()}


# --- the contract --------------------------------------------------------------------------------


def test_new_folder_is_empty(store: GuardedStore) -> None:
    assert listed(store) == {}
    assert list(store.get_many(["nope"])) == []


def test_create_then_listed_and_versions_match_get_many(store: GuardedStore) -> None:
    refs = [store.create(Contact(Record(first_name=n, last_name="Ng"))) for n in ("Ann", "Bob")]
    assert len({r.item_id for r in refs}) == 2
    assert listed(store) == {r.item_id: r.version for r in refs}
    got = {
        c.item_id: c for c in store.get_many([r.item_id for r in refs]) if isinstance(c, Contact)
    }
    assert {k: c.version for k, c in got.items()} == listed(store)
    assert {c.record.first_name for c in got.values()} == {"Ann", "Bob"}


def test_every_supported_field_round_trips(store: GuardedStore) -> None:
    record = rich_record()
    ref = store.create(Contact(record, customer_id="4711"))
    got = read(store, ref.item_id)
    assert supported(store, got.record) == supported(store, record)
    assert got.customer_id == "4711"
    assert got.version == ref.version


def test_empty_record_round_trips(store: GuardedStore) -> None:
    ref = store.create(Contact(Record(email1="only@example.org")))
    assert read(store, ref.item_id).record == Record(email1="only@example.org")


def test_get_many_skips_unknown_ids(store: GuardedStore) -> None:
    ref = store.create(Contact(Record(first_name="Ann")))
    got = list(store.get_many(["no-such-item", ref.item_id]))
    assert [c.item_id for c in got if isinstance(c, Contact)] == [ref.item_id]
    assert not [p for p in got if isinstance(p, ReadProblem)]


def test_find_by_customer_id_none_one_and_copies(store: GuardedStore) -> None:
    store.create(Contact(Record(first_name="Ann"), customer_id="1"))
    assert store.find_by_customer_id("2") == []
    assert [c.record.first_name for c in store.find_by_customer_id("1")] == ["Ann"]
    store.create(Contact(Record(first_name="Ann copy"), customer_id="1"))
    store.create(Contact(Record(first_name="Eve"), customer_id="10"))
    copies = store.find_by_customer_id("1")
    assert sorted(c.record.first_name for c in copies) == ["Ann", "Ann copy"]
    assert all(c.customer_id == "1" and c.item_id and c.version for c in copies)


def test_update_with_current_version_changes_version(store: GuardedStore) -> None:
    ref = store.create(Contact(Record(first_name="Ann", email1="ann@example.org")))
    old = read(store, ref.item_id)
    new_record = old.record.replace({"first_name": "Anna", "company": "Acme, Inc."})
    new_ref = store.update(old, dataclasses.replace(old, record=new_record, customer_id="9"))
    assert new_ref.item_id == ref.item_id
    assert new_ref.version != ref.version
    got = read(store, ref.item_id)
    assert got.record == new_record
    assert got.customer_id == "9"
    assert got.version == new_ref.version
    assert listed(store) == {ref.item_id: new_ref.version}


def test_update_with_stale_version_conflicts_and_changes_nothing(store: GuardedStore) -> None:
    ref = store.create(Contact(Record(first_name="Ann")))
    first = read(store, ref.item_id)
    store.update(first, dataclasses.replace(first, record=Record(first_name="Anna")))
    current = read(store, ref.item_id)
    with pytest.raises(ConflictError):
        store.update(first, dataclasses.replace(first, record=Record(first_name="Eve")))
    after = read(store, ref.item_id)
    assert after.record == Record(first_name="Anna")
    assert after.version == current.version


def test_update_many_reports_each_pair(store: GuardedStore) -> None:
    a = read(store, store.create(Contact(Record(first_name="Ann"))).item_id)
    b = read(store, store.create(Contact(Record(first_name="Bob"))).item_id)
    stale = dataclasses.replace(b, version="stale")
    results = store.update_many(
        [
            (a, dataclasses.replace(a, record=Record(first_name="Anna"))),
            (stale, dataclasses.replace(b, record=Record(first_name="Eve"))),
        ]
    )
    assert isinstance(results[0], ItemRef)
    assert isinstance(results[1], ConflictError)
    assert read(store, a.item_id).record.first_name == "Anna"
    assert read(store, b.item_id).record.first_name == "Bob"


def test_delete(store: GuardedStore) -> None:
    keep = store.create(Contact(Record(first_name="Keep")))
    gone = store.create(Contact(Record(first_name="Gone")))
    store.delete(gone)
    assert listed(store) == {keep.item_id: keep.version}
    assert list(store.get_many([gone.item_id])) == []


def test_delete_with_stale_version_conflicts_and_keeps_item(store: GuardedStore) -> None:
    ref = store.create(Contact(Record(first_name="Ann")))
    old = read(store, ref.item_id)
    new_ref = store.update(old, dataclasses.replace(old, record=Record(first_name="Anna")))
    with pytest.raises(ConflictError):
        store.delete(ref)
    assert read(store, ref.item_id).record.first_name == "Anna"
    store.delete(new_ref)
    assert listed(store) == {}


def test_update_of_deleted_item_is_refused(store: GuardedStore) -> None:
    ref = store.create(Contact(Record(first_name="Ann")))
    old = read(store, ref.item_id)
    store.delete(ref)
    with pytest.raises((ItemNotFound, ConflictError)):
        store.update(old, dataclasses.replace(old, record=Record(first_name="Eve")))
    assert listed(store) == {}


def test_second_store_object_sees_writes(folder: Folder) -> None:
    first = folder.open()
    ref = first.create(Contact(Record(first_name="Ann", notes="a\nb"), customer_id="7"))
    first.close()
    second = folder.open()
    try:
        assert listed(second) == {ref.item_id: ref.version}
        got = read(second, ref.item_id)
        assert got.record == Record(first_name="Ann", notes="a\nb")
        assert got.customer_id == "7"
        # and a write through the second object is seen by a third
        second.update(got, dataclasses.replace(got, record=Record(first_name="Anna")))
    finally:
        second.close()
    third = folder.open()
    try:
        assert [c.record.first_name for c in third.find_by_customer_id("7")] == ["Anna"]
    finally:
        third.close()


def test_read_only_guard_refuses_writes_and_keeps_folder(store: GuardedStore) -> None:
    ref = store.create(Contact(Record(first_name="Ann")))
    guard = GuardedStore(store.inner)
    guard.capabilities = dataclasses.replace(guard.capabilities, read_only=True)
    old = read(guard, ref.item_id)
    with pytest.raises(CapabilityError):
        guard.create(Contact(Record(first_name="Bob")))
    with pytest.raises(CapabilityError):
        guard.create_many([Contact(Record(first_name="Bob"))])
    with pytest.raises(CapabilityError):
        guard.update(old, dataclasses.replace(old, record=Record(first_name="Eve")))
    with pytest.raises(CapabilityError):
        guard.delete(ref)
    assert listed(store) == {ref.item_id: ref.version}
    assert read(store, ref.item_id).record == Record(first_name="Ann")


def test_extra_survives_an_update(store: GuardedStore) -> None:
    ref = store.create(Contact(Record(first_name="Ann", notes="x")))
    old = read(store, ref.item_id)
    store.update(old, dataclasses.replace(old, record=old.record.replace({"notes": "y"})))
    got = read(store, ref.item_id)
    assert got.extra == old.extra
    assert got.record.notes == "y"


def test_fifty_creates_then_list(store: GuardedStore) -> None:
    singles = [store.create(Contact(Record(first_name=f"P{i}"))) for i in range(25)]
    batch = store.create_many([Contact(Record(first_name=f"Q{i}")) for i in range(25)])
    refs = singles + [r for r in batch if isinstance(r, ItemRef)]
    assert len(refs) == 50
    assert listed(store) == {r.item_id: r.version for r in refs}
    got = list(store.get_many([r.item_id for r in refs]))
    assert len(got) == 50
    names = {c.record.first_name for c in got if isinstance(c, Contact)}
    assert names == {f"P{i}" for i in range(25)} | {f"Q{i}" for i in range(25)}


def test_create_many_results_are_in_order(store: GuardedStore) -> None:
    results = store.create_many([Contact(Record(first_name=n)) for n in ("A", "B", "C")])
    assert all(isinstance(r, ItemRef) for r in results)
    ids = [r.item_id for r in results if not isinstance(r, StoreError)]
    assert [read(store, i).record.first_name for i in ids] == ["A", "B", "C"]


def test_batches_begun_ahead_finish_in_order(store: GuardedStore) -> None:
    # The engine begins one batch before it collects the one before (sync.pipeline).
    a = read(store, store.create(Contact(Record(first_name="Ann"))).item_id)
    first = store.begin_create_many([Contact(Record(first_name=n)) for n in ("B", "C")])
    second = store.begin_update_many(
        [(a, dataclasses.replace(a, record=Record(first_name="Anna")))]
    )
    third = store.begin_create_many([Contact(Record(first_name="D"))])
    made = first() + third()
    updated = second()
    assert all(isinstance(r, ItemRef) for r in [*made, *updated])
    ids = [r.item_id for r in made if isinstance(r, ItemRef)]
    assert [read(store, i).record.first_name for i in ids] == ["B", "C", "D"]
    assert read(store, a.item_id).record.first_name == "Anna"
    assert isinstance(updated[0], ItemRef)
    assert listed(store)[a.item_id] == updated[0].version
