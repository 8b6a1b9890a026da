"""Records and field values as JSON, for the link baselines and the journal."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from personsync.fields import FIELD_NAMES
from personsync.model import Record, Value


def value_to_json(value: Value) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def record_to_dict(record: Record) -> dict[str, Any]:
    """Only the non-empty fields: most of a record is empty, and links and the journal hold
    100,000s of them (this runs once per written record, so it avoids Record.values())."""
    out: dict[str, Any] = {}
    for name in FIELD_NAMES:
        value = getattr(record, name)
        if value:
            out[name] = value_to_json(value) if not isinstance(value, str) else value
    return out


def record_from_dict(data: Mapping[str, Any]) -> Record:
    return Record.from_values(data)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(data: Any) -> str:
    """Compact JSON; key order is the field table's, so equal records give equal text."""
    return _ENCODER.encode(data)


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None
