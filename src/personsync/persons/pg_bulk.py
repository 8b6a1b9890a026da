"""PostgreSQL's bulk writes: one statement per chunk of rows, whatever the chunk's size.

Why: sent as `executemany`, every row is a statement of its own, planned on the server (the
engine plans every execution: `connect.py`) and given its parameters by SQLAlchemy in Python.
A full export of 100,000 sent about five such statements per record, an import seven: most of
PostgreSQL's CPU, and a third of the engine's, went there. Here a chunk is one statement:
inserts go as COPY (no plan at all), updates and deletes take the chunk's keys and values as
arrays, which psycopg dumps in C.

How a chunk statement stays independent of the tables' statistics (a table filled during a run
has none; see `bulk.each_by_key`): the rows to change are named by an array of keys **the
planner cannot see into** (`= ANY(ARRAY(SELECT ...))`, a sub-select run once before the
statement), which it takes for a handful of rows: it reads them by their unique index (or by
their row address), never by a scan, once the table is more than a few dozen pages; a smaller
table it may scan, planned anew each chunk. Keys that are not unique alone (a link's item in its
folder) are first looked up one by one (`LATERAL ... LIMIT 1` per key, as `each_by_key`). The
new values are joined to the rows by key (a hash join of the chunk with itself).
`tests/sync/test_sync_link_plans.py` EXPLAINs every one of them on never-analysed tables.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DataError, IntegrityError

from personsync.fields import FIELDS

# The Persons' hidden links of a chunk (`PersonsDB.set_contact_manager_ids`). Not a mapped
# field: neither the version nor `updated_at` changes.
_SET_CONTACT_MANAGER_IDS = """
UPDATE persons AS t SET contact_manager_id = v.c
FROM unnest(%(ids)b::integer[], %(cids)b::text[]) AS v(id, c)
WHERE t.id = ANY(ARRAY(SELECT unnest(%(ids)b::integer[]))) AND t.id = v.id
"""

# Whole records of a chunk of Persons (`update_persons`): each field's values as an array of its
# column's type (dates `date`, every other field text: categories are stored joined).
_FIELDS = {f.name: "date" if f.kind == "date" else "text" for f in FIELDS}
_UPDATE_PERSONS = (
    "UPDATE persons AS t SET "  # noqa: S608 (the field table's names; every value is bound)
    + ", ".join(f'"{n}" = v."{n}"' for n in _FIELDS)
    + ", updated_at = %(now)s, row_version = t.row_version + 1 FROM unnest(%(ids)b::integer[], "
    + ", ".join(f"%({n})s::{kind}[]" for n, kind in _FIELDS.items())
    + ") AS v(id, "
    + ", ".join(f'"{n}"' for n in _FIELDS)
    + ") WHERE t.id = ANY(ARRAY(SELECT unnest(%(ids)b::integer[]))) AND t.id = v.id"
)


def copy_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY `rows` (tuples in the order of `columns`) into `table`, in `conn`'s transaction."""
    from psycopg import sql  # PostgreSQL only: a SQLite run need not load the driver

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    driver = conn.connection.driver_connection
    assert driver is not None
    from psycopg import DataError as RowRefused
    from psycopg import IntegrityError as RuleBroken

    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except (RuleBroken, RowRefused) as exc:
        # The driver's own error (COPY bypasses SQLAlchemy): as SQLAlchemy's, so that the
        # caller tells a refused value from a failed database as it does for any statement.
        wrapped = IntegrityError if isinstance(exc, RuleBroken) else DataError
        raise wrapped(str(statement.as_string(driver)), None, exc) from exc


def copy_mappings(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """COPY rows given as mappings (every row with the keys of the first: the columns). As with
    `bulk.executemany`'s other fast path, Python-side column defaults are not applied."""
    columns = list(rows[0])
    if len(columns) == 1:
        only = columns[0]
        copy_rows(conn, table.name, columns, ((row[only],) for row in rows))
        return
    pick = operator.itemgetter(*columns)
    copy_rows(conn, table.name, columns, map(pick, rows))


def set_contact_manager_ids(conn: Connection, pairs: Sequence[tuple[int, str | None]]) -> None:
    """(Person id, item id) pairs in one statement; a Person named twice gets its last item, as
    row-by-row updates would have left it; Persons that are gone are ignored."""
    last = dict(pairs)
    conn.exec_driver_sql(_SET_CONTACT_MANAGER_IDS, {"ids": list(last), "cids": list(last.values())})


def update_persons(conn: Connection, rows: Sequence[Mapping[str, object]], now: object) -> None:
    """Whole mapped records of existing Persons (`id` and every field, as `rows.record_row`
    makes them), in one statement: their fields, `updated_at` = `now` and `row_version` + 1.
    The Persons are named by their ids, an array the planner cannot see into, so each is read
    by its primary key whatever the statistics (`PersonsDB.update_checked`, `update_many`);
    sent as `executemany`, each Person was a statement of its own."""
    if not rows:
        return
    params: dict[str, object] = {"now": now, "ids": [r["id"] for r in rows]}
    for name in _FIELDS:
        params[name] = [r[name] for r in rows]
    conn.exec_driver_sql(_UPDATE_PERSONS, params)
