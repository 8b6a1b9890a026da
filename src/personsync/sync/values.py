"""Records and field values as JSON, for the link baselines and the journal."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from itertools import chain, compress
from json.encoder import encode_basestring
from operator import add
from typing import Any

from personsync.fields import FIELD_NAMES, FIELDS
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


# Each field's key as it starts its member of a record's JSON object. The fields before
# `_PLAIN` are all text (checked): their values go through the quoting in one map, in C.
_KEYS = tuple(f"{encode_basestring(name)}:" for name in FIELD_NAMES)
_PLAIN = next(i for i, f in enumerate(FIELDS) if f.kind in ("date", "list"))
assert all(f.kind not in ("date", "list") for f in FIELDS[:_PLAIN])
_PLAIN_KEYS, _REST_KEYS = _KEYS[:_PLAIN], _KEYS[_PLAIN:]


def _json_of(value: Value) -> str:
    if value.__class__ is str:
        return encode_basestring(value)
    if isinstance(value, date):
        return f'"{value.isoformat()}"'
    assert isinstance(value, tuple)
    return f"[{','.join(map(encode_basestring, value))}]"


def record_json(record: Record) -> str:
    """`dumps(record_to_dict(record))`, the very same text, made without the dict and the
    encoder's call per record: a link's baseline and a journal entry are written for every
    record a run writes (JSON was a quarter of the engine's own bookkeeping of a full export).
    `encode_basestring` is the encoder's own quoting of text (`ensure_ascii=False`). Plain
    text, not `RawJson` (see there)."""
    values = field_values(record)
    plain, rest = values[:_PLAIN], values[_PLAIN:]
    # The non-empty fields only (most of the 65 are empty), picked in C.
    members = chain(
        map(add, compress(_PLAIN_KEYS, plain), map(encode_basestring, compress(plain, plain))),
        map(add, compress(_REST_KEYS, rest), map(_json_of, compress(rest, rest))),
    )
    return f"{{{','.join(members)}}}"


def record_from_dict(data: Mapping[str, Any]) -> Record:
    return Record.from_values(data)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class RawJson(str):
    """JSON text encoded already: `dumps` passes it through (a record's JSON, made once for a
    link's baseline, also serves the journal entry that holds the same record).

    Only for what goes through `dumps`, and handed on as plain text: the garbage collector
    tracks every object of a str subclass (plain text it never looks at), and so every dict
    and tuple holding one. A run's rows and parameters of a chunk that held them lived on
    through collections into the oldest generation, whose full collections (every object of
    the run, Records of 65 fields among them) were a quarter of an import's time."""


def dumps(data: Any) -> str:
    """Compact JSON; key order is the field table's, so equal records give equal text."""
    return str(data) if isinstance(data, RawJson) else _ENCODER.encode(data)


def text(value: str) -> str:
    """A string as JSON, as `dumps` writes it, to put into `RawJson` text."""
    return encode_basestring(value)


def written_json(item_id: str, version: str) -> RawJson:
    """`dumps({"item_id": item_id, "version": version})`: a contact write's outcome in the
    journal, one per contact written (the encoder's set-up per call cost five times this)."""
    item, ver = encode_basestring(item_id), encode_basestring(version)
    return RawJson(f'{{"item_id":{item},"version":{ver}}}')


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None
