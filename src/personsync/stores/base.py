"""The contact-store protocol: what a contact folder must do for personsync.

Small on purpose, so that a new store takes an afternoon: list the items with their versions
(without parsing unchanged items), get some, create, update-if-unchanged, delete, find by Customer
ID (`ContactStore`; `StoreBase` gives defaults). Capability flags are enforced in one place
(`GuardedStore`), not in each store.

Two optional extensions, for the stores that need them; the engine detects them through the
functions below (`begin_create_many`, `finish_interrupted`), which fall back to the core:
- `PipelinedWrites`: a batch is begun now and its results collected later, so the engine records
  one batch while the store writes the next (the `vcf:` folder's helper process, CardDAV's
  requests in flight);
- `RecoverableWrites`: the store writes in place and can mend a write a power cut left
  half-made (the `vcf:` folder);
- `SearchesBeyondFolder`: the store can find a contact by Customer ID outside its folder, so
  the engine can tell a contact moved to another folder from one deleted (`graph:`);
- `MarksChanges`: a cheap mark of the whole folder, so that a run can tell that nothing changed
  since the folder's last quiet run and read nothing more (`sync/quiet.py`; `vcf:`).

An item's *version* is an opaque string that changes whenever the item changes (a file's mtime and
size, a CardDAV ETag, a Graph changeKey). `update` and `delete` take the version the caller read;
a store raises `ConflictError` when the item has changed since.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from personsync.errors import CapabilityError, FormatError, StoreError
from personsync.model import Contact


@dataclass(frozen=True, slots=True)
class ItemRef:
    """An item's id and version in its folder, as listed without parsing it."""

    item_id: str
    version: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    read_only: bool = False
    can_delete: bool = True
    # Values the store cannot hold, by field name (Outlook CSV has no second business fax, ...).
    unsupported_fields: frozenset[str] = frozenset()


Finish = Callable[[], list[ItemRef | StoreError]]  # waits for a begun batch's results


@dataclass(frozen=True, slots=True)
class InterruptedWrite:
    """A Customer ID write that an earlier run journaled and may not have finished: its run
    stopped (killed, or the machine went down) before it recorded the outcome."""

    item_id: str
    version: str  # the item's version before the write
    customer_id: str  # the Customer ID it was to carry


@dataclass(frozen=True, slots=True)
class ReadProblem:
    """An item that could not be read: reported, the other items proceed."""

    item_id: str
    error: FormatError


@runtime_checkable
class ContactStore(Protocol):
    """One contact folder. Open one with `personsync.stores.open_folder(url)`."""

    url: str
    capabilities: Capabilities

    def list_items(self) -> Iterator[ItemRef]:
        """Every item's id and version, cheaply: a store must not parse items to list them."""
        ...

    def get_many(self, item_ids: Sequence[str]) -> Iterator[Contact | ReadProblem]:
        """The items asked for, in any order; an id that is gone is simply not yielded."""
        ...

    def create(self, contact: Contact) -> ItemRef:
        """Store a new item; `contact.item_id` is a wish the store may ignore. Returns its ref."""
        ...

    def update(self, old: Contact, new: Contact) -> ItemRef:
        """Replace `old` (as read: its item_id and version) by `new`; ConflictError if changed."""
        ...

    def delete(self, ref: ItemRef) -> None:
        """Delete the item if it still has `ref.version`; ConflictError if it changed."""
        ...

    def create_many(self, contacts: Sequence[Contact]) -> list[ItemRef | StoreError]:
        """Create several items in one go (Graph $batch, one rewrite of a single-file store).
        One result per contact, in order: its ref, or the error that item met."""
        ...

    def update_many(self, pairs: Sequence[tuple[Contact, Contact]]) -> list[ItemRef | StoreError]:
        """`update` for several (old, new) pairs; one result per pair, in order."""
        ...

    def find_by_customer_id(self, customer_id: str) -> list[Contact]:
        """Every item whose Customer ID is `customer_id` (more than one means a copied contact)."""
        ...

    def export_state(self) -> str | None:
        """Opaque sync state (Graph's delta link and id→version cache, a CardDAV sync token) that
        the engine saves with the links after a run and hands back through `import_state` next
        time, so a no-op run lists a folder in one round trip. None for stores that keep none."""
        ...

    def import_state(self, state: str | None) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class PipelinedWrites(Protocol):
    """Optional: writes begun now and collected later (see `sync.pipeline`)."""

    def begin_create_many(self, contacts: Sequence[Contact]) -> Finish:
        """`create_many` in two steps: begin now, and call the returned function for the results
        (in the order batches were begun), so the engine can record one batch while the store
        writes the next."""
        ...

    def begin_update_many(self, pairs: Sequence[tuple[Contact, Contact]]) -> Finish:
        """`update_many` in two steps, as `begin_create_many`."""
        ...


@runtime_checkable
class RecoverableWrites(Protocol):
    """Optional: a store that writes in place and can mend what a power cut left half-made."""

    def finish_interrupted(self, writes: Sequence[InterruptedWrite]) -> list[str]:
        """Make whole any of `writes` that a power cut left half-made. One message per item
        mended."""
        ...


@dataclass(frozen=True, slots=True)
class FoundElsewhere:
    """A contact carrying a Customer ID, outside the store's own folder."""

    item_id: str
    folder: str  # where it is, as a person would name it ("graph:Contacts/Old members")


@runtime_checkable
class SearchesBeyondFolder(Protocol):
    """Optional: a store that can look for contacts outside its folder (a mailbox)."""

    def find_elsewhere(
        self, customer_ids: Sequence[str]
    ) -> tuple[dict[str, list[FoundElsewhere]], set[str]]:
        """The contacts outside this folder that carry each Customer ID, and the Customer IDs
        not searched for (the store bounds how many searches one run sends)."""
        ...


@runtime_checkable
class MarksChanges(Protocol):
    """Optional: a mark of the whole folder that any change of it changes (`sync/quiet.py`)."""

    def change_mark(self) -> str | None:
        """A digest of every item's id and version, and of whatever else changes when an item
        is written (a file's ctime), as the store would list them now; `list_items` on the same
        store object then lists exactly what was marked. None when the mark cannot be trusted
        (an item written within the tick of the clock that stamps it: a later write in the same
        tick would leave the mark as it is)."""
        ...


def change_mark(store: ContactStore) -> str | None:
    """The store's change mark where it has one; None (cannot tell) for the others."""
    return store.change_mark() if isinstance(store, MarksChanges) else None


def find_elsewhere(
    store: ContactStore, customer_ids: Sequence[str]
) -> tuple[dict[str, list[FoundElsewhere]], set[str]]:
    """`find_elsewhere` where the store has it; a store that sees only its folder finds none."""
    if not customer_ids or not isinstance(store, SearchesBeyondFolder):
        return {}, set()
    return store.find_elsewhere(customer_ids)


def begin_create_many(store: ContactStore, contacts: Sequence[Contact]) -> Finish:
    """The store's pipelined create when it has one, else `create_many` at once."""
    if isinstance(store, PipelinedWrites):
        return store.begin_create_many(contacts)
    return _done(store.create_many(contacts))


def begin_update_many(store: ContactStore, pairs: Sequence[tuple[Contact, Contact]]) -> Finish:
    if isinstance(store, PipelinedWrites):
        return store.begin_update_many(pairs)
    return _done(store.update_many(pairs))


def finish_interrupted(store: ContactStore, writes: Sequence[InterruptedWrite]) -> list[str]:
    """Mend interrupted writes where the store can; a store whose writes are atomic has
    nothing half-made."""
    return store.finish_interrupted(writes) if isinstance(store, RecoverableWrites) else []


T = TypeVar("T")


def _done(results: list[ItemRef | StoreError]) -> Finish:
    return lambda: results


def each_item(items: Sequence[T], write: Callable[[T], ItemRef]) -> list[ItemRef | StoreError]:
    """Write items one by one for a *_many call: one item's error is its result, not the batch's."""
    results: list[ItemRef | StoreError] = []
    for item in items:
        try:
            results.append(write(item))
        except StoreError as exc:
            results.append(exc)
    return results


class StoreBase:
    """Defaults for the optional parts of the protocol; stores may inherit from it."""

    url: str
    capabilities: Capabilities

    def create(self, contact: Contact) -> ItemRef:
        raise NotImplementedError

    def update(self, old: Contact, new: Contact) -> ItemRef:
        raise NotImplementedError

    def create_many(self, contacts: Sequence[Contact]) -> list[ItemRef | StoreError]:
        return each_item(contacts, self.create)

    def update_many(self, pairs: Sequence[tuple[Contact, Contact]]) -> list[ItemRef | StoreError]:
        return each_item(pairs, lambda pair: self.update(*pair))

    def get_many(self, item_ids: Sequence[str]) -> Iterator[Contact | ReadProblem]:
        raise NotImplementedError

    def find_by_customer_id(self, customer_id: str) -> list[Contact]:
        """A plain scan of the folder; stores with an index override it."""
        ids = [ref.item_id for ref in self.list_items()]
        found: list[Contact] = []
        for start in range(0, len(ids), 500):
            for got in self.get_many(ids[start : start + 500]):
                if isinstance(got, Contact) and got.customer_id == customer_id:
                    found.append(got)
        return found

    def list_items(self) -> Iterator[ItemRef]:
        raise NotImplementedError

    def export_state(self) -> str | None:
        return None

    def import_state(self, state: str | None) -> None:
        return None

    def close(self) -> None:
        return None


def get_one(store: ContactStore, item_id: str) -> Contact | None:
    """One item, or None when it is gone; a read problem is raised as its FormatError."""
    for got in store.get_many([item_id]):
        if isinstance(got, ReadProblem):
            raise got.error
        return got
    return None


def read_all(store: ContactStore) -> Iterator[Contact | ReadProblem]:
    """Every item of a folder, in chunks so that stores can batch."""
    ids = [ref.item_id for ref in store.list_items()]
    for start in range(0, len(ids), 500):
        yield from store.get_many(ids[start : start + 500])


class GuardedStore:
    """Wraps any store and enforces its capability flags: the one place they are checked."""

    def __init__(self, inner: ContactStore) -> None:
        self.inner = inner
        self.url = inner.url
        self.capabilities = inner.capabilities

    def _check_write(self, what: str) -> None:
        if self.capabilities.read_only:
            raise CapabilityError(
                f"{self.url} is read-only: cannot {what}",
                hint="choose a folder personsync may write to",
            )

    def list_items(self) -> Iterator[ItemRef]:
        return self.inner.list_items()

    def get_many(self, item_ids: Sequence[str]) -> Iterator[Contact | ReadProblem]:
        return self.inner.get_many(item_ids)

    def create(self, contact: Contact) -> ItemRef:
        self._check_write("create a contact")
        return self.inner.create(contact)

    def update(self, old: Contact, new: Contact) -> ItemRef:
        self._check_write("update a contact")
        return self.inner.update(old, new)

    def create_many(self, contacts: Sequence[Contact]) -> list[ItemRef | StoreError]:
        self._check_write("create contacts")
        return self.inner.create_many(contacts)

    def update_many(self, pairs: Sequence[tuple[Contact, Contact]]) -> list[ItemRef | StoreError]:
        self._check_write("update contacts")
        return self.inner.update_many(pairs)

    def begin_create_many(self, contacts: Sequence[Contact]) -> Finish:
        self._check_write("create contacts")
        return begin_create_many(self.inner, contacts)

    def begin_update_many(self, pairs: Sequence[tuple[Contact, Contact]]) -> Finish:
        self._check_write("update contacts")
        return begin_update_many(self.inner, pairs)

    def delete(self, ref: ItemRef) -> None:
        self._check_write("delete a contact")
        if not self.capabilities.can_delete:
            raise CapabilityError(f"{self.url} does not allow deleting contacts")
        self.inner.delete(ref)

    def find_by_customer_id(self, customer_id: str) -> list[Contact]:
        return self.inner.find_by_customer_id(customer_id)

    def finish_interrupted(self, writes: Sequence[InterruptedWrite]) -> list[str]:
        return [] if self.capabilities.read_only else finish_interrupted(self.inner, writes)

    def change_mark(self) -> str | None:
        return change_mark(self.inner)

    def export_state(self) -> str | None:
        return self.inner.export_state()

    def import_state(self, state: str | None) -> None:
        self.inner.import_state(state)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> object:
        # Store-specific extras (Graph's delta link, ...) stay reachable through the guard.
        return getattr(self.inner, name)
