"""Conversion between Records and rows of the `persons` table."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from personsync.errors import UsageError
from personsync.fields import BY_NAME, FIELD_NAMES
from personsync.model import (
    REPEATED_FIELDS,
    Person,
    Record,
    Value,
    coerce,
    field_values,
    join_categories,
    record_of,
    split_categories,
)
from personsync.persons.filter_fields import suggest
from personsync.persons.schema import persons

_LIST_AT = tuple(i for i, n in enumerate(FIELD_NAMES) if BY_NAME[n].kind == "list")
_TEXT_AT = tuple(i for i, n in enumerate(FIELD_NAMES) if BY_NAME[n].kind not in ("list", "date"))
_TEXT_VALUES = operator.itemgetter(*_TEXT_AT)  # a row's text values in one C call
# Rows are read by position (the hot path of every listing and sync): `persons` has the columns
# id, <every field in FIELDS order>, contact_manager_id, created_at, updated_at, row_version, and
# Record's attributes are in FIELDS order too.
assert tuple(f.name for f in dataclasses.fields(Record)) == FIELD_NAMES
assert tuple(c.name for c in persons.columns) == (
    "id",
    *FIELD_NAMES,
    "contact_manager_id",
    "created_at",
    "updated_at",
    "row_version",
)
_N = len(FIELD_NAMES)


def record_values(record: Record) -> list[object]:
    """A Record's values as stored, in FIELDS order: categories joined by "; "."""
    values: list[object] = list(field_values(record))
    for i in _LIST_AT:
        values[i] = join_categories(values[i])  # type: ignore[arg-type]
    return values


def record_row(record: Record) -> dict[str, object]:
    """A Record's values as stored, by field name."""
    return dict(zip(FIELD_NAMES, record_values(record), strict=True))


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


# Text fields whose values repeat (categories are a list: shared whole, by their stored text).
_SHARED_AT = tuple(
    i for i, n in enumerate(FIELD_NAMES) if n in REPEATED_FIELDS and i not in _LIST_AT
)


def row_person(row: Sequence[Any], shared: dict[Any, Any] | None = None) -> Person:
    """A Person from a row of `select(persons)` (all columns, in table order). With `shared`
    (a dict the caller keeps for one listing), repeated values are one object (`model.share`;
    written out here: this runs for every Person of a listing)."""
    values = list(row[1 : _N + 1])
    if None in _TEXT_VALUES(values):  # cannot happen with NOT NULL, but never hand on a None
        for i in _TEXT_AT:
            if values[i] is None:
                values[i] = ""
    if shared is None:
        for i in _LIST_AT:
            values[i] = split_categories(values[i] or "")
    else:
        for i in _SHARED_AT:
            value = values[i]
            if value:
                values[i] = shared.setdefault(value, value)
        for i in _LIST_AT:
            key = ("list", values[i] or "")  # a key no text value can equal
            split = shared.get(key)
            if split is None:
                split = shared[key] = split_categories(key[1])
            values[i] = split
    return Person(
        id=int(row[0]),
        record=record_of(values),
        version=str(row[_N + 4]),
        contact_manager_id=row[_N + 1],
        created_at=utc(row[_N + 2]),
        updated_at=utc(row[_N + 3]),
    )
