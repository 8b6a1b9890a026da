"""Sync engine tables: links, folder state, runs, journal.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Frozen copy of personsync.sync.tables as of this revision (migrations never import models).
    op.create_table(
        "sync_links",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("folder", sa.String(1000), nullable=False),
        sa.Column("item_id", sa.String(1000), nullable=False),
        sa.Column("item_version", sa.String(200), nullable=False),
        sa.Column("person_version", sa.String(200), nullable=False),
        sa.Column("baseline", sa.Text, nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("folder", "item_id", name="uq_sync_links_folder_item"),
        sa.UniqueConstraint("person_id", "folder", name="uq_sync_links_person_folder"),
    )
    op.create_table(
        "sync_folder_state",
        sa.Column("folder", sa.String(1000), primary_key=True),
        sa.Column("state", sa.Text, nullable=True),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("command", sa.String(40), nullable=False),
        sa.Column("folder", sa.String(1000), nullable=False),
        sa.Column("view", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("counts", sa.Text, nullable=False),
        sa.Column("problems", sa.Text, nullable=False),
    )
    op.create_index("ix_sync_runs_folder", "sync_runs", ["folder"])
    op.create_table(
        "sync_journal",
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("side", sa.String(10), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("folder", sa.String(1000), nullable=False),
        sa.Column("item_id", sa.String(1000), nullable=True),
        sa.Column("person_id", sa.Integer, nullable=True),
        sa.Column("before", sa.Text, nullable=True),
        sa.Column("after", sa.Text, nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_sync_journal_state", "sync_journal", ["state", "folder"])


def downgrade() -> None:
    op.drop_index("ix_sync_journal_state", table_name="sync_journal")
    op.drop_table("sync_journal")
    op.drop_index("ix_sync_runs_folder", table_name="sync_runs")
    op.drop_table("sync_runs")
    op.drop_table("sync_folder_state")
    op.drop_table("sync_links")
