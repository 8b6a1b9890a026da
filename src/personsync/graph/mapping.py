"""Record ⇄ Microsoft Graph contact JSON, driven by the `graph` column of `fields.FIELDS`.

Shapes follow the real service: unset strings come back as `null` or `""`, an unset address as
`{}`, empty lists as `[]`, birthdays as `YYYY-MM-DDT11:59:00Z`, extended-property ids lower-cased.
Updates send only what changed, but an address, `emailAddresses`, `businessPhones` and
`homePhones` always whole (Graph replaces them whole).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from personsync.fields import CUSTOMER_ID_GRAPH, FIELDS, FieldSpec
from personsync.model import Contact, Record, Value, diff, is_empty, record_from

_SLOT = re.compile(r"^(\w+)\[(\d+)\]$")


@dataclass(frozen=True, slots=True)
class Target:
    """Where one field lives in the Graph contact."""

    kind: str  # "plain" | "slot" | "address" | "ext"
    prop: str  # top-level property (or the extended property id for "ext")
    member: str = ""  # address member
    index: int = 0  # list slot


def _target(spec: FieldSpec) -> Target:
    g = spec.graph
    if g.startswith("ext:"):
        return Target("ext", g[4:])
    m = _SLOT.match(g)
    if m:
        return Target("slot", m.group(1), index=int(m.group(2)))
    if "." in g:
        prop, member = g.split(".", 1)
        return Target("address", prop, member=member)
    return Target("plain", g)


TARGETS: dict[str, Target] = {f.name: _target(f) for f in FIELDS}
KINDS: dict[str, str] = {f.name: f.kind for f in FIELDS}
# Outlook's contact fields that no Person field holds (MAPI ids in docs/fields.md). They are
# read only to be reported ("not synced") on import: a value Outlook holds never vanishes
# silently. Updates never send them, so Outlook keeps them.
_USER_FIELD = "String {{00062004-0000-0000-C000-000000000046}} Id 0x{:X}"  # PSETID_Address
NOT_SYNCED: dict[str, str] = {
    "String 0x3A00": "Account",
    "String 0x3A07": "Government ID number",
    "String 0x3A0C": "Language",
    "String 0x3A0D": "Location",
    "String 0x3A10": "Organizational ID number",
    "String 0x3A2B": "Business address PO box",
    "String 0x3A43": "Hobbies",
    "String 0x3A47": "Referred by",
    "String 0x3A49": "Computer network name",
    "String 0x3A50": "Personal home page",
    "String 0x3A5E": "Home address PO box",
    "String 0x3A64": "Other address PO box",
    **{_USER_FIELD.format(0x804F + i): f"User field {i + 1}" for i in range(4)},
}
_NOT_SYNCED = {prop_id.casefold(): label for prop_id, label in NOT_SYNCED.items()}
EXT_IDS: tuple[str, ...] = (
    CUSTOMER_ID_GRAPH,
    *sorted({t.prop for t in TARGETS.values() if t.kind == "ext"}),
    *NOT_SYNCED,
)
# Every top-level property the table maps, for `$select`.
SELECT: tuple[str, ...] = (
    "id",
    "changeKey",
    "displayName",
    *sorted({t.prop for t in TARGETS.values() if t.kind != "ext"}),
)
_SLOTS: dict[str, int] = {}
for _t in TARGETS.values():
    if _t.kind == "slot":
        _SLOTS[_t.prop] = max(_SLOTS.get(_t.prop, 0), _t.index + 1)
SLOT_CAPACITY: dict[str, int] = _SLOTS  # list property → how many slots the record has


def expand_param() -> str:
    """The `$expand` that brings back Customer ID and the `ext:` fields."""
    ors = " or ".join(f"id eq '{i}'" for i in EXT_IDS)
    return f"singleValueExtendedProperties($filter={ors})"


def customer_id_filter(customer_id: str) -> str:
    value = customer_id.replace("'", "''")
    return (
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{CUSTOMER_ID_GRAPH}' "
        f"and ep/value eq '{value}')"
    )


# --- Graph → Record --------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _date(value: Any) -> date | None:
    # Birthdays come back as that day at 11:59:00Z (or another time): only the date counts.
    if not value:
        return None
    return date.fromisoformat(str(value)[:10])


def _slot_value(prop: str, item: Any) -> str:
    if prop == "emailAddresses":
        return _text(item.get("address") if isinstance(item, dict) else item)
    return _text(item)


def ext_values(item: dict[str, Any]) -> dict[str, str | None]:
    """Extended properties by lower-cased id (the service echoes ids lower-cased)."""
    out: dict[str, str | None] = {}
    for prop in item.get("singleValueExtendedProperties") or []:
        out[str(prop.get("id", "")).casefold()] = prop.get("value")
    return out


def contact_from_graph(item: dict[str, Any]) -> Contact:
    """A Graph contact (with its expanded extended properties) as a `Contact`."""
    ext = ext_values(item)
    values: dict[str, Value] = {}
    for name, t in TARGETS.items():
        raw: Any
        if t.kind == "plain":
            raw = item.get(t.prop)
        elif t.kind == "address":
            raw = (item.get(t.prop) or {}).get(t.member)
        elif t.kind == "slot":
            items = item.get(t.prop) or []
            raw = _slot_value(t.prop, items[t.index]) if t.index < len(items) else None
        else:
            raw = ext.get(t.prop.casefold())
        if KINDS[name] == "date":
            values[name] = _date(raw)
        elif KINDS[name] == "list":
            values[name] = tuple(str(v) for v in raw or ())
        else:
            values[name] = _text(raw)
    unmapped: list[str] = []
    if len(ext) > 1:  # more than Customer ID: one of them may be a field no Person holds
        for prop_id, value in ext.items():
            label = _NOT_SYNCED.get(prop_id)
            if label and value not in (None, ""):
                shown = str(value) if len(str(value)) <= 60 else str(value)[:57] + "..."
                unmapped.append(f"{label} {shown!r}: not synced (no Person field; kept in Outlook)")
    lists = {prop: list(item.get(prop) or []) for prop in SLOT_CAPACITY}
    for prop, capacity in SLOT_CAPACITY.items():
        for extra in lists[prop][capacity:]:
            unmapped.append(f"{prop}: {_slot_value(prop, extra)} (no free slot)")
    return Contact(
        record=record_from(values),  # typed already; keeps only the set values (model._Sparse)
        item_id=_text(item.get("id")),
        version=_text(item.get("changeKey")),
        customer_id=_text(ext.get(CUSTOMER_ID_GRAPH.casefold())),
        extra=lists,
        unmapped=tuple(unmapped),
    )


# --- Record → Graph --------------------------------------------------------------------------


def _out_text(value: Value) -> str | None:
    return None if is_empty(value) else str(value)


def _out_date(value: Value) -> str | None:
    return f"{value.isoformat()}T11:59:00Z" if isinstance(value, date) else None


def _list_value(prop: str, record: Record, kept: list[Any]) -> list[Any]:
    """A whole list property: the record's slots, then values beyond them kept as they were."""
    capacity = SLOT_CAPACITY[prop]
    slots = [""] * capacity
    for name, t in TARGETS.items():
        if t.kind == "slot" and t.prop == prop:
            slots[t.index] = str(getattr(record, name))
    beyond = kept[capacity:]
    if prop != "emailAddresses":
        return [s for s in slots if s] + beyond
    names = {
        str(e.get("address", "")).casefold(): e.get("name") for e in kept if isinstance(e, dict)
    }
    out = [{"address": s, "name": names.get(s.casefold()) or s} for s in slots if s]
    return out + beyond


def _prop_value(
    prop: str, record: Record, extra: dict[str, list[Any]], *, whole: bool = False
) -> Any:
    if prop in SLOT_CAPACITY:
        return _list_value(prop, record, extra.get(prop, []))
    members = {t.member: name for name, t in TARGETS.items() if t.prop == prop and t.member}
    if members:
        # A PATCH must send the address whole, emptied members as null, or they would stay.
        values = {m: _out_text(getattr(record, n)) for m, n in members.items()}
        return values if whole else {m: v for m, v in values.items() if v is not None}
    name = next(n for n, t in TARGETS.items() if t.prop == prop)
    value = getattr(record, name)
    if KINDS[name] == "date":
        return _out_date(value)
    if KINDS[name] == "list":
        return list(value)
    return _out_text(value)


def _ext_entry(prop_id: str, record: Record) -> dict[str, Any]:
    name = next(n for n, t in TARGETS.items() if t.kind == "ext" and t.prop == prop_id)
    value = getattr(record, name)
    # An emptied text is written as "" (a documented string value); no page documents `null`.
    text = _out_date(value) if KINDS[name] == "date" else (_out_text(value) or "")
    return {"id": prop_id, "value": text}


def create_body(contact: Contact) -> dict[str, Any]:
    """The POST body of a new contact: every non-empty field, Customer ID as extended property."""
    extra: dict[str, list[Any]] = contact.extra if isinstance(contact.extra, dict) else {}
    record = contact.record
    body: dict[str, Any] = {}
    for prop in sorted({t.prop for t in TARGETS.values() if t.kind != "ext"}):
        value = _prop_value(prop, record, extra)
        if value not in (None, [], {}):
            body[prop] = value
    if any(getattr(record, n) for n in ("first_name", "middle_name", "last_name")):
        body["displayName"] = record.display_name
    ext = [
        _ext_entry(t.prop, record)
        for name, t in TARGETS.items()
        if t.kind == "ext" and not is_empty(getattr(record, name))
    ]
    if contact.customer_id:
        ext.insert(0, {"id": CUSTOMER_ID_GRAPH, "value": contact.customer_id})
    if ext:
        body["singleValueExtendedProperties"] = ext
    return body


def patch_body(old: Contact, new: Contact) -> dict[str, Any]:
    """The PATCH body turning `old` into `new`: changed properties only ({} when none)."""
    extra: dict[str, list[Any]] = old.extra if isinstance(old.extra, dict) else {}
    changed = diff(old.record, new.record)
    props: dict[str, list[str]] = defaultdict(list)
    for name in changed:
        props[TARGETS[name].prop].append(name)
    body: dict[str, Any] = {}
    ext: list[dict[str, Any]] = []
    for prop in sorted(props):
        if TARGETS[props[prop][0]].kind == "ext":
            ext.append(_ext_entry(prop, new.record))
        else:
            body[prop] = _prop_value(prop, new.record, extra, whole=True)
    if new.customer_id != old.customer_id:
        ext.insert(0, {"id": CUSTOMER_ID_GRAPH, "value": new.customer_id})
    if ext:
        body["singleValueExtendedProperties"] = ext
    return body
