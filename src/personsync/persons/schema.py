"""The Persons tables (SQLAlchemy Core), built from the mapping table.

A Person has one column per field of `fields.FIELDS`, with the same name; text columns are
NOT NULL DEFAULT '' (an empty value is '', never NULL, so comparisons need no COALESCE), dates
are DATE (NULL when empty), categories are text joined by "; ".
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from personsync.fields import FIELDS, FieldSpec

metadata = MetaData()

# Every new Person's `row_version` (its version is this as text): an importer that has just
# inserted Persons knows their versions without reading them back.
FIRST_VERSION = 1


def field_column(spec: FieldSpec) -> Column[object]:
    """The column of one mapped field (used by the table below and by migration 0001)."""
    if spec.kind == "date":
        return Column(spec.name, Date, nullable=True)
    return Column(spec.name, Text, nullable=False, server_default=text("''"), default="")


def person_columns() -> list[Column[object]]:
    """Every column of `persons`, in order; fresh objects on each call (a Column has one table)."""
    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        *(field_column(spec) for spec in FIELDS),
        # The hidden link to a contact; never part of a Record, never shown in ordinary listings.
        Column("contact_manager_id", String(1000), nullable=True, index=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        # Indexed: the console asks which Persons were written since a moment (migration 0009).
        Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
        # The change marker: FIRST_VERSION for a new Person, +1 on every write that changes a
        # mapped field. Indexed so that `versions()` is one index-only scan.
        Column(
            "row_version",
            Integer,
            nullable=False,
            server_default=text(str(FIRST_VERSION)),
            index=True,
        ),
    ]


def view_columns() -> list[Column[object]]:
    return [
        Column("name", String(200), primary_key=True),
        Column("filter", Text, nullable=False, server_default=text("''")),
        Column("sort", Text, nullable=False, server_default=text("''")),
        Column("created_at", DateTime(timezone=True), nullable=False),
    ]


# sqlite_autoincrement: never reuse a deleted Person's id (contacts carry it as Customer ID).
persons = Table("persons", metadata, *person_columns(), sqlite_autoincrement=True)
views = Table("views", metadata, *view_columns())
