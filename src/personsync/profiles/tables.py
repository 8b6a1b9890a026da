"""The tables of saved sync profiles and of the web console's settings (migration 0005).

- `sync_profiles`: one row per profile: what to run (direction, folder, view, guard share,
  engine options as JSON), when (every N minutes or a cron expression), and how the last run went.
- `web_settings`: key → value for the web console (the administrator's password hash, the
  session-signing key). Kept in the database so that `serve` and `serve --set-password` agree
  without a file of their own; never shown in a page.
- `decision_dismissals`: decisions a person chose to ignore in the Decisions queue.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

sync_profiles = Table(
    "sync_profiles",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("direction", String(20), nullable=False),
    Column("folder", String(1000), nullable=False),
    Column("view", String(200), nullable=False, default=""),
    Column("max_change", Float, nullable=False, default=50.0),
    Column("options", Text, nullable=False, default="{}"),
    Column("every_minutes", Integer, nullable=True),
    Column("cron", String(200), nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_run_at", DateTime(timezone=True), nullable=True),
    Column("last_run_at", DateTime(timezone=True), nullable=True),
    Column("last_run_id", String(40), nullable=True),
    Column("last_status", String(20), nullable=True),
    Column("last_error", Text, nullable=True),
)

web_settings = Table(
    "web_settings",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

decision_dismissals = Table(
    "decision_dismissals",
    metadata,
    Column("folder", String(1000), primary_key=True),
    Column("key", String(1000), primary_key=True),
    Column("dismissed_at", DateTime(timezone=True), nullable=False),
)
