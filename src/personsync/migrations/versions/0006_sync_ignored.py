"""Contacts a person chose to leave alone in a folder (`personsync unlink --ignore`).

Revision ID: 0006_sync_ignored
Revises: 0005_profiles
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_sync_ignored"
down_revision = "0005_profiles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Frozen copy of personsync.sync.tables.sync_ignored as of this revision.
    op.create_table(
        "sync_ignored",
        sa.Column("folder", sa.String(1000), primary_key=True),
        sa.Column("item_id", sa.String(1000), primary_key=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sync_ignored")
