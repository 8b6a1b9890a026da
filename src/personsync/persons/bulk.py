"""The bulk insert path of `PersonsDB.add_many`: 100,000 Persons in a few seconds.

SQLAlchemy's per-row parameter processing costs more than the database itself at this size, so
rows go to the driver as plain tuples: SQLite through the driver's executemany of the compiled
INSERT, PostgreSQL through COPY (recipes.md: about twice as fast as executemany). The SQL text
still comes from the Table (compiled, or psycopg's sql.Identifier); values are never spliced in.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Delete,
    Dialect,
    Insert,
    Integer,
    Select,
    Update,
    bindparam,
    func,
    insert,
    select,
    text,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from personsync.fields import FIELD_NAMES, FIELDS
from personsync.model import Record
from personsync.persons.pg_bulk import copy_mappings, copy_rows
from personsync.persons.rows import record_values
from personsync.persons.schema import FIRST_VERSION, persons

STAMPS = ("contact_manager_id", "created_at", "updated_at", "row_version")
DATE_FIELDS = tuple(f.name for f in FIELDS if f.kind == "date")
_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('persons', 'id')) FROM generate_series(1, :n)"
)


def insert_records(
    conn: Connection,
    records: Sequence[Record],
    now: datetime,
    contact_manager_ids: Sequence[str | None] | None = None,
) -> list[int]:
    """Insert in the caller's transaction; the new ids, in the order of `records`.
    `contact_manager_ids`: each new Person's hidden link (None: none)."""
    if not records:
        return []
    links = contact_manager_ids or [None] * len(records)
    if len(links) != len(records):
        raise ValueError("one contact_manager_id per record")
    if conn.dialect.name == "postgresql":
        return _copy(conn, records, now, links)
    if conn.dialect.name == "sqlite":
        return _sqlite(conn, records, now, links)
    stamps = {"created_at": now, "updated_at": now, "row_version": FIRST_VERSION}
    rows = [
        {**dict(zip(FIELD_NAMES, record_values(r), strict=True)), **stamps, "contact_manager_id": c}
        for r, c in zip(records, links, strict=True)
    ]
    result = conn.execute(
        insert(persons).returning(persons.c.id, sort_by_parameter_order=True), rows
    )
    return [int(i) for i in result.scalars()]


def _sqlite(
    conn: Connection, records: Sequence[Record], now: datetime, links: Sequence[str | None]
) -> list[int]:
    sql, reorder, dates, stamp = _sqlite_insert(conn.dialect)
    now_text = stamp(now) if stamp else now
    # A row is made as (*the record's values, *STAMPS) and put in the statement's order by one
    # itemgetter (C): a dict per row cost half a second of an import of 100,000.
    params: list[tuple[Any, ...]] = []
    for record, link in zip(records, links, strict=True):
        values = record_values(record)
        for i, proc in dates:
            if values[i] is not None:
                values[i] = proc(values[i])
        params.append(reorder((*values, link, now_text, now_text, FIRST_VERSION)))
    conn.exec_driver_sql(sql, params)
    # Under BEGIN IMMEDIATE this is the only writer and AUTOINCREMENT hands out max+1: the ids
    # are consecutive and end at the largest.
    last = int(conn.execute(select(func.max(persons.c.id))).scalar_one())
    return list(range(last - len(records) + 1, last + 1))


@functools.lru_cache(maxsize=8)
def _sqlite_insert(
    dialect: Dialect,
) -> tuple[str, Callable[[Sequence[Any]], tuple[Any, ...]], list[tuple[int, Any]], Any]:
    """`_sqlite`'s INSERT, once per database (compiling it took 1.5 ms, once per chunk of an
    import): its SQL, the itemgetter that puts (*fields, *STAMPS) in its order, the date
    fields' converters by position, and the timestamps' converter."""
    columns = [*FIELD_NAMES, *STAMPS]
    compiled = insert(persons).compile(dialect=dialect, column_keys=columns)
    order = compiled.positiontup or []
    # SQLite stores dates and timestamps as text in SQLAlchemy's format: use its converters.
    convert = {
        name: persons.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in (*DATE_FIELDS, "created_at", "updated_at")
    }
    dates = []
    for i, name in enumerate(FIELD_NAMES):
        process = convert.get(name)
        if process is not None:
            dates.append((i, process))
    reorder = operator.itemgetter(*(columns.index(name) for name in order))
    return str(compiled), reorder, dates, convert["created_at"]


def _copy(
    conn: Connection, records: Sequence[Record], now: datetime, links: Sequence[str | None]
) -> list[int]:
    # Ids from the sequence up front: COPY returns nothing, and RETURNING in parameter order
    # would make SQLAlchemy insert one row at a time.
    ids = sorted(int(i) for i in conn.execute(_NEXT_IDS, {"n": len(records)}).scalars())
    rows = (
        (new_id, *record_values(record), link, now, now, FIRST_VERSION)
        for new_id, record, link in zip(ids, records, links, strict=True)
    )
    copy_rows(conn, "persons", ["id", *FIELD_NAMES, *STAMPS], rows)
    return ids


def executemany(
    conn: Connection, statement: Insert | Update | Delete, rows: Sequence[Mapping[str, Any]]
) -> None:
    """`conn.execute(statement, rows)` for the sync engine's bulk writes, faster on SQLite.

    SQLAlchemy builds and converts every row's parameters in Python (for 100,000 journal and
    link rows per run that was more time than SQLite's own work), so on SQLite the statement is
    compiled once and the driver gets plain tuples, converted by the same bind processors
    SQLAlchemy would use (timestamps become its text format). Every row must carry the same
    keys, and every column the statement needs: Python-side column defaults are not applied
    on this path. On PostgreSQL a plain `table.insert()` goes as one COPY (the same rules);
    other statements and databases get the plain call.
    A statement made once (a module's constant) is compiled once per database for all the
    chunks of a run (`_compiled`): compiling took a millisecond, five times per chunk."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        if conn.dialect.name == "postgresql" and _plain_insert(statement):
            # One COPY, not a statement per row (`pg_bulk`).
            copy_mappings(conn, statement.table, rows)  # type: ignore[arg-type]
            return
        conn.execute(statement, list(rows))
        return
    sql, pick, convert = _compiled(statement, tuple(rows[0]), conn.dialect)
    params: list[tuple[Any, ...]] = []
    # The last value converted at each position, and what it became: a chunk's rows share
    # one timestamp object (the sync engine's links), converted once.
    last: list[tuple[Any, Any]] = [(None, None)] * len(convert)
    for row in rows:
        values = pick(row)
        if convert:
            listed = list(values)
            for i, (position, process) in enumerate(convert):
                value = listed[position]
                if value is None:
                    continue
                seen, made = last[i]
                if value is not seen:
                    made = process(value)
                    last[i] = (value, made)
                listed[position] = made
            values = tuple(listed)
        params.append(values)
    conn.exec_driver_sql(sql, params)


@functools.lru_cache(maxsize=128)
def _plain_insert(statement: Insert | Update | Delete) -> bool:
    """`statement` is `table.insert()` as made (no values, no RETURNING): a COPY does the same."""
    return isinstance(statement, Insert) and statement.compare(statement.table.insert())


@functools.lru_cache(maxsize=128)
def _compiled(
    statement: Insert | Update | Delete, keys: tuple[str, ...], dialect: Dialect
) -> tuple[str, Callable[[Mapping[str, Any]], tuple[Any, ...]], list[tuple[int, Any]]]:
    """`executemany`'s SQL for rows with these keys, the function that picks a row's values in
    the statement's order, and the bind processors by position. (A statement made anew per call
    is compiled anew: the cache holds it by identity.)"""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    order = compiled.positiontup or []
    convert = []
    for position, name in enumerate(order):
        bind = compiled.binds[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            convert.append((position, process))
    # An Update's SET keys are bound under their column names; its WHERE under bindparam names:
    # both are the row's keys, which compile(column_keys=...) turned into positions.
    names = [compiled.binds[name].key for name in order]
    if len(names) == 1:
        only = names[0]
        return str(compiled), lambda row: (row[only],), convert
    return str(compiled), operator.itemgetter(*names), convert  # in C


def plain_rows(conn: Connection, query: Select[Any]) -> list[tuple[Any, ...]]:
    """Every row of `query` as the driver's own tuples. Only for columns SQLAlchemy passes
    through unconverted (integers, text): the rows of a no-op run's two 100,000-row reads
    (versions, links) cost more as SQLAlchemy Rows (0.1 s each) than the queries themselves."""
    result = conn.execute(query)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def each_by_key(query: Select[Any], key: ColumnElement[int]) -> Select[Any]:
    """`query`'s row for each integer of the bind parameter `keys` (a list), on PostgreSQL, as
    one look-up per key: `unnest(:keys)` joined to `query` narrowed to `key = k` in a LATERAL
    subquery. `key` (with `query`'s own conditions) must name a whole unique key.

    Why not `key IN (:keys)`: PostgreSQL plans that list from the table's statistics, and a
    table filled during a run has none (autovacuum off, or not yet run). For a key that is not
    unique alone (a link's Person, unique per folder) it took each id for 1/200 of the table,
    so the list for all of it, and scanned every row of the folder per chunk; for a prepared
    statement (psycopg prepares a query sent five times) it may keep a scan planned while the
    table was empty. A look-up per key in a LATERAL subquery with a LIMIT (which keeps it from
    being flattened into a join, which again could be planned as a scan) is planned as a nested
    loop of index look-ups in every case (tests/sync/test_sync_link_plans.py EXPLAINs it).
    The rows come in the order of `keys`."""
    # Imported here: only PostgreSQL runs need it, and loading the dialect costs every command
    # 0.05 s of start-up (a no-op export of 100,000 is about 1 s in all).
    from sqlalchemy.dialects.postgresql import ARRAY

    wanted = (
        func.unnest(bindparam("keys", type_=ARRAY(Integer))).table_valued("k").render_derived("w")
    )
    one = query.where(key == wanted.c.k).limit(1).lateral("one")
    return select(*one.c).select_from(wanted).join(one, true())
