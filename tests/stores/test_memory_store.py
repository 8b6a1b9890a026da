"""What the in-memory reference store does beyond the shared contract."""

from __future__ import annotations

from personsync.model import Contact, Record
from personsync.stores import list_folders, open_folder
from personsync.stores.memory import MemoryStore


def test_wished_item_id_is_kept_unless_taken() -> None:
    store = MemoryStore()
    first = store.create(Contact(Record(first_name="Ann"), item_id="wish"))
    second = store.create(Contact(Record(first_name="Bob"), item_id="wish"))
    assert first.item_id == "wish"
    assert second.item_id != "wish"
    assert store.items["wish"].record.first_name == "Ann"


def test_extra_is_kept_as_given() -> None:
    store = MemoryStore()
    ref = store.create(Contact(Record(first_name="Ann"), extra={"private": [1, 2]}))
    assert store.items[ref.item_id].extra == {"private": [1, 2]}


def test_same_name_is_same_folder_and_listed() -> None:
    a = open_folder("memory:memtest-shared")
    ref = a.create(Contact(Record(first_name="Ann")))
    b = open_folder("memory:memtest-shared")
    assert [r.item_id for r in b.list_items()] == [ref.item_id]
    assert "memory:memtest-shared" in list_folders("memory:")
    other = open_folder("memory:memtest-other")
    assert list(other.list_items()) == []
