"""Persons and views.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from personsync.persons.schema import person_columns, view_columns

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Trade-off: a migration should be frozen in time, but spelling 38 columns out here would create a
# second list of field names beside fields.FIELDS. We build the columns from the live table
# helper instead. The rule that keeps this safe: when FIELDS gains a field, the new migration adds
# the column only if it is missing (a fresh database already has it from this one).


def upgrade() -> None:
    op.create_table("persons", *person_columns(), sqlite_autoincrement=True)
    op.create_table("views", *view_columns())


def downgrade() -> None:
    op.drop_table("views")
    op.drop_table("persons")
