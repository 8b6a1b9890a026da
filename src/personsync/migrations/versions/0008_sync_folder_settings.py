"""Each contact folder's settings: field rules and default conflict policy (`sync/settings.py`).

Revision ID: 0008_sync_folder_settings
Revises: 0007_outlook_fields
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_sync_folder_settings"
down_revision = "0007_outlook_fields"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Frozen copy of personsync.sync.tables.sync_folder_settings as of this revision.
    op.create_table(
        "sync_folder_settings",
        sa.Column("folder", sa.String(1000), primary_key=True),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sync_folder_settings")
