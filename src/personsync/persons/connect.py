"""Opening the Persons database: URL resolution, engine settings, and error translation."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import ExceptionContext
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError

from personsync.errors import DatabaseError

DEFAULT_PATH = "personsync.db"
ENV_VAR = "PERSONSYNC_DB"
BUSY_TIMEOUT_MS = 10_000
# Connection execution option asking SQLite for BEGIN IMMEDIATE (take the write lock up front,
# so two writers queue on the busy timeout instead of failing on a lock upgrade).
IMMEDIATE = "personsync_sqlite_immediate"
_MISSING_DB = re.compile(r'database "([^"]+)" does not exist')
PG_START_HINT = "is PostgreSQL running? start it with: pg_ctlcluster <version> main start"


def resolve_url(url: str | None) -> str:
    """None → $PERSONSYNC_DB → ./personsync.db. A plain path means SQLite."""
    chosen = url or os.environ.get(ENV_VAR) or DEFAULT_PATH
    if "://" in chosen:
        return chosen
    return URL.create("sqlite+pysqlite", database=str(Path(chosen).expanduser())).render_as_string()


def display_url(url: str) -> str:
    """The URL with any password hidden: safe to print."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(
            f"not a database URL: {url!r}",
            hint="use a SQLite path (people.db) or postgresql+psycopg://user@host/db",
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed)
    else:
        try:
            engine = create_engine(parsed, pool_pre_ping=True)
        except (ArgumentError, ImportError) as exc:
            raise DatabaseError(
                f"cannot use database {display_url(url)}: {exc}",
                hint="use a SQLite path (people.db) or postgresql+psycopg://user@host/db",
            ) from exc
        if parsed.get_backend_name() == "postgresql":
            event.listen(engine, "connect", _plan_each_execution)
    event.listen(engine, "handle_error", _translate)
    return engine


def _plan_each_execution(dbapi_conn: Any, _record: Any) -> None:
    """PostgreSQL plans every execution of a statement for its values and the tables as they
    are now, never from a plan it cached earlier. Why: psycopg prepares a statement it sends
    five times (the chunk statements of a run's link and journal writes), and PostgreSQL may
    then switch it to a generic plan, kept for the connection. One made while `sync_links` was
    still empty (a run's first chunk, no statistics) found the folder's index no dearer than
    the unique (Person, folder) one, and each delete of a link by its Person then read every
    link of the folder: 145 s of a full export of 100,000 (then one statement per row); a
    chunk statement's plan made on an empty table scans it (`persons/pg_bulk.py`). A custom
    plan sees the table's real size and the chunk's arrays' lengths; it is made once per chunk
    statement. Per connection, not process-wide."""
    cursor = dbapi_conn.cursor()
    cursor.execute("SET plan_cache_mode = force_custom_plan")
    cursor.close()
    dbapi_conn.commit()


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        parent = Path(url.database).expanduser().resolve().parent
        if not parent.is_dir():
            raise DatabaseError(
                f"cannot create the Persons database {url.database}: "
                f"the folder {parent} does not exist",
                hint="create the folder first, or pass another --db path",
            )
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control from the sqlite3 module (it would not wrap DDL, and could not
        # do BEGIN IMMEDIATE); the "begin" hook below emits BEGIN itself.
        dbapi_conn.isolation_level = None
        # SQLite's lower() folds ASCII only; PostgreSQL's folds every letter. Filters compare via
        # lower(), so give SQLite the same Unicode-aware one.
        dbapi_conn.create_function("lower", 1, _lower, deterministic=True)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _translate(context: ExceptionContext) -> None:
    """SQLAlchemy's handle_error hook: cannot connect / locked / no such folder → DatabaseError."""
    exc = context.sqlalchemy_exception
    if not isinstance(exc, OperationalError | InterfaceError):
        return
    message = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else repr(exc)
    engine = context.engine
    where = display_url(engine.url.render_as_string(hide_password=False)) if engine else ""
    backend = engine.url.get_backend_name() if engine else ""
    hint = ""
    lowered = message.lower()
    missing = _MISSING_DB.search(message)
    if backend == "postgresql" and missing:
        raise DatabaseError(
            f"database {missing[1]!r} does not exist on the server of {where}",
            hint="create it with: personsync init --create --db URL "
            f"(or: createdb {missing[1]}, as a user who may)",
        ) from exc
    if backend == "postgresql" and ("refused" in lowered or "connect" in lowered):
        hint = PG_START_HINT
    elif "locked" in lowered or "busy" in lowered:
        hint = "another personsync is writing to this database; try again when it has finished"
    elif "unable to open" in lowered:
        hint = "check that the folder exists and that you may write there"
    elif "no such table" in lowered or "does not exist" in lowered:
        hint = "run: personsync db upgrade"
    raise DatabaseError(f"database {where}: {message}", hint=hint) from exc


def create_database(url: str) -> bool:
    """Create the PostgreSQL database `url` names, connected to the server's `postgres`
    database; False when it exists already. SQLite files are made on first use anyway."""
    from sqlalchemy import text

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        return False
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            query = text("SELECT 1 FROM pg_database WHERE datname = :name")
            if conn.execute(query, {"name": parsed.database}).first():
                return False
            quoted = conn.dialect.identifier_preparer.quote(parsed.database)
            conn.execute(text(f"CREATE DATABASE {quoted}"))
        return True
    finally:
        admin.dispose()
