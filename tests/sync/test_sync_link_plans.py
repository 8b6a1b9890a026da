"""The link writes do not depend on the table's statistics (issue 12: a full export of 100,000 on
a fresh PostgreSQL database took 9.5 times as long as on SQLite, each chunk's
`DELETE ... item_id IN (...)` scanning every link of the folder).

Every statement `Links` sends is EXPLAINed on a PostgreSQL table of 20,000 links that was never
analysed (`reltuples` -1, as after a run that filled it with autovacuum off): each must be one
look-up in a unique index naming the whole key, never a scan of the folder's links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from personsync.sync.links import Links
from personsync.sync.tables import metadata, sync_links

FOLDER = "vcf:/links"
N = 20_000
MANY = range(5000, 5600)  # a chunk's worth of links


def _row(pid: int, item: str) -> dict[str, Any]:
    return {
        "person_id": pid,
        "item_id": item,
        "item_version": "v",
        "person_version": "p",
        "baseline": "{}",
        "synced_at": datetime.now(UTC),
    }


WRITES = pytest.mark.parametrize(
    "write",
    [
        pytest.param(
            lambda c: Links.save(c, FOLDER, [_row(p, f"new{p}") for p in MANY]), id="save"
        ),
        pytest.param(lambda c: Links.forget(c, FOLDER, [f"item{p}" for p in MANY]), id="forget"),
        pytest.param(lambda c: Links.mark_stale(c, FOLDER, [f"item{p}" for p in MANY]), id="stale"),
        pytest.param(
            lambda c: Links.set_item_versions(c, FOLDER, [(f"item{p}", "w") for p in MANY]),
            id="item versions",
        ),
        pytest.param(
            lambda c: Links.set_versions(c, FOLDER, [(p, "w", "q") for p in MANY]), id="versions"
        ),
    ],
)


def _sent(engine: Any, write: Callable[[Any], None]) -> list[tuple[str, Any]]:
    """The statements (but inserts) `write` sends to sync_links, with their first parameters."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if "sync_links" in sql:
            sent.append((sql, params[0] if many else params))

    event.listen(engine, "before_cursor_execute", record)
    with engine.begin() as conn:
        write(conn)
    event.remove(engine, "before_cursor_execute", record)
    writes = [(sql, p) for sql, p in sent if not sql.lstrip().upper().startswith("INSERT")]
    assert writes, "the write sent no statement to sync_links"
    return writes


@WRITES
def test_link_writes_on_sqlite_search_a_whole_unique_key(
    sqlite_url: str, write: Callable[[Any], None]
) -> None:
    # SQLite's planner, with the covering index of migration 0003 on (folder, ...): each
    # statement must search by a whole unique key, never by `folder` alone (all its links).
    engine = create_engine(sqlite_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                sync_links.insert(),
                [{**_row(p, f"item{p}"), "folder": FOLDER} for p in range(1, N + 1)],
            )
        writes = _sent(engine, write)
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            for sql, params in writes:
                plan = [r[3] for r in raw.execute("EXPLAIN QUERY PLAN " + sql, params)]
                searches = [step for step in plan if step.startswith(("SEARCH", "SCAN"))]
                assert searches, plan
                for step in searches:
                    assert step.startswith("SEARCH sync_links USING"), plan
                    assert "folder=?" in step and ("item_id=?" in step or "person_id=?" in step), (
                        plan
                    )
    finally:
        engine.dispose()


@pytest.mark.postgres
@WRITES
def test_link_writes_are_unique_key_lookups_without_statistics(
    pg_url: str, write: Callable[[Any], None]
) -> None:
    engine = create_engine(pg_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sync_links (person_id, folder, item_id, item_version,"
                    " person_version, baseline, synced_at) SELECT g, :f, 'item' || g, 'v', 'p',"
                    " '{}', now() FROM generate_series(1, :n) g"
                ),
                {"f": FOLDER, "n": N},
            )
        with engine.connect() as conn:
            never = conn.execute(
                text("SELECT reltuples FROM pg_class WHERE relname = 'sync_links'")
            ).scalar()
        assert never == -1, "the table must not have statistics for this test"

        writes = _sent(engine, write)
        with engine.begin() as conn:
            for sql, params in writes:
                raw = conn.connection.driver_connection
                assert raw is not None
                plan = "\n".join(r[0] for r in raw.execute("EXPLAIN " + sql, params).fetchall())
                # Index look-ups only (a bitmap OR of two is one too), no rows filtered: each
                # index condition names a whole unique key, so finds one row at most.
                assert "Seq Scan" not in plan and "Filter" not in plan, plan
                conditions = [ln for ln in plan.splitlines() if "Index Cond" in ln]
                assert conditions, plan
                for cond in conditions:
                    assert "folder" in cond and ("item_id" in cond or "person_id" in cond), plan
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM sync_links")).scalar() >= N - len(MANY)
    finally:
        engine.dispose()


def test_save_replaces_a_persons_and_an_items_older_link(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            Links.save(conn, FOLDER, [_row(1, "a"), _row(2, "b")])
            # Person 1 now linked to c; item b now Person 3's.
            Links.save(conn, FOLDER, [_row(1, "c"), _row(3, "b")])
            Links.forget(conn, FOLDER, ["nothing-here"])
        with engine.connect() as conn:
            rows = conn.execute(
                sync_links.select().with_only_columns(sync_links.c.person_id, sync_links.c.item_id)
            ).all()
        assert sorted(tuple(r) for r in rows) == [(1, "c"), (3, "b")]
    finally:
        engine.dispose()


def test_a_saved_links_older_rows_are_found_by_unique_keys_on_sqlite(sqlite_url: str) -> None:
    """SQLite, too, finds the older links a save replaces by their unique keys: written as
    `folder = ? AND (person_id = ? OR item_id = ?)`, its planner searched the folder's links by
    `folder` alone for every row saved (a first sync of 20,000 spent 90 % of its time there)."""
    engine = create_engine(sqlite_url)
    try:
        metadata.create_all(engine)
        sent: list[tuple[str, Any]] = []

        def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
            if sql.lstrip().upper().startswith("DELETE"):
                sent.append((sql, params[0] if many else params))

        event.listen(engine, "before_cursor_execute", record)
        with engine.begin() as conn:
            Links.save(conn, FOLDER, [_row(p, f"new{p}") for p in MANY])
        event.remove(engine, "before_cursor_execute", record)
        assert sent, "the save deleted no older links"
        with engine.connect() as conn:
            for sql, params in sent:
                raw = conn.connection.driver_connection
                assert raw is not None
                plan = [r[3] for r in raw.execute("EXPLAIN QUERY PLAN " + sql, params)]
                searches = [step for step in plan if step.startswith(("SEARCH", "SCAN"))]
                # One search per side of the OR, each on a unique index by its whole key.
                assert sorted(searches) == [
                    "SEARCH sync_links USING INDEX sqlite_autoindex_sync_links_1"
                    " (folder=? AND item_id=?)",
                    "SEARCH sync_links USING INDEX sqlite_autoindex_sync_links_2"
                    " (person_id=? AND folder=?)",
                ], plan
    finally:
        engine.dispose()
