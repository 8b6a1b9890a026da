"""A small in-memory stand-in for PersonsDB (the contract in persons/repo.py), for the engine's
unit tests; the end-to-end tests use the real PersonsDB on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace

from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import StaticPool

from personsync.errors import ConflictError, PersonNotFound, PersonsyncError
from personsync.model import Person, Record, Value


class FakePersonsDB:
    new_version = "1"  # as the real one: a new Person's version is known; writes move it on

    def __init__(self) -> None:
        self.engine = create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
        # The sync tables (a real database has them from its migrations; a run never makes
        # them).
        from personsync.sync.tables import metadata

        metadata.create_all(self.engine)
        self.rows: dict[int, Person] = {}
        self._ids = itertools.count(1)
        self._versions = itertools.count(2)
        # view name → which Person ids it holds (the real filter language is the Persons' job)
        self.views: dict[str, Callable[[Person], bool]] = {}

    def _stamp(self, p: Person) -> Person:
        return replace(p, version=str(next(self._versions)))

    def get(self, person_id: int) -> Person:
        if person_id not in self.rows:
            raise PersonNotFound(f"no Person {person_id}")
        return self.rows[person_id]

    def get_many(self, ids: Iterable[int], *, times: bool = True) -> dict[int, Person]:
        return {i: self.rows[i] for i in ids if i in self.rows}

    def _in(self, view: str | None) -> list[Person]:
        keep = self.views.get(view or "", lambda p: True)
        return [p for p in sorted(self.rows.values(), key=lambda p: p.id) if keep(p)]

    def iter_persons(self, view: str | None = None, *, times: bool = True) -> Iterator[Person]:
        return iter(self._in(view))

    def versions(self, view: str | None = None) -> dict[int, str]:
        return {p.id: p.version for p in self._in(view)}

    def count(self, view: str | None = None) -> int:
        return len(self.rows)

    def add(self, record: Record, *, contact_manager_id: str | None = None) -> Person:
        p = Person(next(self._ids), record, self.new_version, contact_manager_id=contact_manager_id)
        self.rows[p.id] = p
        return p

    def add_many(
        self,
        records: Sequence[Record],
        *,
        contact_manager_ids: Sequence[str | None] | None = None,
        conn: object = None,
    ) -> list[int]:
        links = contact_manager_ids or [None] * len(records)
        return [self.add(r, contact_manager_id=c).id for r, c in zip(records, links, strict=True)]

    def update(
        self, person_id: int, changes: Mapping[str, Value], *, expected_version: str | None = None
    ) -> Person:
        p = self.get(person_id)
        if expected_version is not None and expected_version != p.version:
            raise ConflictError(f"Person {person_id} changed")
        p = self._stamp(replace(p, record=p.record.replace(changes)))
        self.rows[person_id] = p
        return p

    def update_checked(
        self, updates: Sequence[tuple[int, Mapping[str, Value], str]], *, conn: object = None
    ) -> list[str | PersonsyncError]:
        out: list[str | PersonsyncError] = []
        for pid, changes, expected in updates:
            try:
                out.append(self.update(pid, changes, expected_version=expected).version)
            except PersonsyncError as exc:
                out.append(exc)
        return out

    def transaction(self) -> AbstractContextManager[Connection]:
        return self.engine.begin()

    def delete(self, person_id: int) -> None:
        self.get(person_id)
        del self.rows[person_id]

    def delete_unchanged(
        self, wanted: Sequence[tuple[int, str]], *, conn: object = None
    ) -> list[Person]:
        gone = [
            self.rows[pid] for pid, v in wanted if pid in self.rows and self.rows[pid].version == v
        ]
        for p in gone:
            del self.rows[p.id]
        return gone

    def set_contact_manager_id(self, person_id: int, item_id: str | None) -> None:
        self.rows[person_id] = replace(self.get(person_id), contact_manager_id=item_id)

    def set_contact_manager_ids(
        self, pairs: Sequence[tuple[int, str | None]], *, conn: object = None
    ) -> None:
        for person_id, item_id in pairs:
            if person_id in self.rows:
                self.set_contact_manager_id(person_id, item_id)


def records(n: int, seed: int) -> list[Record]:
    """Distinct, varied records (names with accents, phones in several styles, multi-line
    streets, dates, categories) for the engine's tests, independent of the sample generator."""
    import random
    from datetime import date

    rnd = random.Random(seed)
    first = ["Ann", "Björn", "Chloé", "Dmitri", "Eve", "Fatima", "Grace", "Hiro"]
    last = ["Lee", "Müller", "O'Brien", "Nguyen", "Smith", "García", "Kowalski", "Ōta"]
    out = []
    for i in range(n):
        f, la = rnd.choice(first), rnd.choice(last)
        out.append(
            Record(
                first_name=f,
                last_name=f"{la}{i}",
                company=rnd.choice(["Acme", "Beta GmbH", ""]),
                job_title=rnd.choice(["CEO", "Engineer", ""]),
                email1=f"{f.lower()}.{i}@example.org",
                business_phone=rnd.choice(["+1 212 555 0100", "(646) 555-0199", ""]),
                mobile_phone=f"+44 7700 900{i % 1000:03d}",
                business_street=rnd.choice(["1 Main St", "2 High St\nFloor 3", ""]),
                business_city=rnd.choice(["Berlin", "New York", ""]),
                birthday=rnd.choice([None, date(1980, 1 + i % 12, 1 + i % 28)]),
                notes=rnd.choice(["", "met at the fair", "two\nlines"]),
                categories=rnd.choice([(), ("VIP",), ("Customer", "Berlin")]),
            )
        )
    return out
