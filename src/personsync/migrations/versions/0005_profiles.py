"""Saved sync profiles, the web console's settings, dismissed decisions.

Revision ID: 0005_profiles
Revises: 0004_sync_leases
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_profiles"
down_revision = "0004_sync_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Frozen copy of personsync.profiles.tables as of this revision.
    op.create_table(
        "sync_profiles",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("direction", sa.String(20), nullable=False),
        sa.Column("folder", sa.String(1000), nullable=False),
        sa.Column("view", sa.String(200), nullable=False, server_default=""),
        sa.Column("max_change", sa.Float, nullable=False, server_default="50"),
        sa.Column("options", sa.Text, nullable=False, server_default="{}"),
        sa.Column("every_minutes", sa.Integer, nullable=True),
        sa.Column("cron", sa.String(200), nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.String(40), nullable=True),
        sa.Column("last_status", sa.String(20), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_table(
        "web_settings",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "decision_dismissals",
        sa.Column("folder", sa.String(1000), primary_key=True),
        sa.Column("key", sa.String(1000), primary_key=True),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("decision_dismissals")
    op.drop_table("web_settings")
    op.drop_table("sync_profiles")
