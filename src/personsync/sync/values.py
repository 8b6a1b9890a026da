"""Records and field values as JSON, for the link baselines and the journal."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from itertools import compress
from typing import Any

from personsync.fields import FIELD_NAMES
from personsync.model import Record, Value, field_values


def value_to_json(value: Value) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def record_to_dict(record: Record) -> dict[str, Any]:
    """Only the non-empty fields: most of a record is empty, and links and the journal hold
    100,000s of them (this runs once per written record, so it avoids Record.values())."""
    values = field_values(record)
    # The non-empty fields' names and values, picked in C: most of the 65 fields are empty.
    return {
        name: value if value.__class__ is str else value_to_json(value)
        for name, value in zip(compress(FIELD_NAMES, values), compress(values, values), strict=True)
    }


def record_from_dict(data: Mapping[str, Any]) -> Record:
    return Record.from_values(data)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class RawJson(str):
    """JSON text encoded already: `dumps` passes it through (a record's JSON, made once for a
    link's baseline, also serves the journal entry that holds the same record)."""


def dumps(data: Any) -> str:
    """Compact JSON; key order is the field table's, so equal records give equal text."""
    return data if isinstance(data, RawJson) else _ENCODER.encode(data)


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None
