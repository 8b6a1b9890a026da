"""The sync engine's tables (SQLAlchemy Core), beside the Persons tables in the same database.

- `sync_links`: one row per (Person, contact folder): the item it is linked to, the versions both
  sides had when they last agreed, and the agreed field values (the baseline). A no-op run
  compares versions only; a later two-way merge can diff each side against the baseline.
- `sync_folder_state`: a store's opaque sync state (Graph delta link), saved after a run finishes.
- `sync_runs` and `sync_journal`: every run, and every write it made, journaled before the write.
- `sync_folder_settings`: a folder's field rules and default conflict policy (`sync/settings.py`,
  migration 0008).
- `sync_quiet`: a folder's record of its last run that found nothing to do, and the marks both
  sides had then (`sync/quiet.py`, migration 0010): the next run that finds the same marks reads
  nothing more.
- `sync_leases`: who holds a folder's lease (`sync/lease.py`): the lock itself is an OS or
  PostgreSQL lock; this row only names the holder to a run that is refused.

Migrations `0002`, `0004`, `0006`, `0008` and `0010` create them; keep them in step.
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)

metadata = MetaData()

sync_links = Table(
    "sync_links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # No foreign key on purpose: a Person deleted in the CRM leaves its link, so the next run can
    # report the contact as "its Person no longer exists" instead of silently re-creating it.
    Column("person_id", Integer, nullable=False),
    Column("folder", String(1000), nullable=False),
    Column("item_id", String(1000), nullable=False),
    Column("item_version", String(200), nullable=False, default=""),
    Column("person_version", String(200), nullable=False, default=""),
    Column("baseline", Text, nullable=False, default="{}"),
    Column("synced_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("folder", "item_id", name="uq_sync_links_folder_item"),
    UniqueConstraint("person_id", "folder", name="uq_sync_links_person_folder"),
)

# The covering index of migration 0003 (SQLite only; see there), for `ensure_tables` too.
event.listen(
    sync_links,
    "after_create",
    DDL(  # type: ignore[no-untyped-call]  # SQLAlchemy leaves DDL() untyped
        "CREATE INDEX IF NOT EXISTS ix_sync_links_versions ON sync_links "
        "(folder, person_id, item_id, item_version, person_version)"
    ).execute_if(dialect="sqlite"),
)

# Contacts a person chose to leave alone (`unlink --ignore`: a copied contact, say): runs do
# not see them at all, in either direction, until `link` pairs one with a Person.
sync_ignored = Table(
    "sync_ignored",
    metadata,
    Column("folder", String(1000), primary_key=True),
    Column("item_id", String(1000), primary_key=True),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)

sync_folder_state = Table(
    "sync_folder_state",
    metadata,
    Column("folder", String(1000), primary_key=True),
    Column("state", Text, nullable=True),
    Column("saved_at", DateTime(timezone=True), nullable=False),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("command", String(40), nullable=False),
    Column("folder", String(1000), nullable=False, default=""),
    Column("view", String(200), nullable=False, default=""),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    # running → clean | done (with skipped records) | failed; interrupted
    Column("status", String(20), nullable=False),
    Column("counts", Text, nullable=False, default="{}"),
    Column("problems", Text, nullable=False, default="[]"),
    Index("ix_sync_runs_folder", "folder"),
)

sync_journal = Table(
    "sync_journal",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("side", String(10), nullable=False),  # contact | person
    Column("action", String(20), nullable=False),  # create | update | link | delete | restore
    Column("folder", String(1000), nullable=False, default=""),
    Column("item_id", String(1000), nullable=True),
    Column("person_id", Integer, nullable=True),
    Column("before", Text, nullable=True),  # JSON: record, version, customer_id, link
    Column("after", Text, nullable=True),  # JSON, filled in once the write succeeded
    Column("state", String(10), nullable=False),  # intent | done | failed
    Column("error", Text, nullable=True),
    Index("ix_sync_journal_state", "state", "folder"),
)

sync_leases = Table(
    "sync_leases",
    metadata,
    Column("folder", String(1000), primary_key=True),
    Column("run_id", String(40), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("host", String(255), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
)

# A folder's settings (`personsync rules`): its field rules and default conflict policy, JSON.
sync_folder_settings = Table(
    "sync_folder_settings",
    metadata,
    Column("folder", String(1000), primary_key=True),
    Column("settings", Text, nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
)

# A folder's last run that found nothing to do (`sync/quiet.py`): what the run was (a digest of
# its direction, view, rules and options), the marks of both sides before it read them, and its
# plan's sizes. Deleted by every write to the folder's links and by every run that is not quiet.
sync_quiet = Table(
    "sync_quiet",
    metadata,
    Column("folder", String(1000), primary_key=True),
    Column("run_key", String(64), nullable=False),
    Column("persons_mark", String(200), nullable=False),
    Column("folder_mark", String(200), nullable=False),
    Column("plan", Text, nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
)
