"""The holder of each contact folder's lease (one run at a time per folder, `sync/lease.py`).

Revision ID: 0004_sync_leases
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_sync_leases"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Frozen copy of personsync.sync.tables.sync_leases as of this revision.
    op.create_table(
        "sync_leases",
        sa.Column("folder", sa.String(1000), primary_key=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sync_leases")
