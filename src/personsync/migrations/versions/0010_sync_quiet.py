"""Each contact folder's record of its last run that found nothing to do (`sync/quiet.py`).

Revision ID: 0010_sync_quiet
Revises: 0009_persons_updated_at_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_sync_quiet"
down_revision = "0009_persons_updated_at_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Frozen copy of personsync.sync.tables.sync_quiet as of this revision.
    op.create_table(
        "sync_quiet",
        sa.Column("folder", sa.String(1000), primary_key=True),
        sa.Column("run_key", sa.String(64), nullable=False),
        sa.Column("persons_mark", sa.String(200), nullable=False),
        sa.Column("folder_mark", sa.String(200), nullable=False),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sync_quiet")
