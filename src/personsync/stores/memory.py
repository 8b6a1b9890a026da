"""An in-memory contact folder: for tests, and the reference for what a store must do."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import replace

from personsync.errors import ConflictError, ItemNotFound
from personsync.model import Contact
from personsync.stores.base import Capabilities, ItemRef, ReadProblem, StoreBase

# Folders by name, so that `memory:NAME` opened twice in one process is the same folder.
_FOLDERS: dict[str, MemoryStore] = {}


class MemoryStore(StoreBase):
    def __init__(self, url: str = "memory:Contacts", capabilities: Capabilities | None = None):
        self.url = url
        self.capabilities = capabilities or Capabilities()
        self.items: dict[str, Contact] = {}
        self._versions = itertools.count(1)
        self._ids = itertools.count(1)

    @classmethod
    def named(cls, name: str) -> MemoryStore:
        if name not in _FOLDERS:
            _FOLDERS[name] = cls(f"memory:{name}")
        return _FOLDERS[name]

    def _stamp(self, contact: Contact, item_id: str) -> Contact:
        return replace(contact, item_id=item_id, version=str(next(self._versions)))

    def list_items(self) -> Iterator[ItemRef]:
        return iter([ItemRef(c.item_id, c.version) for c in self.items.values()])

    def get_many(self, item_ids: Sequence[str]) -> Iterator[Contact | ReadProblem]:
        for item_id in item_ids:
            if item_id in self.items:
                yield self.items[item_id]

    def create(self, contact: Contact) -> ItemRef:
        item_id = contact.item_id or f"m{next(self._ids)}"
        while item_id in self.items:
            item_id = f"m{next(self._ids)}"
        stored = self._stamp(contact, item_id)
        self.items[item_id] = stored
        return ItemRef(item_id, stored.version)

    def _current(self, item_id: str, version: str) -> Contact:
        current = self.items.get(item_id)
        if current is None:
            raise ItemNotFound(f"{self.url}: no contact {item_id!r}")
        if current.version != version:
            raise ConflictError(
                f"{self.url}: contact {item_id!r} changed since it was read "
                f"(version {version!r}, now {current.version!r})"
            )
        return current

    def update(self, old: Contact, new: Contact) -> ItemRef:
        self._current(old.item_id, old.version)
        stored = self._stamp(new, old.item_id)
        self.items[old.item_id] = stored
        return ItemRef(old.item_id, stored.version)

    def delete(self, ref: ItemRef) -> None:
        self._current(ref.item_id, ref.version)
        del self.items[ref.item_id]

    def find_by_customer_id(self, customer_id: str) -> list[Contact]:
        return [c for c in self.items.values() if c.customer_id == customer_id]

    def close(self) -> None:
        pass


def open_store(name: str, *, create: bool = True) -> MemoryStore:
    return MemoryStore.named(name or "Contacts")


def list_folders(name: str) -> list[str]:
    return [f"memory:{n}" for n in sorted(_FOLDERS)]
