"""The plans PostgreSQL makes for the engine's statements on a table it has no statistics for.

A table filled during a run (autovacuum off, or not yet run) has never been analysed
(`reltuples` -1). Two plans of each statement matter there:
- the *custom* plan, made for the values of one execution (what EXPLAIN with values shows);
- the *generic* plan, made once for any values: psycopg prepares every statement it sends with
  `executemany` at once, and PostgreSQL switches a prepared statement to its generic plan after
  five executions when that looks no dearer, and keeps it for the connection. A generic plan
  made while the table was still empty (the first chunk of a run) is kept while the table grows:
  a `folder = $1 AND (person_id = $2 OR item_id = $3)` delete planned so scanned every link of
  the folder for each row, and a full export of 100,000 spent 100 s there.

The engine's own connections no longer run generic plans at all (persons/connect.py: PostgreSQL
plans each execution; a generic plan made on the empty table, where two indexes cost the same,
was what scanned the folder per row); the generic plans are checked still, for any connection
that does run them. `plans(conn, sql, params)` returns both. A statement passes `assert_keyed`
when each plan reads the tables named only by index look-ups whose condition names a whole
unique key, with no rows filtered out after the look-up."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, text

_PARAM = re.compile(r"%\((\w+)\)[sb]")


def assert_unanalysed(engine: Engine, *tables: str) -> None:
    with engine.connect() as conn:
        for table in tables:
            tuples = conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
            ).scalar()
            assert tuples == -1, f"{table} must not have statistics for this test"


@contextmanager
def sent_to(engine: Engine, tables: Iterable[str]) -> Iterator[list[tuple[str, Any]]]:
    """The statements (SQL, one row's parameters) sent on `engine` that name one of `tables`."""
    names = tuple(tables)
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if any(re.search(rf"\b{name}\b", sql) for name in names):
            sent.append((sql, params[0] if many else params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def plans(conn: Any, sql: str, params: Any) -> dict[str, str]:
    """{"custom": plan, "generic": plan} of one statement, in `conn`'s transaction (rolled back
    by the caller: nothing here executes the statement)."""
    import psycopg

    raw = conn.connection.driver_connection
    custom = "\n".join(r[0] for r in raw.execute("EXPLAIN " + sql, params).fetchall())
    # The generic plan: PREPARE with $n in place of the named parameters (their types come
    # from the casts SQLAlchemy writes), EXPLAIN EXECUTE with the values written in (a
    # ClientCursor) under force_generic_plan. A new name per call: one statement, one plan.
    order: list[str] = []
    for name in _PARAM.findall(sql):
        if name not in order:
            order.append(name)
    numbered = _PARAM.sub(lambda m: f"${order.index(m.group(1)) + 1}", sql)
    name = f"plan_check_{abs(hash((sql, id(raw))))}"
    raw.execute(f"PREPARE {name} AS {numbered}")
    raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    literal = psycopg.ClientCursor(raw)
    marks = ", ".join(["%s"] * len(order))
    args = [params[n] for n in order]
    literal.execute(
        f"EXPLAIN EXECUTE {name}({marks})" if order else f"EXPLAIN EXECUTE {name}", args
    )
    generic = "\n".join(r[0] for r in literal.fetchall())
    raw.execute(f"DEALLOCATE {name}")
    return {"custom": custom, "generic": generic}


def _unique_keys(conn: Any, tables: Iterable[str]) -> dict[str, list[str]]:
    """Unique index name → its columns, for these tables."""
    rows = conn.execute(
        text(
            "SELECT i.relname, array_agg(a.attname::text) FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid"
            " JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY(x.indkey)"
            " WHERE x.indisunique AND x.indrelid = ANY(CAST(:t AS regclass[]))"
            " GROUP BY i.relname"
        ),
        {"t": list(tables)},
    ).all()
    return {name: list(columns) for name, columns in rows}


def assert_keyed(conn: Any, plan: str, tables: Iterable[str], *, empty: bool = False) -> None:
    """Every read of `tables` in `plan` is a look-up in a unique index (or a bitmap of such)
    whose condition names each of its columns with `=`, or by row address (`TID Cond`): one row
    at most per look-up, whatever the statistics. No scan of a table, no rows filtered out after
    the look-up.

    `empty`: the tables are empty, and a chunk statement (`persons/pg_bulk.py`) may scan one for
    the rows its sub-select named by key (`Filter: (id = ANY ($n))`, or `ctid`): the planner
    takes a table it has no statistics for by its pages, and scans it only while it is a few
    pages; the engine plans each execution anew, so the plan ends with the chunk."""
    names = tuple(tables)
    unique = _unique_keys(conn, names)
    lines = plan.splitlines()
    allowed: set[int] = set()
    for n, line in enumerate(lines):
        scanned = any(re.search(rf"Seq Scan on {table}\b", line) for table in names)
        if not scanned:
            continue
        assert empty, plan
        following = lines[n + 1] if n + 1 < len(lines) else ""
        assert re.fullmatch(r"\s*Filter: \(c?t?id = ANY \(\$\d+\)\)", following), plan
        allowed.add(n + 1)
    assert not any("Filter" in line for n, line in enumerate(lines) if n not in allowed), plan
    index = ""
    looked_up = bool(allowed)  # an allowed scan reads the table
    for line in lines:
        used = re.search(
            r"(?:Index|Index Only) Scan (?:Backward )?using (\w+)|Bitmap Index Scan on (\w+)", line
        )
        if used:
            index = used.group(1) or used.group(2)
        if "TID Cond: (ctid = ANY" in line:
            looked_up = True
        if "Index Cond" in line:
            assert index in unique, f"{index} is no unique index:\n{plan}"
            for column in unique[index]:
                assert re.search(rf"\b{column}\)?(::\w+)? = ", line), (
                    f"{column} not in {line}:\n{plan}"
                )
            looked_up = True
    reads = any(re.search(rf"\b(on|using \w+ on) {t}\b", plan) for t in names)
    assert looked_up or not reads, plan
