"""Alembic, run programmatically on the migrations shipped inside the package.

Every head is applied (`heads`), so later migrations (0002 for the sync tables, ...) chain on 0001
without any change here. Two processes opening a fresh database at once are serialised by a lock
held for the whole upgrade: SQLite's write lock (BEGIN IMMEDIATE) or a PostgreSQL advisory lock
keyed by the schema; the second one then finds the schema current and does nothing.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from personsync.errors import DatabaseError
from personsync.persons.connect import IMMEDIATE

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def _heads() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(_config()).get_heads())


def head_revisions() -> set[str]:
    return set(_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def is_current(engine: Engine) -> bool:
    return current_revisions(engine) == head_revisions()


def upgrade(engine: Engine) -> tuple[set[str], set[str]]:
    """Bring the schema to every head; returns (revisions before, revisions after)."""
    heads = head_revisions()
    before = current_revisions(engine)
    if before == heads:
        return before, before
    unknown = before - _known_revisions()
    if unknown:
        raise DatabaseError(
            f"the database is at revision {', '.join(sorted(unknown))}, "
            "which this personsync does not know",
            hint="it was upgraded by a newer personsync; upgrade personsync",
        )
    with engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('personsync:' || current_schema()))")
            )
        command.upgrade(_config(conn), "heads")
    return before, current_revisions(engine)


def ensure_current(engine: Engine, *, migrate: bool) -> None:
    if is_current(engine):
        return
    if migrate:
        upgrade(engine)
        return
    raise DatabaseError(
        "the Persons database schema is not up to date",
        hint="run: personsync db upgrade",
    )


@functools.cache
def _known_revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(_config())
    return frozenset(rev.revision for rev in script.walk_revisions())
