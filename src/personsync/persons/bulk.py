"""The bulk insert path of `PersonsDB.add_many`: 100,000 Persons in a few seconds.

SQLAlchemy's per-row parameter processing costs more than the database itself at this size, so
rows go to the driver as plain tuples: SQLite through the driver's executemany of the compiled
INSERT, PostgreSQL through COPY (recipes.md: about twice as fast as executemany). The SQL text
still comes from the Table (compiled, or psycopg's sql.Identifier); values are never spliced in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import sql
from sqlalchemy import Connection, func, insert, select, text

from personsync.fields import FIELD_NAMES, FIELDS
from personsync.model import Record
from personsync.persons.rows import record_values
from personsync.persons.schema import persons

STAMPS = ("created_at", "updated_at", "row_version")
DATE_FIELDS = tuple(f.name for f in FIELDS if f.kind == "date")
_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('persons', 'id')) FROM generate_series(1, :n)"
)


def insert_records(conn: Connection, records: Sequence[Record], now: datetime) -> list[int]:
    """Insert in the caller's transaction; the new ids, in the order of `records`."""
    if not records:
        return []
    if conn.dialect.name == "postgresql":
        return _copy(conn, records, now)
    if conn.dialect.name == "sqlite":
        return _sqlite(conn, records, now)
    stamps = {"created_at": now, "updated_at": now, "row_version": 1}
    rows = [{**dict(zip(FIELD_NAMES, record_values(r), strict=True)), **stamps} for r in records]
    result = conn.execute(
        insert(persons).returning(persons.c.id, sort_by_parameter_order=True), rows
    )
    return [int(i) for i in result.scalars()]


def _sqlite(conn: Connection, records: Sequence[Record], now: datetime) -> list[int]:
    columns = [*FIELD_NAMES, *STAMPS]
    compiled = insert(persons).compile(dialect=conn.dialect, column_keys=columns)
    order = compiled.positiontup or []
    # SQLite stores dates and timestamps as text in SQLAlchemy's format: use its converters.
    convert = {
        name: persons.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        for name in (*DATE_FIELDS, "created_at", "updated_at")
    }
    stamp = convert["created_at"]
    now_text = stamp(now) if stamp else now
    date_at = [i for i, name in enumerate(FIELD_NAMES) if name in convert]
    params: list[tuple[Any, ...]] = []
    for record in records:
        values = list(record_values(record))
        for i in date_at:
            proc = convert[FIELD_NAMES[i]]
            if values[i] is not None and proc is not None:
                values[i] = proc(values[i])
        by_name = dict(zip(FIELD_NAMES, values, strict=True))
        by_name.update(created_at=now_text, updated_at=now_text, row_version=1)
        params.append(tuple(by_name[name] for name in order))
    conn.exec_driver_sql(str(compiled), params)
    # Under BEGIN IMMEDIATE this is the only writer and AUTOINCREMENT hands out max+1: the ids
    # are consecutive and end at the largest.
    last = int(conn.execute(select(func.max(persons.c.id))).scalar_one())
    return list(range(last - len(records) + 1, last + 1))


def _copy(conn: Connection, records: Sequence[Record], now: datetime) -> list[int]:
    # Ids from the sequence up front: COPY returns nothing, and RETURNING in parameter order
    # would make SQLAlchemy insert one row at a time.
    ids = sorted(int(i) for i in conn.execute(_NEXT_IDS, {"n": len(records)}).scalars())
    columns = ["id", *FIELD_NAMES, *STAMPS]
    statement = sql.SQL("COPY persons ({}) FROM STDIN").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for new_id, record in zip(ids, records, strict=True):
            copy.write_row((new_id, *record_values(record), now, now, 1))
    return ids
