"""Capability flags are enforced in one place, whatever the store."""

from __future__ import annotations

import pytest

from personsync.errors import CapabilityError, ConflictError, UnsupportedFolderError
from personsync.model import Contact, Record
from personsync.stores import open_folder, split_url
from personsync.stores.base import Capabilities, GuardedStore, ItemRef, get_one
from personsync.stores.memory import MemoryStore


def test_read_only_store_refuses_every_write_and_keeps_items() -> None:
    inner = MemoryStore(capabilities=Capabilities(read_only=True))
    inner.items["a"] = Contact(Record(first_name="Ann"), item_id="a", version="1")
    store = GuardedStore(inner)
    with pytest.raises(CapabilityError, match="read-only"):
        store.create(Contact(Record(first_name="Bob")))
    with pytest.raises(CapabilityError):
        store.update(inner.items["a"], Contact(Record(first_name="Eve")))
    with pytest.raises(CapabilityError):
        store.create_many([Contact(Record(first_name="Bob"))])
    with pytest.raises(CapabilityError):
        store.delete(ItemRef("a", "1"))
    assert list(inner.items) == ["a"]
    assert inner.items["a"].record.first_name == "Ann"


def test_store_that_cannot_delete_refuses_delete_only() -> None:
    store = GuardedStore(MemoryStore(capabilities=Capabilities(can_delete=False)))
    ref = store.create(Contact(Record(first_name="Ann")))
    with pytest.raises(CapabilityError, match="deleting"):
        store.delete(ref)
    assert get_one(store, ref.item_id) is not None


def test_create_many_reports_each_item() -> None:
    store = GuardedStore(MemoryStore())
    first = store.create(Contact(Record(first_name="Ann")))
    stale = Contact(Record(first_name="Ann"), item_id=first.item_id, version="stale")
    results = store.update_many([(stale, Contact(Record(first_name="Eve")))])
    assert isinstance(results[0], ConflictError)
    assert get_one(store, first.item_id).record.first_name == "Ann"  # type: ignore[union-attr]


def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(UnsupportedFolderError) as info:
        split_url("ftp://x")
    assert "vcf:" in info.value.hint and "graph:" in info.value.hint


def test_memory_folders_are_shared_by_name() -> None:
    a = open_folder("memory:guarded-test")
    a.create(Contact(Record(first_name="Ann")))
    b = open_folder("memory:guarded-test")
    assert [c.item_id for c in b.list_items()] == [c.item_id for c in a.list_items()]
