"""The Persons database as the rest of personsync sees it.

CONTRACT (agreed between the Persons and the sync work; bodies are being written): the sync engine,
the CLI and the web layer use only this class. Bulk paths are set-based (SQLAlchemy Core), never
one ORM object at a time.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Select,
    bindparam,
    cast,
    delete,
    func,
    insert,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from personsync.errors import (
    ConflictError,
    PersonNotFound,
    PersonsyncError,
    ValueRefused,
    ViewError,
)
from personsync.fields import FIELD_NAMES, FIELDS
from personsync.model import Person, Record, Value
from personsync.persons import ALL_PERSONS as ALL_PERSONS  # the name callers know
from personsync.persons import migrate as _migrate
from personsync.persons import pg_bulk
from personsync.persons.bulk import each_by_key, executemany, insert_records, plain_rows
from personsync.persons.connect import IMMEDIATE, make_engine, resolve_url
from personsync.persons.filters import compile_filter, compile_sort
from personsync.persons.rows import change_row, record_row, row_person
from personsync.persons.schema import FIRST_VERSION, persons, views

T = TypeVar("T")
CHUNK = 5_000  # rows per executemany batch of a bulk insert/update
IN_CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit


# Made once: `executemany` compiles a statement once per database (the sync engine sets the
# hidden links of every chunk of contacts it writes).
_SET_CONTACT_MANAGER_ID = (
    update(persons)
    .where(persons.c.id == bindparam("pid"))
    .values(contact_manager_id=bindparam("cmid"))
)


@dataclass(frozen=True, slots=True)
class View:
    name: str
    filter: str  # the filter language text ("" matches every Person)
    sort: str  # e.g. "last_name, first_name desc" ("" = by id)
    builtin: bool = False


class PersonsDB:
    """One Persons database. `url` None → $PERSONSYNC_DB → ./personsync.db (SQLite).

    A plain path is a SQLite file; anything with `://` is a SQLAlchemy URL. Migrations are applied
    on first use unless `migrate=False` (then an outdated schema is an error saying to run
    `personsync db upgrade`).
    """

    url: str
    engine: Engine
    # The version every Person has when it is inserted (`add`, `add_many`): an importer knows
    # the versions of the Persons it has just made without reading them back.
    new_version = str(FIRST_VERSION)

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = resolve_url(url)
        self.engine = make_engine(self.url)
        try:
            _migrate.ensure_current(self.engine, migrate=migrate)
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> PersonsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self, within: Connection | None = None) -> Iterator[Connection]:
        """One write transaction; on SQLite it takes the write lock up front (BEGIN IMMEDIATE).
        `within`: the caller's transaction instead.

        A write the database refuses by a rule of its own (a CHECK or NOT NULL constraint, a
        trigger an administrator added, a value too long for its column) is `ValueRefused`, so
        the sync engine names the record and goes on with the others instead of ending the run
        on a foreign error."""
        try:
            if within is not None:
                yield within
                return
            with self.engine.connect() as conn:
                conn.execution_options(**{IMMEDIATE: True})
                with conn.begin():
                    yield conn
        except (IntegrityError, DataError) as exc:
            why = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
            raise ValueRefused(
                f"the Persons database refused the change: {why}",
                hint="the database has a rule of its own for this value (a constraint or "
                "trigger): correct the value on either side, or the rule",
            ) from exc

    def transaction(self) -> AbstractContextManager[Connection]:
        """One write transaction (on SQLite BEGIN IMMEDIATE), for a caller that commits its own
        rows with the Persons' (the sync engine: its journal and links)."""
        return self._write()

    # --- reading ---------------------------------------------------------------------------------
    def get(self, person_id: int) -> Person:
        """PersonNotFound when there is none."""
        with self.engine.connect() as conn:
            return self._get(conn, person_id)

    def _get(self, conn: Connection, person_id: int, *, lock: bool = False) -> Person:
        query = select(persons).where(persons.c.id == person_id)
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise PersonNotFound(
                f"no Person with ID {person_id}", hint="list them with: personsync persons list"
            )
        return row_person(row)

    def get_many(self, ids: Iterable[int], *, times: bool = True) -> dict[int, Person]:
        """id → Person for those that exist. `times=False` leaves created_at/updated_at None
        (the sync engine reads 100,000 Persons and needs neither: parsing them was a fifth of
        the read, and they were 10 % of the memory)."""
        with self.engine.connect() as conn:
            return self._get_many(conn, ids, times=times)

    def _get_many(
        self, conn: Connection, ids: Iterable[int], *, times: bool = True, lock: bool = False
    ) -> dict[int, Person]:
        """`lock`: FOR UPDATE, in id order (two writers locking the same Persons never wait
        for each other crosswise; SQLite locks the whole database anyway)."""
        out: dict[int, Person] = {}
        shared: dict[Any, Any] = {}
        query = _select_persons(times).with_for_update() if lock else _select_persons(times)
        # PostgreSQL: a look-up per id, whatever the statistics (see `each_by_key`); SQLite
        # plans the list as look-ups without them.
        keyed = each_by_key(query, persons.c.id) if conn.dialect.name == "postgresql" else None
        for chunk in _batched(sorted(set(ids)), IN_CHUNK):
            found = (
                conn.execute(keyed, {"keys": list(chunk)})
                if keyed is not None
                else conn.execute(query.where(persons.c.id.in_(chunk)))
            )
            for row in found:
                person = row_person(row, shared)
                out[person.id] = person
        return out

    def iter_persons(self, view: str | None = None, *, times: bool = True) -> Iterator[Person]:
        """Every Person of a view (None = All Persons), in the view's order, streamed.
        `times`: as for `get_many`."""
        return self.list_persons(view, times=times)

    def list_persons(
        self,
        view: str | None = None,
        *,
        limit: int | None = None,
        where: str = "",
        times: bool = True,
    ) -> Iterator[Person]:
        """Like `iter_persons`, optionally limited and narrowed by an extra filter."""
        query = self._view_query(_select_persons(times), view, where=where, ordered=True)
        if limit is not None:
            query = query.limit(limit)
        shared: dict[Any, Any] = {}
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=1_000).execute(query)
            for row in result:
                yield row_person(row, shared)

    def ordered_ids(self, view: str | None = None, *, where: str = "") -> list[int]:
        """The ids of a view's Persons (narrowed by `where`) in the view's order: the sort runs
        over ids and sort keys only, not whole rows (the web console pages through them)."""
        query = self._view_query(select(persons.c.id), view, where=where, ordered=True)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def change_marker(self) -> tuple[int, int, int]:
        """(how many, the largest id, the sum of versions) of all Persons, from index-only
        scans: it changes whenever a Person is added, deleted, or has a field changed (ids are
        never reused, every change bumps a version)."""
        query = select(
            func.count(),
            func.coalesce(func.max(persons.c.id), 0),
            func.coalesce(func.sum(persons.c.row_version), 0),
        )
        with self.engine.connect() as conn:
            count, top, versions = conn.execute(query).one()
        return int(count), int(top), int(versions)

    def change_mark(self) -> str:
        """A mark of the whole table for a run that reads nothing when nothing changed
        (`sync/quiet.py`): how many Persons, the largest id, the sum of versions and of id ×
        version (from the version index, which holds the id), and the latest `updated_at` (its
        own index). Any write of a Person changes it: an insert the count and largest id (ids
        are never reused), a delete the count, a change of a field its version (+1) and both
        sums, and every write the latest `updated_at` too."""
        by_version = select(
            func.count(),
            func.coalesce(func.max(persons.c.id), 0),
            func.coalesce(func.sum(persons.c.row_version), 0),
            func.coalesce(func.sum(cast(persons.c.id, BigInteger) * persons.c.row_version), 0),
        )
        latest = select(func.max(persons.c.updated_at))
        with self.engine.connect() as conn:
            counted = conn.execute(by_version).one()
            when = conn.execute(latest).scalar()
        return "-".join(str(int(n)) for n in counted) + f"-{when}"

    def versions(self, view: str | None = None) -> dict[int, str]:
        """id → change marker for a view's Persons, from one indexed query without full rows."""
        query = self._view_query(select(persons.c.id, persons.c.row_version), view)
        with self.engine.connect() as conn:
            # The driver's tuples in one call (`plain_rows`); iterating a Result fetches row by
            # row.
            rows = plain_rows(conn, query)
        # One string per distinct version, not one per Person: versions repeat (every Person
        # starts at 1, and most are edited a few times at most), and `str` makes a new string
        # each call: 100,000 of them were 5 MB of a first sync's peak.
        text: dict[int, str] = {}
        return {
            pid: text.get(version) or text.setdefault(version, str(version))
            for pid, version in rows
        }

    def in_view(self, ids: Sequence[int], view: str | None, *, conn: Connection) -> set[int]:
        """Those of `ids` that `view` takes, read in `conn`'s transaction (the sync engine asks
        of Persons it has just made, before they are committed). ViewError if it is gone."""
        query = self._view_query(select(persons.c.id), view).where(persons.c.id.in_(ids))
        return {int(pid) for pid in conn.execute(query).scalars()}

    def count(self, view: str | None = None, *, where: str = "") -> int:
        query = self._view_query(select(func.count()).select_from(persons), view, where=where)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def find_by_email(self, email: str) -> list[Person]:
        """Persons with this address in any e-mail field, compared case-insensitively."""
        wanted = email.strip().lower()
        if not wanted:
            return []
        cols = [persons.c[f.name] for f in FIELDS if f.kind == "email"]
        query = select(persons).where(or_(*(func.lower(c) == wanted for c in cols)))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(persons.c.id))
            return [row_person(row) for row in rows]

    def _view_query(
        self, query: Select[Any], view: str | None, *, where: str = "", ordered: bool = False
    ) -> Select[Any]:
        spec = self.get_view(view or ALL_PERSONS)
        conditions: list[ColumnElement[bool]] = [compile_filter(spec.filter)]
        if where:
            conditions.append(compile_filter(where))
        query = query.where(*conditions)
        return query.order_by(*compile_sort(spec.sort)) if ordered else query

    # --- writing (each bumps the Person's version and updated_at) --------------------------------
    def add(self, record: Record, *, contact_manager_id: str | None = None) -> Person:
        now = _now()
        row = {**record_row(record), "contact_manager_id": contact_manager_id}
        row.update(created_at=now, updated_at=now, row_version=FIRST_VERSION)
        with self._write() as conn:
            new_id = conn.execute(insert(persons).returning(persons.c.id), row).scalar_one()
            return self._get(conn, int(new_id))

    def add_many(
        self,
        records: Sequence[Record],
        *,
        contact_manager_ids: Sequence[str | None] | None = None,
        on_chunk: Callable[[int], None] | None = None,
        conn: Connection | None = None,
    ) -> list[int]:
        """Set-based insert; returns the new ids in the order of `records`.

        All or nothing: one transaction (`conn`'s when given: the sync engine journals and links
        the new Persons in it), executemany in chunks; `on_chunk(n)` reports progress.
        `contact_manager_ids`: each new Person's hidden link, written with it (None: none)."""
        now = _now()
        ids: list[int] = []
        links = list(contact_manager_ids) if contact_manager_ids is not None else None
        if links is not None and len(links) != len(records):
            raise ValueError("add_many: one contact_manager_id per record")
        with self._write(conn) as write:
            for start in range(0, len(records), CHUNK):
                chunk = records[start : start + CHUNK]
                part = links[start : start + CHUNK] if links is not None else None
                ids.extend(insert_records(write, chunk, now, part))
                if on_chunk is not None:
                    on_chunk(len(chunk))
        return ids

    def update(
        self,
        person_id: int,
        changes: Mapping[str, Value],
        *,
        expected_version: str | None = None,
    ) -> Person:
        """Change some fields. ConflictError if `expected_version` is given and no longer current;
        PersonNotFound if the Person is gone. A change that changes nothing bumps nothing."""
        typed = change_row(changes)
        with self._write() as conn:
            current = self._get(conn, person_id, lock=True)
            if expected_version is not None and expected_version != current.version:
                raise _changed_since(person_id, expected_version, current.version)
            new = _changed(current.record, typed)
            if new is None:
                return current
            conn.execute(_update_statement(), [_update_params(person_id, new, _now())])
            return self._get(conn, person_id)

    def update_checked(
        self,
        updates: Sequence[tuple[int, Mapping[str, Value], str]],
        *,
        conn: Connection | None = None,
    ) -> list[str | PersonsyncError]:
        """Many `update(person_id, changes, expected_version=version)` in one transaction
        (`conn`'s when given: the sync engine records their outcomes in it): per update, the
        Person's new version, or the error `update` would have raised (ConflictError,
        PersonNotFound, UsageError), which leaves that Person as it was; the others proceed.

        Why not `update` in a loop: a transaction per Person is a commit, so a disk flush, per
        Person on PostgreSQL; a two-way sync of 100,000 with 1,000 Persons to update spent most
        of its time there. The Persons are locked (in id order) by one read before any is
        written, so the versions computed here are the ones stored."""
        now = _now()
        out: list[str | PersonsyncError] = []
        params: list[dict[str, object]] = []
        with self._write(conn) as write:
            current = self._get_many(write, (u[0] for u in updates), times=False, lock=True)
            for pid, changes, expected in updates:
                person = current.get(pid)
                try:
                    if person is None:
                        raise PersonNotFound(f"no Person with ID {pid}")
                    if expected != person.version:
                        raise _changed_since(pid, expected, person.version)
                    new = _changed(person.record, change_row(changes))
                except PersonsyncError as exc:
                    out.append(exc)
                    continue
                if new is not None:
                    # Locked: the statement's `row_version + 1` is this.
                    person = replace(person, record=new, version=str(int(person.version) + 1))
                    current[pid] = person
                    params.append(_update_params(pid, new, now))
                out.append(person.version)
            _write_updates(write, params)
        return out

    def update_many(self, updates: Sequence[tuple[int, Mapping[str, Value]]]) -> None:
        """Set-based update of many Persons (rows whose values do not change are not rewritten)."""
        typed = [(pid, change_row(changes)) for pid, changes in updates]
        now = _now()
        with self._write() as conn:
            current = self._get_many(conn, (pid for pid, _ in typed))
            missing = sorted({pid for pid, _ in typed} - set(current))
            if missing:
                shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
                raise PersonNotFound(f"no Person with ID {shown}; nothing was changed")
            records = {pid: p.record for pid, p in current.items()}
            for pid, changes in typed:  # later updates of the same Person see earlier ones
                new = _changed(records[pid], changes)
                if new is not None:
                    records[pid] = new
            params = [
                _update_params(pid, rec, now)
                for pid, rec in records.items()
                if rec != current[pid].record
            ]
            _write_updates(conn, params)

    def delete(self, person_id: int) -> None:
        with self._write() as conn:
            gone = conn.execute(delete(persons).where(persons.c.id == person_id)).rowcount
        if not gone:
            raise PersonNotFound(f"no Person with ID {person_id}")

    def delete_unchanged(
        self, wanted: Sequence[tuple[int, str]], *, conn: Connection | None = None
    ) -> list[Person]:
        """Delete each (id, version) Person that still has that version, inside `conn`'s
        transaction when given (the sync engine journals the deletes in it); returns the Persons
        deleted, as they were. The others (changed or gone since) are left alone."""
        with self._write(conn) as write:
            current = self._get_many(write, (pid for pid, _ in wanted))
            gone: list[Person] = []
            for pid, version in wanted:
                found = current.get(pid)
                if found is None or found.version != version or not version.isdigit():
                    continue
                # The version in the condition too: a write between the read and here wins.
                done = write.execute(
                    delete(persons).where(
                        persons.c.id == pid, persons.c.row_version == int(version)
                    )
                ).rowcount
                if done:
                    gone.append(found)
        return gone

    def restore(self, person: Person) -> Person:
        """Put a Person back exactly as given (same id, fields, contact_manager_id), re-creating
        it if it was deleted: what undo needs. Bumps the version."""
        now = _now()
        row = {**record_row(person.record), "contact_manager_id": person.contact_manager_id}
        with self._write() as conn:
            found = conn.execute(
                select(persons.c.row_version).where(persons.c.id == person.id).with_for_update()
            ).scalar_one_or_none()
            given = int(person.version) if person.version.isdigit() else 0
            version = max(given, found or 0) + 1
            if found is None:
                # Re-created under its old id: ids come from a sequence / AUTOINCREMENT that has
                # already passed it, so it can never collide with a later new Person.
                conn.execute(
                    insert(persons),
                    {
                        **row,
                        "id": person.id,
                        "created_at": person.created_at or now,
                        "updated_at": now,
                        "row_version": version,
                    },
                )
            else:
                conn.execute(
                    update(persons)
                    .where(persons.c.id == person.id)
                    .values(**row, updated_at=now, row_version=version)
                )
            return self._get(conn, person.id)

    def set_contact_manager_id(self, person_id: int, item_id: str | None) -> None:
        """The hidden link. Not a mapped field: does not bump the version."""
        with self._write() as conn:
            found = conn.execute(
                update(persons).where(persons.c.id == person_id).values(contact_manager_id=item_id)
            ).rowcount
        if not found:
            raise PersonNotFound(f"no Person with ID {person_id}")

    def set_contact_manager_ids(
        self, pairs: Sequence[tuple[int, str | None]], *, conn: Connection | None = None
    ) -> None:
        """Many hidden links at once (one statement on PostgreSQL, one executemany on SQLite),
        inside `conn`'s transaction when given (the sync engine commits them with its link
        rows); Persons that are gone are ignored."""
        if not pairs:
            return
        with self._write(conn) as write:
            if write.dialect.name == "postgresql":
                pg_bulk.set_contact_manager_ids(write, pairs)  # one statement
                return
            executemany(write, _SET_CONTACT_MANAGER_ID, [{"pid": p, "cmid": i} for p, i in pairs])

    # --- views -----------------------------------------------------------------------------------
    def views(self) -> list[View]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(views).order_by(views.c.name)).mappings().all()
        return [_BUILTIN, *(View(r["name"], r["filter"], r["sort"]) for r in rows)]

    def get_view(self, name: str) -> View:
        """The view named `name`, matched without regard to case when no name is exactly it;
        ViewError with a "did you mean" and the known views when there is none."""
        if name == ALL_PERSONS:
            return _BUILTIN
        with self.engine.connect() as conn:
            row = conn.execute(select(views).where(views.c.name == name)).mappings().first()
        if row is not None:
            return View(row["name"], row["filter"], row["sort"])
        known = self.views()
        same = [v for v in known if v.name.casefold() == name.casefold()]
        if len(same) == 1:
            return same[0]
        names = [v.name for v in known]
        close = difflib.get_close_matches(name.casefold(), [n.casefold() for n in names], 1, 0.6)
        guess = next((n for n in names if close and n.casefold() == close[0]), "")
        hint = f"did you mean {guess!r}? " if guess else ""
        raise ViewError(
            f"no view named {name!r}",
            hint=hint + "known views: " + ", ".join(repr(n) for n in names),
        )

    def create_view(self, name: str, filter: str, sort: str = "", *, replace: bool = False) -> View:
        """Validates the filter and sort (FilterSyntaxError with the position) before saving."""
        name = name.strip()
        if not name:
            raise ViewError("a view needs a name")
        if name == ALL_PERSONS:
            raise ViewError(f"{ALL_PERSONS!r} is built in and cannot be changed")
        compile_filter(filter)
        compile_sort(sort)
        values = {"filter": filter, "sort": sort}
        with self._write() as conn:
            exists = conn.execute(
                select(views.c.name).where(views.c.name == name)
            ).scalar_one_or_none()
            if exists is not None and not replace:
                raise ViewError(
                    f"a view named {name!r} already exists",
                    hint="pass --replace to change it, or choose another name",
                )
            if exists is None:
                conn.execute(insert(views).values(name=name, created_at=_now(), **values))
            else:
                conn.execute(update(views).where(views.c.name == name).values(**values))
        return View(name, filter, sort)

    def delete_view(self, name: str) -> None:
        if name == ALL_PERSONS:
            raise ViewError(f"{ALL_PERSONS!r} is built in and cannot be deleted")
        with self._write() as conn:
            gone = conn.execute(delete(views).where(views.c.name == name)).rowcount
        if not gone:
            self.get_view(name)  # raises ViewError naming the known views


_BUILTIN = View(ALL_PERSONS, "", "", builtin=True)


def _select_persons(times: bool) -> Select[Any]:
    """All columns, in table order (`row_person` reads by position); without `times` the two
    timestamps are selected as NULL, so nothing else moves."""
    if times:
        return select(persons)
    untimed = {"created_at", "updated_at"}
    return select(*(null().label(c.name) if c.name in untimed else c for c in persons.columns))


def _batched(items: Iterable[T], size: int) -> Iterator[tuple[T, ...]]:
    # itertools.batched arrives in Python 3.12; we support 3.11.
    it = iter(items)
    while chunk := tuple(itertools.islice(it, size)):
        yield chunk


def _now() -> datetime:
    return datetime.now(UTC)


def _changed_since(person_id: int, expected: str, current: str) -> ConflictError:
    return ConflictError(
        f"Person {person_id} changed since it was read (version {expected}, now {current})",
        hint="read it again and repeat the change",
    )


def _changed(record: Record, changes: Mapping[str, Value]) -> Record | None:
    """The record with `changes` applied, or None when that changes no stored value."""
    real = {k: v for k, v in changes.items() if getattr(record, k) != v}
    return record.replace(real) if real else None


def _update_statement() -> Any:
    # One statement for every row (executemany): the whole mapped record is written, and the
    # guard on the id keeps it to that row. Unchanged rows never get here.
    return (
        update(persons)
        .where(persons.c.id == bindparam("p_id"))
        .values(
            **{name: bindparam(f"p_{name}") for name in FIELD_NAMES},
            updated_at=bindparam("p_updated_at"),
            row_version=persons.c.row_version + 1,
        )
    )


def _write_updates(conn: Connection, params: Sequence[dict[str, object]]) -> None:
    """Whole records of existing Persons (`_update_params`), in chunks: on PostgreSQL one
    statement per chunk (`pg_bulk.update_persons`: until 2026-12-06 a statement per Person,
    which the server planned each), elsewhere one executemany."""
    for chunk in _batched(params, CHUNK):
        # (A Person twice in a chunk, which no caller sends, goes row by row: one statement
        # would change it once, and the versions computed for it would be wrong.)
        if conn.dialect.name == "postgresql" and len({p["p_id"] for p in chunk}) == len(chunk):
            rows = [{k[2:]: v for k, v in p.items()} for p in chunk]
            pg_bulk.update_persons(conn, rows, chunk[0]["p_updated_at"])
        else:
            conn.execute(_update_statement(), list(chunk))


def _update_params(person_id: int, record: Record, now: datetime) -> dict[str, object]:
    params: dict[str, object] = {f"p_{k}": v for k, v in record_row(record).items()}
    params.update(p_id=person_id, p_updated_at=now)
    return params
