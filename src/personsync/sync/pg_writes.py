"""The sync engine's link and journal writes on PostgreSQL: one statement per chunk.

`Links` and `Journal` hand their PostgreSQL writes here (SQLite keeps its row-by-row
statements, which it runs in-process without planning). Each chunk is one statement with the
chunk's keys and values as arrays, planned as `persons/pg_bulk.py` says: the rows to change
named by an array the planner cannot see into, read by unique index or row address; keys that
are not unique alone (a link's Person or item, unique per folder) looked up one by one first.
The statements are plain SQL: their shape (a LATERAL look-up per key, an array sub-select) is
the point, and SQLAlchemy's constructs for it said less. Inserts go as COPY (the links' here,
the journal's through `bulk.executemany`).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from personsync.persons.pg_bulk import copy_rows

_LINK_KEYS = ("person_id", "item_id", "item_version", "person_version", "baseline", "synced_at")

# The ids of the folder's links of these Persons, and of these items: one look-up each in the
# unique index of (Person, folder) or (folder, item).
_BY_PERSON = """SELECT one.id FROM unnest(%(p)b::integer[]) AS k(p) CROSS JOIN LATERAL
  (SELECT id FROM sync_links WHERE folder = %(f)b AND person_id = k.p LIMIT 1) AS one"""
_BY_ITEM = """SELECT one.id FROM unnest(%(i)b::text[]) AS k(i) CROSS JOIN LATERAL
  (SELECT id FROM sync_links WHERE folder = %(f)b AND item_id = k.i LIMIT 1) AS one"""

# A save replaces any older link of the same Person or the same item in the folder. (S608: the
# statements are made of this module's constants; every value is a bound parameter.)
_EITHER = f"{_BY_PERSON} UNION ALL {_BY_ITEM}"
_DELETE_EITHER = f"DELETE FROM sync_links WHERE id = ANY(ARRAY({_EITHER}))"  # noqa: S608
_DELETE_BY_ITEM = f"DELETE FROM sync_links WHERE id = ANY(ARRAY({_BY_ITEM}))"  # noqa: S608
_SET_ITEM_VERSIONS = f"""UPDATE sync_links AS t SET item_version = v.v
FROM unnest(%(i)b::text[], %(v)b::text[]) AS v(i, v)
WHERE t.id = ANY(ARRAY({_BY_ITEM})) AND t.item_id = v.i"""  # noqa: S608
_SET_VERSIONS = f"""UPDATE sync_links AS t SET item_version = v.iv, person_version = v.pv
FROM unnest(%(p)b::integer[], %(iv)b::text[], %(pv)b::text[]) AS v(p, iv, pv)
WHERE t.id = ANY(ARRAY({_BY_PERSON})) AND t.person_id = v.p"""  # noqa: S608
_MARK_STALE = f"""UPDATE sync_links SET item_version = '', person_version = ''
WHERE id = ANY(ARRAY({_BY_ITEM}))"""  # noqa: S608
# A run's journal entries by (run, seq), its primary key: found one by one, then read by their
# row address (`ctid`), as the key has no single column to name them by. (With `run_id = ?`
# beside the addresses, the planner took the run's entries for a few and read all of them per
# chunk.) The addresses are read and used in one statement, and the run's lease keeps every
# other writer from its entries.
_SETTLE = """UPDATE sync_journal AS t SET state = v.st, after = v.a, error = v.e
FROM unnest(%(s)b::integer[], %(st)b::text[], %(a)b::text[], %(e)b::text[]) AS v(s, st, a, e)
WHERE t.ctid = ANY(ARRAY(SELECT one.tid FROM unnest(%(s)b::integer[]) AS k(s) CROSS JOIN LATERAL
  (SELECT ctid AS tid FROM sync_journal WHERE run_id = %(r)b AND seq = k.s LIMIT 1) AS one))
  AND t.seq = v.s"""


def _run(conn: Connection, statement: str, params: dict[str, Any], keys: str) -> None:
    """`statement` unless its array `keys` is empty."""
    if params[keys]:
        conn.exec_driver_sql(statement, params)


def save_links(conn: Connection, folder: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """`Links.save`: the rows (person_id, item_id, item_version, person_version, baseline,
    synced_at) replace the folder's links of the same Persons and of the same items."""
    params = {"f": folder, "p": [r["person_id"] for r in rows], "i": [r["item_id"] for r in rows]}
    _run(conn, _DELETE_EITHER, params, "i")
    pick = operator.itemgetter(*_LINK_KEYS)
    copy_rows(conn, "sync_links", ("folder", *_LINK_KEYS), ((folder, *pick(r)) for r in rows))


def forget(conn: Connection, folder: str, item_ids: Sequence[str]) -> None:
    _run(conn, _DELETE_BY_ITEM, {"f": folder, "i": list(item_ids)}, "i")


def set_item_versions(conn: Connection, folder: str, versions: Iterable[tuple[str, str]]) -> None:
    last = dict(versions)  # an item named twice: its last version, as row by row
    _run(conn, _SET_ITEM_VERSIONS, {"f": folder, "i": list(last), "v": list(last.values())}, "i")


def set_versions(conn: Connection, folder: str, rows: Iterable[tuple[int, str, str]]) -> None:
    last = {p: (iv, pv) for p, iv, pv in rows}
    params = {
        "f": folder,
        "p": list(last),
        "iv": [iv for iv, _ in last.values()],
        "pv": [pv for _, pv in last.values()],
    }
    _run(conn, _SET_VERSIONS, params, "p")


def mark_stale(conn: Connection, folder: str, item_ids: Sequence[str]) -> None:
    _run(conn, _MARK_STALE, {"f": folder, "i": list(item_ids)}, "i")


def settle(
    conn: Connection, run_id: str, outcomes: Iterable[tuple[int, str, str | None, str | None]]
) -> None:
    """(seq, state, after as JSON text, error) of the run's entries (an entry named twice: its
    last outcome, as row by row)."""
    last = {seq: (state, after, error) for seq, state, after, error in outcomes}
    params = {
        "r": run_id,
        "s": list(last),
        "st": [o[0] for o in last.values()],
        "a": [o[1] for o in last.values()],
        "e": [o[2] for o in last.values()],
    }
    _run(conn, _SETTLE, params, "s")
