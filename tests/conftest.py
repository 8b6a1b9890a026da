"""Shared database fixtures (used by every part's tests; keep small and stable).

- `sqlite_url`: a SQLite file in the test's tmp_path, as a SQLAlchemy URL string.
- `pg_url`: a fresh schema of its own in database `test` on 127.0.0.1:5432, selected through the
  URL (`options=-csearch_path=<schema>`), dropped afterwards. When PostgreSQL is not reachable the
  test FAILS (it never skips) saying how to start it.
- `db_url`: parametrized over both: `[sqlite]` and `[postgresql]` (the latter carries the
  `postgres` marker, so `-m "not postgres"` runs SQLite only).
- `persons_db`: a `PersonsDB` (migrated) on `db_url`, closed afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from personsync.persons.repo import PersonsDB

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return (
        make_url("sqlite+pysqlite://").set(database=str(tmp_path / "persons.db")).render_as_string()
    )


@pytest.fixture
def pg_url() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any failure to reach the server
        admin.dispose()
        pytest.fail(
            f"PostgreSQL at 127.0.0.1:5432 (database test) is not reachable: {exc}\n"
            f"start it with: {PG_START}",
            pytrace=False,
        )
    url = make_url(PG_SERVER).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def persons_db(db_url: str) -> Iterator[PersonsDB]:
    from personsync.persons.repo import PersonsDB

    db = PersonsDB(db_url)
    try:
        yield db
    finally:
        db.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        default="",
        metavar="DIR",
        help="where the browser tests save their screenshots (`make screenshots` gives "
        "docs/screenshots); by default a temporary folder, so a test run leaves the tree as it was",
    )
