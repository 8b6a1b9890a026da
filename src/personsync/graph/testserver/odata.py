"""The OData query options the test server understands: `$select`, `$top`, `$filter` (on
extended properties and e-mail addresses), `$expand` of extended properties, and the opaque
`$skiptoken`/`$deltatoken` values. Anything else is refused with 400, like the service does for
unsupported queries.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from personsync.graph.testserver.state import GraphFault, StoredContact

_EXT_FILTER = re.compile(
    r"^singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*\1/id\s+eq\s+'([^']*)'\s+and\s+"
    r"\1/value\s+eq\s+'((?:[^']|'')*)'\s*\)$",
    re.IGNORECASE,
)
_EMAIL_FILTER = re.compile(
    r"^emailAddresses/any\(\s*(\w+)\s*:\s*\1/address\s+eq\s+'((?:[^']|'')*)'\s*\)$",
    re.IGNORECASE,
)
_EXPAND = re.compile(
    r"^singleValueExtendedProperties(?:\(\s*\$filter=(.*)\))?$", re.IGNORECASE | re.DOTALL
)
_ID_EQ = re.compile(r"^\s*id\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)

Predicate = Callable[[StoredContact], bool]


def parse_filter(text: str) -> Predicate:
    m = _EXT_FILTER.match(text.strip())
    if m:
        # "Filtering the value property of an extended property is case-insensitive."
        prop_id, value = m.group(2).casefold(), m.group(3).replace("''", "'").casefold()
        return lambda c: str((c.ext.get(prop_id) or {}).get("value")).casefold() == value
    m = _EMAIL_FILTER.match(text.strip())
    if m:
        address = m.group(2).replace("''", "'").casefold()
        return lambda c: any(
            str((e or {}).get("address", "")).casefold() == address
            for e in c.data.get("emailAddresses") or []
        )
    raise GraphFault(
        400, "ErrorInvalidUrlQueryFilter", f"The query filter '{text}' is not supported."
    )


def parse_expand(text: str) -> set[str] | None:
    """The extended-property ids (lower-cased) to expand; None means no $expand."""
    if not text:
        return None
    m = _EXPAND.match(text.strip())
    if not m:
        raise GraphFault(400, "BadRequest", f"Parsing OData Select and Expand failed: {text}")
    if m.group(1) is None:
        return set()
    ids: set[str] = set()
    for part in re.split(r"\s+or\s+", m.group(1), flags=re.IGNORECASE):
        one = _ID_EQ.match(part)
        if not one:
            raise GraphFault(
                400, "ErrorInvalidUrlQueryFilter", f"Unsupported $expand filter: {part}"
            )
        ids.add(one.group(1).casefold())
    return ids


def parse_select(text: str) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


def shape(
    stored: StoredContact, select: list[str] | None, expand: set[str] | None
) -> dict[str, Any]:
    """A contact as the service returns it."""
    data = stored.data
    if select is None:
        out = dict(data)
    else:
        out = {"@odata.etag": data["@odata.etag"], "id": data["id"]}
        for name in select:
            if name in data:
                out[name] = data[name]
    if expand is not None:
        props = [p for k, p in stored.ext.items() if not expand or k in expand]
        if props:
            out["singleValueExtendedProperties"] = props
    return out


def encode_token(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise GraphFault(400, "BadRequest", "The sync state token is malformed.") from exc
    if not isinstance(payload, dict):
        raise GraphFault(400, "BadRequest", "The sync state token is malformed.")
    return payload


def parse_int(text: str | None, name: str) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise GraphFault(400, "BadRequest", f"Invalid value for {name}: {text}") from exc


def page_size_preference(prefer: str) -> int | None:
    m = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", prefer or "", re.IGNORECASE)
    return int(m.group(1)) if m else None
