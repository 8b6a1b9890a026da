"""Conversion between Records and rows of the `persons` table."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from personsync.errors import UsageError
from personsync.fields import BY_NAME, FIELD_NAMES
from personsync.model import Person, Record, Value, coerce, join_categories, split_categories
from personsync.persons.filter_fields import suggest


def to_column(name: str, value: Value) -> object:
    """A field's value as stored: text as is, dates as dates, categories joined by "; "."""
    if BY_NAME[name].kind == "list":
        return join_categories(value if isinstance(value, tuple) else coerce(name, value) or ())  # type: ignore[arg-type]
    return value


def record_row(record: Record) -> dict[str, object]:
    return {name: to_column(name, getattr(record, name)) for name in FIELD_NAMES}


def change_row(changes: Mapping[str, Value]) -> dict[str, Value]:
    """Validate and type the changes of an update (UsageError naming an unknown field)."""
    out: dict[str, Value] = {}
    for name, value in changes.items():
        if name not in BY_NAME:
            raise UsageError(f"unknown field {name!r}", hint=suggest(name))
        try:
            out[name] = coerce(name, value)
        except ValueError as exc:
            raise UsageError(
                f"{name}: {value!r} is not a date", hint="write dates as YYYY-MM-DD"
            ) from exc
    return out


def utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive timestamps; they were written in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


_LISTS = frozenset(n for n in FIELD_NAMES if BY_NAME[n].kind == "list")


def _field_value(name: str, raw: Any) -> Value:
    # Hot path (every Person read): the columns already hold typed values except categories.
    if name in _LISTS:
        return split_categories(raw or "")
    return "" if raw is None and BY_NAME[name].kind != "date" else raw


def row_person(row: Mapping[Any, Any]) -> Person:
    record = Record(**{name: _field_value(name, row[name]) for name in FIELD_NAMES})  # type: ignore[arg-type]
    return Person(
        id=int(row["id"]),
        record=record,
        version=str(row["row_version"]),
        contact_manager_id=row["contact_manager_id"],
        created_at=utc(row["created_at"]),
        updated_at=utc(row["updated_at"]),
    )
