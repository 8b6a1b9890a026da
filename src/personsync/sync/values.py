"""Records and field values as JSON, for the link baselines and the journal."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from personsync.model import Record, Value


def value_to_json(value: Value) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def record_to_dict(record: Record, skip: Iterable[str] = ()) -> dict[str, Any]:
    """Only the non-empty fields: most of a record is empty, and the journal holds 100,000s."""
    left_out = set(skip)
    return {k: value_to_json(v) for k, v in record.non_empty().items() if k not in left_out}


def record_from_dict(data: Mapping[str, Any]) -> Record:
    return Record.from_values(data)


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None
