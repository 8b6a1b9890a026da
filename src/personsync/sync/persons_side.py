"""The Persons side of a sync, as the engine uses it (issue 12 §1: the engine sees two typed
sides, never a database handle typed `Any`).

`PersonsDB` (SQLite and PostgreSQL alike: one class, the dialect is its engine's) is the one
implementation; the engine's unit tests stand a small in-memory one in for it
(tests/sync/sync_fakes.py). The contact side is `stores.base.ContactStore`.

The side keeps its `engine`: the sync state (links, journal, runs, leases) lives in tables of
the same database, so that a Person's write and its journal entry and link commit together.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection, Engine

from personsync.errors import PersonsyncError
from personsync.model import Person, Record, Value

if TYPE_CHECKING:  # the CLI's start-up need not load the Persons' module for a type
    from personsync.persons.repo import View


class PersonsSide(Protocol):
    """What the sync engine reads and writes of the Persons (see `PersonsDB` for each)."""

    engine: Engine
    # Every new Person's version: an importer knows it without reading the Persons back.
    new_version: str

    # --- reading ---------------------------------------------------------------------------------
    def get(self, person_id: int) -> Person: ...

    def get_many(self, ids: Iterable[int], *, times: bool = True) -> dict[int, Person]: ...

    def iter_persons(self, view: str | None = None, *, times: bool = True) -> Iterator[Person]: ...

    def versions(self, view: str | None = None) -> dict[int, str]: ...

    def count(self, view: str | None = None) -> int: ...

    def in_view(self, ids: Sequence[int], view: str | None, *, conn: Connection) -> set[int]: ...

    def get_view(self, name: str) -> View: ...

    def change_mark(self) -> str: ...

    # --- writing ---------------------------------------------------------------------------------
    def transaction(self) -> AbstractContextManager[Connection]: ...

    def add_many(
        self,
        records: Sequence[Record],
        *,
        contact_manager_ids: Sequence[str | None] | None = None,
        conn: Connection | None = None,
    ) -> list[int]: ...

    def update(
        self,
        person_id: int,
        changes: Mapping[str, Value],
        *,
        expected_version: str | None = None,
    ) -> Person: ...

    def update_checked(
        self,
        updates: Sequence[tuple[int, Mapping[str, Value], str]],
        *,
        conn: Connection | None = None,
    ) -> list[str | PersonsyncError]: ...

    def delete(self, person_id: int) -> None: ...

    def delete_unchanged(
        self, wanted: Sequence[tuple[int, str]], *, conn: Connection | None = None
    ) -> list[Person]: ...

    def restore(self, person: Person) -> Person: ...

    def set_contact_manager_id(self, person_id: int, item_id: str | None) -> None: ...

    def set_contact_manager_ids(
        self, pairs: Sequence[tuple[int, str | None]], *, conn: Connection | None = None
    ) -> None: ...
