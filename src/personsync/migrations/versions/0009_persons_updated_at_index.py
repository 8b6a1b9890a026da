"""An index on `persons.updated_at`: which Persons were written since a moment.

The web console keeps each view's order and mends it after a change (web/view_pages.py): it
asks for the Persons written in the last minute or so. Without this index that question scans
the whole table (tens of ms on SQLite, over 100 ms on PostgreSQL at 100,000 Persons); with it,
it reads a few index entries.

Revision ID: 0009_persons_updated_at_index
Revises: 0008_sync_folder_settings
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_persons_updated_at_index"
down_revision = "0008_sync_folder_settings"
branch_labels = None
depends_on = None

INDEX = "ix_persons_updated_at"


def upgrade() -> None:
    # A database made by 0001 after the schema gained the index has it already.
    found = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("persons")}
    if INDEX not in found:
        op.create_index(INDEX, "persons", ["updated_at"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="persons")
