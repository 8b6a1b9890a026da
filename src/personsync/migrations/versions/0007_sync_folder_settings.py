"""Each contact folder's settings: field rules and default conflict policy (`sync/settings.py`).

Also the one head after main's two 0006 revisions (Outlook fields, ignored contacts).

Revision ID: 0007_sync_folder_settings
Revises: 0006_outlook_fields, 0006_sync_ignored
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_sync_folder_settings"
down_revision = ("0006_outlook_fields", "0006_sync_ignored")
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
