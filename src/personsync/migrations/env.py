"""Alembic environment: runs on the connection personsync hands over (persons/migrate.py).

No alembic.ini and no logging setup: the caller owns the connection and its transaction (and the
lock that keeps two processes from migrating at once).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("personsync migrations run only through personsync.persons.migrate")

context.configure(
    connection=connection,
    target_metadata=None,
    # SQLite runs DDL in a transaction too (the engine emits BEGIN itself), so a failed upgrade
    # leaves nothing half-done.
    transactional_ddl=True,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
