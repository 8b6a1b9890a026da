"""Alembic, run programmatically on the migrations shipped inside the package.

Every head is applied (`heads`), so later migrations (0002 for the sync tables, ...) chain on 0001
without any change here. Two processes opening a fresh database at once are serialised by a lock
held for the whole upgrade: SQLite's write lock (BEGIN IMMEDIATE) or a PostgreSQL advisory lock
keyed by the schema; the second one then finds the schema current and does nothing.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from personsync.errors import DatabaseError
from personsync.persons.connect import IMMEDIATE

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_REVISION = re.compile(r"^(down_)?revision\b[^=]*=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def _heads() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(_config()).get_heads())


@functools.cache
def _declared_heads() -> frozenset[str]:
    """The heads as the migration files declare them (`revision = "0003"`, `down_revision =
    "0002"`), read without Alembic: importing it costs a third of a second that a run on a
    current database need not pay. Only used to say "current"; any doubt goes to Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (parents if down else revisions).update(_QUOTED.findall(value))
    return frozenset(revisions - parents)


def head_revisions() -> set[str]:
    return set(_heads())


def current_revisions(engine: Engine) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def is_current(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            found = {
                row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))
            }
    except (SQLAlchemyError, DatabaseError):  # no such table yet: a new database
        found = set()
    if found and found == _declared_heads():
        return True
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
        from alembic import command

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
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config())
    return frozenset(rev.revision for rev in script.walk_revisions())
