"""On PostgreSQL a chunk of writes is a few statements, however many records it holds (issue 12:
PostgreSQL within 1.5 times of SQLite at 100,000). Sent row by row (`executemany`), every record
of an export was about five statements the server planned and SQLAlchemy filled in Python, every
record of an import seven: at 100,000 the server's CPU (mostly planning) and the engine's per-row
work made a full export 1.9 times SQLite's. `persons/pg_bulk.py` and `sync/pg_writes.py` send one
statement per chunk instead (COPY for inserts, arrays for updates and deletes).

Counted: the statements the engine sends through SQLAlchemy, each row of an `executemany` as
one (what the server plans and executes). COPY goes past SQLAlchemy and is one per chunk."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.stores.memory import MemoryStore
from personsync.sync import engine
from personsync.sync.options import RunOptions

SMALL, LARGE = 20, 200  # both within one chunk (500)


def _statements(db: PersonsDB, url: str, direction: str) -> int:
    """What one run sends; it must have written every record of the folder or database."""
    sent: list[int] = []

    def count(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        sent.append(len(params) if many else 1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        out = engine.run(db, url, direction, options=RunOptions(yes=True))
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert out.report is not None and not out.report.errors, out.report.errors[:3]
    made = out.report.counts.get("create-contact", 0) + out.report.counts.get("create-person", 0)
    assert made in (SMALL, LARGE), out.report.counts
    return sum(sent)


@pytest.mark.postgres
@pytest.mark.parametrize("direction", ["export", "import"])
def test_a_chunk_of_200_records_sends_as_many_statements_as_one_of_20(
    pg_url: str, direction: str
) -> None:
    sent = {}
    db = PersonsDB(pg_url)
    try:
        for n in (SMALL, LARGE):
            with db.engine.begin() as conn:  # each size from an empty database
                conn.exec_driver_sql("TRUNCATE persons")
            name = f"pg-{direction}-{n}-{id(db)}"
            store = MemoryStore.named(name)
            if direction == "export":
                db.add_many([Record(first_name=f"P{i}", last_name="Lee") for i in range(n)])
            else:
                for i in range(n):
                    store.create(Contact(Record(first_name=f"C{i}", last_name="Imported")))
            sent[n] = _statements(db, f"memory:{name}", direction)
            assert len(store.items) == n and db.count() == n
    finally:
        db.close()
    assert sent[SMALL] == sent[LARGE], sent


@pytest.mark.postgres
def test_a_chunk_of_person_updates_is_one_statement(pg_url: str) -> None:
    """`update_checked` (the engine's Person writes of a chunk, undo's restores) sends one
    UPDATE for 200 Persons as for 20 (until 2026-12-06 one per Person), and writes each one's
    values, dates and categories, its new version and `updated_at`."""
    from datetime import date

    db = PersonsDB(pg_url)
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE persons")
        ids = db.add_many([Record(first_name=f"P{i}", last_name="Lee") for i in range(LARGE)])
        updates: dict[int, list[str]] = {}
        for n in (SMALL, LARGE):
            sent: list[str] = []

            def count(conn: Any, cursor: Any, sql: str, params: Any, ctx: Any, many: bool) -> None:
                sent.extend([sql] * (len(params) if many else 1))

            event.listen(db.engine, "before_cursor_execute", count)
            try:
                got = db.update_checked(
                    [
                        (
                            pid,
                            {"company": f"Co {n}", "birthday": date(1990, 1, n % 28 + 1)}
                            | ({"categories": ("A", "B")} if i % 2 else {}),
                            db.get(pid).version,
                        )
                        for i, pid in enumerate(ids[:n])
                    ]
                )
            finally:
                event.remove(db.engine, "before_cursor_execute", count)
            assert len(got) == n and all(isinstance(v, str) for v in got), got[:3]
            updates[n] = [s for s in sent if s.lstrip().upper().startswith("UPDATE")]
        assert len(updates[SMALL]) == len(updates[LARGE]) == 1, updates
        written = db.get_many(ids[:3])
        assert written[ids[0]].record.company == f"Co {LARGE}"
        assert written[ids[0]].record.birthday == date(1990, 1, LARGE % 28 + 1)
        assert written[ids[1]].record.categories == ("A", "B")
        assert written[ids[0]].record.categories == ()
        assert written[ids[0]].version == "3" and written[ids[0]].updated_at is not None
        assert db.get(ids[-1]).record.company == f"Co {LARGE}" and db.get(ids[-1]).version == "2"
    finally:
        db.close()
