"""Outlook's other contact fields: file as, initials, yomi names, profession, office, manager,
assistant, IM addresses, spouse, children and twelve more phones (issue 15 item 6).

Revision ID: 0007_outlook_fields
Revises: 0006_sync_ignored
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from personsync.fields import BY_NAME
from personsync.persons.schema import field_column

revision = "0007_outlook_fields"
down_revision = "0006_sync_ignored"
branch_labels = None
depends_on = None

# Frozen: the fields this revision added. A database made by 0001 after they joined
# fields.FIELDS already has them (see 0001), so each is added only when missing.
ADDED = (
    "initials", "file_as", "yomi_first_name", "yomi_last_name", "yomi_company", "profession",
    "office_location", "manager", "assistant_name", "im_address", "im_address2", "im_address3",
    "home_phone2", "home_fax", "other_fax", "primary_phone", "company_main_phone",
    "assistant_phone", "callback_phone", "car_phone", "isdn", "pager", "radio_phone", "telex",
    "tty_phone", "spouse_name", "children",
)  # fmt: skip


def _existing() -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns("persons")}


def upgrade() -> None:
    existing = _existing()
    for name in ADDED:
        if name not in existing:
            # Text columns are NOT NULL DEFAULT '': existing rows get '' (no table rewrite on
            # PostgreSQL 11+, a plain ADD COLUMN on SQLite).
            op.add_column("persons", field_column(BY_NAME[name]))


def downgrade() -> None:
    existing = _existing()
    with op.batch_alter_table("persons") as batch:
        for name in ADDED:
            if name in existing:
                batch.drop_column(name)
