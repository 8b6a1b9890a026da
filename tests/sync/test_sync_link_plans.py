"""The engine's per-chunk reads and writes on PostgreSQL do not depend on the tables' statistics
(issue 12: a full export of 100,000 on a fresh PostgreSQL database took 9.5 times as long as on
SQLite, each chunk's `DELETE ... item_id IN (...)` scanning every link of the folder).

Every statement of a chunk (link reads and writes, baselines, Persons read and written by id,
the journal, `contact_manager_id`) is EXPLAINed on tables that were never analysed (`reltuples`
-1, as after a run that filled them with autovacuum off): its custom plan and its generic plan
(what a prepared statement runs; see `pg_plans`) on tables of 20,000 rows, and its generic plan
on the empty tables too (a plan cached at a run's first chunk is kept while the tables grow).
Each must be look-ups in unique indexes naming the whole key, never a scan of a table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from pg_plans import assert_keyed, assert_unanalysed, plans, sent_to
from sqlalchemy import Connection, create_engine, event, inspect, text

from personsync.model import Record
from personsync.persons.repo import PersonsDB
from personsync.sync.journal import Journal
from personsync.sync.links import Links
from personsync.sync.tables import metadata, sync_links

FOLDER = "vcf:/links"
N = 20_000
MANY = range(5000, 5600)  # a chunk's worth of rows
TABLES = ("persons", "sync_links", "sync_journal")
RUN = "20261206-0100-plans000"


def _row(pid: int, item: str) -> dict[str, Any]:
    return {
        "person_id": pid,
        "item_id": item,
        "item_version": "v",
        "person_version": "p",
        "baseline": '{"company": "ACME"}',
        "synced_at": datetime.now(UTC),
    }


_JOURNALS: dict[int, Journal] = {}


def _journal(db: PersonsDB) -> Journal:
    """The test's run (one per database), as after the N entries `_fill` makes."""
    if id(db) not in _JOURNALS:
        _JOURNALS[id(db)] = Journal(db.engine, "sync", FOLDER, run_id=RUN)
    journal = _JOURNALS[id(db)]
    journal.seq = N
    return journal


Operation = Callable[[PersonsDB, Connection], Any]
OPERATIONS: dict[str, Operation] = {
    "save links": lambda db, c: Links.save(c, FOLDER, [_row(p, f"new{p}") for p in MANY]),
    "forget links": lambda db, c: Links.forget(c, FOLDER, [f"item{p}" for p in MANY]),
    "mark links stale": lambda db, c: Links.mark_stale(c, FOLDER, [f"item{p}" for p in MANY]),
    "item versions": lambda db, c: Links.set_item_versions(
        c, FOLDER, [(f"item{p}", "w") for p in MANY]
    ),
    "link versions": lambda db, c: Links.set_versions(c, FOLDER, [(p, "w", "q") for p in MANY]),
    "baselines": lambda db, c: Links(db.engine, FOLDER).baselines(MANY),
    "read Persons": lambda db, c: db.get_many(MANY, times=False),
    "update Persons": lambda db, c: db.update_checked(
        [(p, {"company": "Umbrella"}, "1") for p in MANY], conn=c
    ),
    "contact_manager_id": lambda db, c: db.set_contact_manager_ids(
        [(p, f"item{p}") for p in MANY], conn=c
    ),
    "journal outcomes": lambda db, c: _journal(db).settle(
        c, [(seq, "done", {"version": "w"}, None) for seq in MANY]
    ),
}


def _fill(conn: Connection) -> None:
    """N Persons, their links and a run's N journal entries, by SQL (nothing analyses)."""
    conn.execute(
        text(
            "INSERT INTO persons (id, first_name, last_name, created_at, updated_at, row_version)"
            " SELECT g, 'Ann', 'Lee' || g, now(), now(), 1 FROM generate_series(1, :n) g"
        ),
        {"n": N},
    )
    conn.execute(
        text(
            "INSERT INTO sync_links (person_id, folder, item_id, item_version, person_version,"
            " baseline, synced_at) SELECT g, :f, 'item' || g, 'v', 'p', '{}', now()"
            " FROM generate_series(1, :n) g"
        ),
        {"f": FOLDER, "n": N},
    )
    conn.execute(
        text(
            "INSERT INTO sync_journal (run_id, seq, side, action, folder, item_id, person_id,"
            " state) SELECT :r, g, 'contact', 'update', :f, 'item' || g, g, 'intent'"
            " FROM generate_series(1, :n) g"
        ),
        {"r": RUN, "f": FOLDER, "n": N},
    )


@pytest.fixture
def db(pg_url: str) -> Iterator[PersonsDB]:
    persons = PersonsDB(pg_url)
    try:
        metadata.create_all(persons.engine)
        yield persons
    finally:
        persons.close()


def _sent(db: PersonsDB, operation: Operation) -> list[tuple[str, Any]]:
    """What `operation` sends to the tables, made in a transaction that is rolled back."""
    with sent_to(db.engine, TABLES) as sent, db.engine.connect() as conn, conn.begin() as tx:
        operation(db, conn)
        tx.rollback()
    reads = [(sql, p) for sql, p in sent if not sql.lstrip().upper().startswith("INSERT")]
    return reads


def _check(
    db: PersonsDB, statements: list[tuple[str, Any]], which: tuple[str, ...], empty: bool = False
) -> None:
    with db.engine.connect() as conn, conn.begin() as transaction:
        for sql, params in statements:
            found = plans(conn, sql, params)
            for kind in which:
                assert_keyed(conn, found[kind], TABLES, empty=empty)
        transaction.rollback()


@pytest.mark.postgres
@pytest.mark.parametrize("operation", list(OPERATIONS.values()), ids=list(OPERATIONS))
def test_chunk_statements_are_unique_key_lookups_without_statistics(
    db: PersonsDB, operation: Operation
) -> None:
    _journal(db)  # the run's row
    assert_unanalysed(db.engine, *TABLES)
    # Empty tables: the generic plan a run's first chunk would cache.
    statements = _sent(db, operation)
    assert statements, "the operation read or changed no table"
    _check(db, statements, ("generic",), empty=True)
    with db.engine.begin() as conn:
        _fill(conn)
    assert_unanalysed(db.engine, *TABLES)
    statements = _sent(db, operation)
    _check(db, statements, ("custom", "generic"))


@pytest.mark.postgres
def test_baselines_are_read_for_the_persons_asked(db: PersonsDB) -> None:
    with db.engine.begin() as conn:
        Links.save(conn, FOLDER, [_row(1, "a"), {**_row(2, "b"), "baseline": "{}"}, _row(3, "c")])
        Links.save(conn, "vcf:/elsewhere", [{**_row(4, "d"), "baseline": '{"company": "X"}'}])
    got = Links(db.engine, FOLDER).baselines([3, 1, 1, 2, 4, 99])
    # 2 has no baseline, 4 is linked in another folder, 99 not at all.
    assert {pid: r.company for pid, r in got.items()} == {1: "ACME", 3: "ACME"}


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


def test_a_link_replaces_two_older_links_and_no_other_folders(db_url: str) -> None:
    """A new link that takes one link's Person and another's item ends both (on SQLite one
    `INSERT OR REPLACE` per row does it), and leaves the same keys in another folder alone."""
    engine = create_engine(db_url)
    try:
        metadata.create_all(engine)
        other = "vcf:/elsewhere"
        with engine.begin() as conn:
            Links.save(conn, FOLDER, [_row(1, "a"), _row(2, "b"), _row(4, "d")])
            Links.save(conn, other, [_row(1, "a"), _row(2, "b")])
            Links.save(conn, FOLDER, [{**_row(1, "b"), "baseline": "{}"}])
        t = sync_links
        query = t.select().with_only_columns(t.c.folder, t.c.person_id, t.c.item_id, t.c.baseline)
        with engine.connect() as conn:
            rows = sorted(tuple(r) for r in conn.execute(query).all())
        assert rows == [
            (other, 1, "a", '{"company": "ACME"}'),
            (other, 2, "b", '{"company": "ACME"}'),
            (FOLDER, 1, "b", "{}"),
            (FOLDER, 4, "d", '{"company": "ACME"}'),
        ]
    finally:
        engine.dispose()


def test_person_updates_of_a_chunk_are_one_commit(db_url: str) -> None:
    """A run's commits do not grow with the Persons it updates: each chunk's Person writes go
    in one transaction with their outcomes (a commit per Person is a disk flush per Person on
    PostgreSQL; it was most of a two-way sync of 100,000 with 1 % changed there)."""
    from personsync.stores.memory import MemoryStore
    from personsync.sync import engine
    from personsync.sync.options import RunOptions

    db = PersonsDB(db_url)
    name = f"commits-{id(db)}"
    store = MemoryStore.named(name)
    try:
        db.add_many([Record(first_name=f"P{i}", last_name="Lee") for i in range(40)])
        engine.run(db, f"memory:{name}", "export", options=RunOptions(yes=True))
        commits: list[int] = []

        def count(conn: Any) -> None:
            commits.append(1)

        event.listen(db.engine, "commit", count)
        made = []
        for edits in (3, 30):
            for item in sorted(store.items)[:edits]:
                old = store.items[item]
                new = old.record.replace({"department": f"D{edits}"})
                store.update(old, replace(old, record=new))
            commits.clear()
            out = engine.run(db, f"memory:{name}", "sync", options=RunOptions(yes=True))
            assert out.report is not None and out.report.counts["update-person"] == edits
            made.append(len(commits))
        assert made[0] == made[1], made
    finally:
        db.close()


def test_a_run_checks_its_tables_in_one_query(db_url: str) -> None:
    """Every run starts by making sure the sync tables exist: one catalogue query (it was one
    per table, each a round trip on PostgreSQL). A missing one is an error naming it, never
    made there: the sync tables are made by the migrations only (issue 12 §1)."""
    from personsync.errors import DatabaseError
    from personsync.sync.engine import ensure_tables

    db = PersonsDB(db_url)
    try:
        sent: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
        ensure_tables(db.engine)
        queries = [sql for sql in sent if sql != "BEGIN"]  # SQLite's own BEGIN (connect.py)
        assert len(queries) == 1, sent
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE sync_ignored"))
        with pytest.raises(DatabaseError, match="lacks the sync tables sync_ignored"):
            ensure_tables(db.engine)
        assert "sync_ignored" not in inspect(db.engine).get_table_names()
    finally:
        db.close()


@pytest.mark.postgres
def test_postgresql_plans_every_execution_for_the_table_as_it_is(pg_url: str) -> None:
    """No statement runs a generic plan cached while the links were few: psycopg prepares a
    statement sent five times (every chunk statement of a run), and a generic plan made at a
    run's first chunk (an empty table, where the folder's index costs the same as the unique
    (Person, folder) one, or where a scan is cheapest) was kept while the table grew, each
    delete reading every link of the folder (persons/connect.py)."""
    db = PersonsDB(pg_url)
    try:
        with db.engine.connect() as conn:
            for chunk in range(8):
                with conn.begin():
                    rows = [_row(p, f"item{p}") for p in range(chunk * 50, chunk * 50 + 50)]
                    Links.save(conn, FOLDER, rows)
            raw = conn.connection.driver_connection
            assert raw is not None
            generic, custom = raw.execute(
                "SELECT sum(generic_plans), sum(custom_plans) FROM pg_prepared_statements"
            ).fetchone() or (None, None)
        assert custom, "psycopg prepared nothing: the test no longer sees what it checks"
        assert generic == 0
    finally:
        db.close()


def test_a_saved_links_older_rows_are_replaced_by_unique_keys_on_sqlite(sqlite_url: str) -> None:
    """SQLite finds the older links a save replaces by their unique keys: one `INSERT OR
    REPLACE` per row, whose conflict checks are look-ups in the two unique indexes themselves,
    and no statement that searches the links. (Written as a delete of
    `folder = ? AND (person_id = ? OR item_id = ?)`, its planner searched the folder's links by
    `folder` alone for every row saved: a first sync of 20,000 spent 90 % of its time there;
    `test_a_link_replaces_two_older_links_and_no_other_folders` checks what is replaced.)"""
    engine = create_engine(sqlite_url)
    try:
        metadata.create_all(engine)
        sent: list[tuple[str, bool]] = []

        def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
            if "SYNC_LINKS" in sql.upper():
                sent.append((" ".join(sql.split()).upper(), many))

        event.listen(engine, "before_cursor_execute", record)
        with engine.begin() as conn:
            Links.save(conn, FOLDER, [_row(p, f"new{p}") for p in MANY])
        event.remove(engine, "before_cursor_execute", record)
        assert len(sent) == 1, sent
        sql, many = sent[0]
        assert sql.startswith("INSERT OR REPLACE INTO SYNC_LINKS ") and many, sent
    finally:
        engine.dispose()


SQLITE_WRITES = {
    name: OPERATIONS[name]
    for name in ("forget links", "mark links stale", "item versions", "link versions")
}


@pytest.mark.parametrize("write", list(SQLITE_WRITES.values()), ids=list(SQLITE_WRITES))
def test_link_writes_on_sqlite_search_a_whole_unique_key(sqlite_url: str, write: Operation) -> None:
    # SQLite's planner, with the covering index of migration 0003 on (folder, ...): each
    # statement must search by a whole unique key, never by `folder` alone (all its links).
    # (From the carddav branch; the link operations as this file names them.)
    db = PersonsDB(sqlite_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(
                sync_links.insert(),
                [{**_row(p, f"item{p}"), "folder": FOLDER} for p in range(1, N + 1)],
            )
        writes = _sent(db, write)
        assert writes, "the write sent no statement to sync_links"
        with db.engine.connect() as conn:
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
        db.close()
