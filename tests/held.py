"""What a Record holds, as the garbage collector sees it (for the tests of `model._Sparse`)."""

from __future__ import annotations

import gc
from typing import Any

from personsync.model import Record, field_values


def held(record: Record) -> tuple[Any, ...]:
    """The one tuple the collector walks from a Record (its class aside)."""
    (values,) = [ref for ref in gc.get_referents(record) if not isinstance(ref, type)]
    assert type(values) is tuple
    return values


def assert_holds_its_set_values_only(record: Record) -> None:
    """A Record read from a folder: its set values, then their fields' indices as bytes."""
    stored = held(record)
    fields = stored[-1]
    assert type(fields) is bytes and len(stored) == len(fields) + 1
    set_values = {i: v for i, v in enumerate(field_values(record)) if v}
    assert dict(zip(fields, stored, strict=False)) == set_values
