"""Emptying an extended property (Customer ID, fax, other phone, anniversary).

No Microsoft page documents removing an extended property or writing `null` to one ("Outlook
extended properties overview" documents create and get only). A text property is emptied with
`""`; a PATCH the service refuses (400) while it empties properties is sent again without them, so
the contact's other changes are saved, and the properties left out are reported (docs/graph.md,
U2).
"""

from __future__ import annotations

from typing import Any

from personsync.fields import CUSTOMER_ID_GRAPH
from personsync.graph import mapping
from personsync.graph.client import GraphClient, Reply

_NAMES = {t.prop.casefold(): name for name, t in mapping.TARGETS.items() if t.kind == "ext"}


def field_name(prop_id: str) -> str:
    """The field an extended property holds, in the user's words."""
    if prop_id.casefold() == CUSTOMER_ID_GRAPH.casefold():
        return "Customer ID"
    return _NAMES.get(prop_id.casefold(), prop_id).replace("_", " ")


def resend_without_emptied(
    client: GraphClient, requests: list[dict[str, Any]], replies: dict[str, Reply], *, what: str
) -> dict[str, list[str]]:
    """PATCH requests refused (400) that empty extended properties are sent again without those.
    Updates `replies` in place; returns the names of the fields left out, by request id."""
    again: list[dict[str, Any]] = []
    dropped: dict[str, list[str]] = {}
    for r in requests:
        ext = r["body"].get("singleValueExtendedProperties") or []
        emptied = [p for p in ext if p.get("value") in (None, "")]
        if replies[r["id"]].status != 400 or not emptied:
            continue
        body = {k: v for k, v in r["body"].items() if k != "singleValueExtendedProperties"}
        kept = [p for p in ext if p not in emptied]
        if kept:
            body["singleValueExtendedProperties"] = kept
        dropped[r["id"]] = [field_name(str(p["id"])) for p in emptied]
        if body:
            again.append({**r, "body": body})
    if again:
        replies.update(client.batch(again, what=what))
    return dropped
