"""The links between Persons and contacts, one per (Person, contact folder).

Two halves make a link: the contact carries the Person's id in its Customer ID, and the engine
keeps a `sync_links` row (Person, folder, item id, versions, baseline). The Person's own
`contact_manager_id` mirrors the **most recently made link** (the last export or import that
linked or re-linked the Person to a contact, in whatever folder): it is what the seed data and
older tools read, while the link table is what the engine decides from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, bindparam, delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from personsync.errors import DatabaseError
from personsync.model import Record
from personsync.persons.bulk import each_by_key, executemany, plain_rows
from personsync.sync import pg_writes
from personsync.sync.tables import sync_folder_state, sync_ignored, sync_links, sync_quiet
from personsync.sync.values import loads, record_from_dict, record_json

CHUNK = 2000

# Link writes name one row by its whole unique key ((folder, item id) or (Person, folder)). Why: a
# database plans `folder = ? AND item_id IN (500 ids)` from the table's statistics, and
# PostgreSQL has none for a table that grew from empty during the run (autovacuum off, or not
# yet run): it then scanned every link of the folder for each chunk, and a full export of
# 100,000 took 9.5 times as long as on SQLite. Equality on every column of a unique index is
# planned as one index look-up whatever the statistics say. SQLite: one statement per row, sent
# together (`executemany`). PostgreSQL: one statement per chunk, each key looked up on its own
# inside it (`pg_writes`; tests/sync/test_sync_link_plans.py EXPLAINs them).
_BY_ITEM = (sync_links.c.folder == bindparam("f")) & (sync_links.c.item_id == bindparam("i"))
_BY_PERSON = (sync_links.c.folder == bindparam("f")) & (sync_links.c.person_id == bindparam("p"))
# The writes, made once (`executemany` compiles a statement once per database).
# SQLite: the insert replaces any link it conflicts with (see `Links.save`).
_REPLACE = sync_links.insert().prefix_with("OR REPLACE", dialect="sqlite")
_DELETE_BY_ITEM = delete(sync_links).where(_BY_ITEM)
_SET_ITEM_VERSION = update(sync_links).where(_BY_ITEM).values(item_version=bindparam("v"))
_SET_VERSIONS = (
    update(sync_links)
    .where(_BY_PERSON)
    .values(item_version=bindparam("iv"), person_version=bindparam("pv"))
)
_SET_VERSIONS_BY_ITEM = (
    update(sync_links)
    .where(_BY_ITEM)
    .values(item_version=bindparam("iv"), person_version=bindparam("pv"))
)


class LinkRow(NamedTuple):
    """A link as a no-op run needs it (a tuple: 100,000 of them are built per run)."""

    person_id: int
    item_id: str
    item_version: str
    person_version: str


def normalise_folder(url: str) -> str:
    """One spelling per folder, so `vcf:./out/` and `vcf:out` share their links."""
    import os

    scheme, _, rest = url.partition(":")
    if scheme in {"vcf", "vcf-file", "csv"} and rest:
        rest = os.path.normpath(os.path.abspath(rest))
    return f"{scheme}:{rest}"


def now() -> datetime:
    return datetime.now(UTC)


def end_quiet(conn: Connection, folder: str) -> None:
    """End the folder's record of a quiet run (`sync/quiet.py`), in the caller's transaction:
    every write to the folder's links or to its contacts left alone calls it, so that the next
    run reads both sides again."""
    conn.execute(delete(sync_quiet).where(sync_quiet.c.folder == folder))


class Links:
    """Reads and writes `sync_links` for one folder."""

    def __init__(self, engine: Engine, folder: str) -> None:
        self.engine = engine
        self.folder = normalise_folder(folder)

    def load(self) -> dict[int, LinkRow]:
        """person id → link, without the baselines (a no-op run needs only the versions)."""
        t = sync_links
        query = select(t.c.person_id, t.c.item_id, t.c.item_version, t.c.person_version).where(
            t.c.folder == self.folder
        )
        try:
            with self.engine.connect() as conn:
                # The driver's tuples in one call: iterating the Result fetched 100,000 rows one
                # by one, and .all() made a Row of each.
                return {row[0]: LinkRow._make(row) for row in plain_rows(conn, query)}
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot read the links of {self.folder}") from exc

    def baselines(self, person_ids: Iterable[int]) -> dict[int, Record]:
        """person id → its link's baseline, for these Persons (links without one are left out:
        their pairs are planned as on a first sync)."""
        t = sync_links
        wanted = sorted(set(person_ids))
        out: dict[int, Record] = {}
        query = select(t.c.person_id, t.c.baseline).where(t.c.folder == self.folder)
        try:
            with self.engine.connect() as conn:
                # PostgreSQL: a look-up per Person (see `each_by_key`); SQLite plans the list
                # as look-ups in the unique index without statistics, and has no LATERAL.
                keyed = conn.dialect.name == "postgresql"
                for start in range(0, len(wanted), CHUNK):
                    part = wanted[start : start + CHUNK]
                    chunk = (
                        conn.execute(each_by_key(query, t.c.person_id), {"keys": part})
                        if keyed
                        else conn.execute(query.where(t.c.person_id.in_(part)))
                    )
                    for pid, text in chunk.all():
                        data = loads(text)
                        if data:
                            out[pid] = record_from_dict(data)
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot read the links of {self.folder}") from exc
        return out

    def owner(self, item_id: str) -> int | None:
        """The Person the contact `item_id` is linked to in this folder, if any."""
        t = sync_links
        query = select(t.c.person_id).where(t.c.folder == self.folder, t.c.item_id == item_id)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def linked_elsewhere(self, item_ids: Sequence[str]) -> set[str]:
        """Of these items, those linked in another folder (the Person's contact there)."""
        t = sync_links
        wanted = sorted(set(item_ids))
        out: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), CHUNK):
                query = select(t.c.item_id).where(
                    t.c.folder != self.folder, t.c.item_id.in_(wanted[start : start + CHUNK])
                )
                out.update(row[0] for row in conn.execute(query).all())
        return out

    @staticmethod
    def save(conn: Connection, folder: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Upsert links (keys: person_id, item_id, item_version, person_version, baseline,
        synced_at) inside the caller's transaction. A link replaces any older link of the same
        Person or the same item in this folder: both are unique per folder."""
        if not rows:
            return
        end_quiet(conn, folder)
        if conn.dialect.name == "postgresql":
            pg_writes.save_links(conn, folder, rows)  # one delete and one COPY per chunk
            return
        # One statement per row: SQLite's REPLACE deletes the rows that conflict with the
        # new one on either unique key, (folder, item id) or (Person, folder), and inserts
        # it: what the delete of both keys and the insert did, without the delete's two
        # look-ups per row (the insert makes them anyway to check both keys). Nothing
        # depends on a link row's deletion (no foreign key, no trigger), every column is
        # given (REPLACE would put a column's default in for a NULL), and no one reads
        # the row's `id` (a replaced row may get a new one).
        executemany(conn, _REPLACE, [{**r, "folder": folder} for r in rows])

    @staticmethod
    def set_item_versions(
        conn: Connection, folder: str, versions: Sequence[tuple[str, str]]
    ) -> None:
        """(item id, version) of items written since their link was saved (an imported
        contact's Customer ID), inside the caller's transaction."""
        if not versions:
            return
        end_quiet(conn, folder)
        if conn.dialect.name == "postgresql":
            pg_writes.set_item_versions(conn, folder, versions)
            return
        executemany(conn, _SET_ITEM_VERSION, [{"f": folder, "i": i, "v": v} for i, v in versions])

    @staticmethod
    def set_versions(conn: Connection, folder: str, rows: Sequence[tuple[int, str, str]]) -> None:
        """(person id, item version, person version) of existing links, in the caller's
        transaction."""
        if not rows:
            return
        end_quiet(conn, folder)
        if conn.dialect.name == "postgresql":
            pg_writes.set_versions(conn, folder, rows)
            return
        params = [{"f": folder, "p": p, "iv": iv, "pv": pv} for p, iv, pv in rows]
        executemany(conn, _SET_VERSIONS, params)

    @staticmethod
    def forget(conn: Connection, folder: str, item_ids: Sequence[str]) -> None:
        end_quiet(conn, folder)
        if conn.dialect.name == "postgresql":
            pg_writes.forget(conn, folder, item_ids)
            return
        executemany(conn, _DELETE_BY_ITEM, [{"f": folder, "i": i} for i in item_ids])

    @staticmethod
    def mark_stale(conn: Connection, folder: str, item_ids: Sequence[str]) -> None:
        """Make the next run re-read these pairs instead of trusting their versions."""
        end_quiet(conn, folder)
        if conn.dialect.name == "postgresql":
            pg_writes.mark_stale(conn, folder, item_ids)
            return
        rows = [{"f": folder, "i": i, "iv": "", "pv": ""} for i in item_ids]
        executemany(conn, _SET_VERSIONS_BY_ITEM, rows)

    @staticmethod
    def restore_agreed(
        conn: Connection, folder: str, item_id: str, agreed: Mapping[str, Any]
    ) -> None:
        """Give the link of `item_id` back the baseline values of the fields in `agreed` (an
        undone write that settled a conflict: the journal's `agreed`), the others as they
        are. Rare (one per undone conflict write), so plainly: read, change, write."""
        t = sync_links
        key = (t.c.folder == folder) & (t.c.item_id == item_id)
        text = conn.execute(select(t.c.baseline).where(key)).scalar()
        if text is None:
            return  # no link any more, or none with a baseline: nothing to give back
        values = {**(loads(text) or {}), **agreed}
        conn.execute(update(t).where(key).values(baseline=record_json(record_from_dict(values))))


def ignored(engine: Engine, folder: str) -> set[str]:
    """The contacts of `folder` a person chose to leave alone (`unlink --ignore`)."""
    t = sync_ignored
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.item_id).where(t.c.folder == normalise_folder(folder)))
        return {row[0] for row in rows}


def set_ignored(
    engine: Engine, folder: str, item_id: str, ignore: bool, *, conn: Connection | None = None
) -> bool:
    """Mark (or unmark) one contact as left alone, in `conn`'s transaction if given; True when
    that changed anything."""
    if conn is None:
        with engine.begin() as own:
            return set_ignored(engine, folder, item_id, ignore, conn=own)
    t, key = sync_ignored, normalise_folder(folder)
    end_quiet(conn, key)
    gone = conn.execute(delete(t).where(t.c.folder == key, t.c.item_id == item_id))
    if ignore:
        conn.execute(t.insert().values(folder=key, item_id=item_id, decided_at=now()))
    return ignore or bool(gone.rowcount)


def load_state(engine: Engine, folder: str) -> str | None:
    t = sync_folder_state
    with engine.connect() as conn:
        row = conn.execute(select(t.c.state).where(t.c.folder == normalise_folder(folder))).first()
    return None if row is None else row[0]


def save_state(engine: Engine, folder: str, state: str | None) -> None:
    t = sync_folder_state
    key = normalise_folder(folder)
    with engine.begin() as conn:
        conn.execute(delete(t).where(t.c.folder == key))
        conn.execute(t.insert().values(folder=key, state=state, saved_at=now()))
