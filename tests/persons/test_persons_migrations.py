"""Schema and migrations on real SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic import command
from sqlalchemy import inspect, text

from personsync.errors import DatabaseError
from personsync.fields import FIELDS
from personsync.model import Record
from personsync.persons import migrate
from personsync.persons.connect import IMMEDIATE, make_engine
from personsync.persons.repo import PersonsDB


def test_fresh_database_has_every_field_column_and_is_at_head(db_url: str) -> None:
    db = PersonsDB(db_url)
    try:
        insp = inspect(db.engine)
        columns = {c["name"]: c for c in insp.get_columns("persons")}
        for spec in FIELDS:
            col = columns[spec.name]
            assert col["nullable"] == (spec.kind == "date"), spec.name
        for extra in ("id", "contact_manager_id", "created_at", "updated_at", "row_version"):
            assert extra in columns
        indexed = {tuple(ix["column_names"]) for ix in insp.get_indexes("persons")}
        assert ("row_version",) in indexed and ("contact_manager_id",) in indexed
        assert migrate.current_revisions(db.engine) == migrate.head_revisions()
        # a text column left out of an INSERT is '' (NOT NULL DEFAULT ''), not NULL
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO persons (created_at, updated_at) VALUES "
                    "(CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        (person,) = db.iter_persons()
        assert person.record == Record() and person.version == "1"
    finally:
        db.close()


def test_upgrade_is_idempotent_and_keeps_data(db_url: str) -> None:
    db = PersonsDB(db_url)
    pid = db.add(Record(first_name="Kept")).id
    before, after = migrate.upgrade(db.engine)
    assert before == after == migrate.head_revisions()
    db.close()
    db = PersonsDB(db_url)
    assert db.get(pid).record.first_name == "Kept"
    db.close()


def test_database_at_0001_is_upgraded_by_later_heads(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        conn.execution_options(**{IMMEDIATE: True})
        with conn.begin():
            command.upgrade(migrate._config(conn), "0001")
    assert migrate.current_revisions(engine) == {"0001"}
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO persons (first_name, created_at, updated_at) "
                "VALUES ('Old', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()
    if migrate.head_revisions() != {"0001"}:
        with pytest.raises(DatabaseError, match="not up to date") as info:
            PersonsDB(db_url, migrate=False)
        assert "personsync db upgrade" in info.value.hint
    db = PersonsDB(db_url)
    try:
        assert migrate.current_revisions(db.engine) == migrate.head_revisions()
        assert [p.record.first_name for p in db.iter_persons()] == ["Old"]
    finally:
        db.close()


def test_two_processes_opening_a_fresh_database_at_once(db_url: str) -> None:
    script = (
        "import sys; from personsync.persons.repo import PersonsDB; "
        "db = PersonsDB(sys.argv[1]); db.add_many([]); print(db.count()); db.close()"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, db_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    for proc, (out, errout) in zip(procs, results, strict=True):
        assert proc.returncode == 0, errout
        assert out.strip() == "0"
    engine = make_engine(db_url)
    assert migrate.current_revisions(engine) == migrate.head_revisions()
    engine.dispose()


def test_bad_urls_are_database_errors() -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        PersonsDB("/nonexistent-dir/x/people.db")
    with pytest.raises(DatabaseError) as info:
        PersonsDB("postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert "pg_ctlcluster" in info.value.hint
    with pytest.raises(DatabaseError, match="cannot use database nosuch://") as info:
        PersonsDB("nosuch://")
    assert "postgresql+psycopg://" in info.value.hint


def test_0007_adds_outlooks_other_fields_to_a_database_that_lacks_them(db_url: str) -> None:
    """A database made before 0007 (0006's schema, without the 27 fields) keeps its Persons and
    gains the columns, empty; 0007's downgrade takes them away again."""
    from importlib import import_module

    added = import_module("personsync.migrations.versions.0007_outlook_fields").ADDED
    db = PersonsDB(db_url)
    pid = db.add(Record(first_name="Old", pager="555", children=("Kim",))).id
    db.close()
    engine = make_engine(db_url)

    def columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns("persons")}

    with engine.connect() as conn:
        conn.execution_options(**{IMMEDIATE: True})
        with conn.begin():
            command.downgrade(migrate._config(conn), "0006_sync_ignored")
    assert migrate.current_revisions(engine) == {"0006_sync_ignored"}
    assert not columns() & set(added)
    assert {"first_name", "email3", "other_phone"} <= columns()
    engine.dispose()

    db = PersonsDB(db_url)  # upgrades to head
    try:
        assert set(added) <= columns()
        person = db.get(pid)
        assert person.record == Record(first_name="Old")  # its values from before 0007 stay
        db.update(pid, {"pager": "555", "children": ("Kim", "Lou")})
        assert db.get(pid).record == Record(first_name="Old", pager="555", children=("Kim", "Lou"))
    finally:
        db.close()
        engine.dispose()
