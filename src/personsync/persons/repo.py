"""The Persons database as the rest of personsync sees it.

CONTRACT (agreed between the Persons and the sync work; bodies are being written): the sync engine,
the CLI and the web layer use only this class. Bulk paths are set-based (SQLAlchemy Core), never
one ORM object at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from personsync.model import Person, Record, Value


@dataclass(frozen=True, slots=True)
class View:
    name: str
    filter: str  # the filter language text ("" matches every Person)
    sort: str  # e.g. "last_name, first_name desc" ("" = by id)
    builtin: bool = False


ALL_PERSONS = "All Persons"


class PersonsDB:
    """One Persons database. `url` None → $PERSONSYNC_DB → ./personsync.db (SQLite).

    A plain path is a SQLite file; anything with `://` is a SQLAlchemy URL. Migrations are applied
    on first use unless `migrate=False` (then an outdated schema is an error saying to run
    `personsync db upgrade`).
    """

    url: str
    engine: Engine

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # --- reading ---------------------------------------------------------------------------------
    def get(self, person_id: int) -> Person:
        """PersonNotFound when there is none."""
        raise NotImplementedError

    def get_many(self, ids: Iterable[int]) -> dict[int, Person]:
        raise NotImplementedError

    def iter_persons(self, view: str | None = None) -> Iterator[Person]:
        """Every Person of a view (None = All Persons), in the view's order, streamed."""
        raise NotImplementedError

    def versions(self, view: str | None = None) -> dict[int, str]:
        """id → change marker for a view's Persons, from one indexed query without full rows."""
        raise NotImplementedError

    def count(self, view: str | None = None) -> int:
        raise NotImplementedError

    def find_by_email(self, email: str) -> list[Person]:
        """Persons with this address in any e-mail field, compared case-insensitively."""
        raise NotImplementedError

    # --- writing (each bumps the Person's version and updated_at) --------------------------------
    def add(self, record: Record, *, contact_manager_id: str | None = None) -> Person:
        raise NotImplementedError

    def add_many(self, records: Sequence[Record]) -> list[int]:
        """Set-based insert; returns the new ids in the order of `records`."""
        raise NotImplementedError

    def update(
        self,
        person_id: int,
        changes: Mapping[str, Value],
        *,
        expected_version: str | None = None,
    ) -> Person:
        """Change some fields. ConflictError if `expected_version` is given and no longer current;
        PersonNotFound if the Person is gone. A change that changes nothing bumps nothing."""
        raise NotImplementedError

    def update_many(self, updates: Sequence[tuple[int, Mapping[str, Value]]]) -> None:
        """Set-based update of many Persons (rows whose values do not change are not rewritten)."""
        raise NotImplementedError

    def delete(self, person_id: int) -> None:
        raise NotImplementedError

    def restore(self, person: Person) -> Person:
        """Put a Person back exactly as given (same id, fields, contact_manager_id), re-creating
        it if it was deleted: what undo needs. Bumps the version."""
        raise NotImplementedError

    def set_contact_manager_id(self, person_id: int, item_id: str | None) -> None:
        """The hidden link. Not a mapped field: does not bump the version."""
        raise NotImplementedError

    # --- views -----------------------------------------------------------------------------------
    def views(self) -> list[View]:
        raise NotImplementedError

    def get_view(self, name: str) -> View:
        """ViewError naming the known views when there is none."""
        raise NotImplementedError

    def create_view(self, name: str, filter: str, sort: str = "", *, replace: bool = False) -> View:
        """Validates the filter and sort (FilterSyntaxError with the position) before saving."""
        raise NotImplementedError

    def delete_view(self, name: str) -> None:
        raise NotImplementedError
