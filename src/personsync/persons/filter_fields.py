"""The names a filter or sort may use: every mapped field, three Person columns, and aliases.

Aliases (defined here and only here, derived from the mapping table):
- `email`: any of the e-mail fields; `phone`: any phone or fax field;
- `street`, `city`, `state`, `postal_code`, `country`: that part of any address;
- `name`: any part of the name (title, first, middle, last, suffix, nickname).
An alias matches when ANY of its fields matches; `!=`, `not in` and `is empty` hold when NONE of
them is equal / listed / non-empty.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from personsync.fields import FIELDS

ValueKind = Literal["text", "list", "date", "datetime", "number"]

ADDRESS_GROUPS = ("business", "home", "other")


@dataclass(frozen=True, slots=True)
class FilterField:
    name: str
    columns: tuple[str, ...]
    kind: ValueKind

    @property
    def is_alias(self) -> bool:
        return self.columns != (self.name,)


def _kind(kind: str) -> ValueKind:
    return {"date": "date", "list": "list"}.get(kind, "text")  # type: ignore[return-value]


def _aliases() -> dict[str, tuple[str, ...]]:
    groups: dict[str, list[str]] = {"email": [], "phone": [], "name": []}
    for spec in FIELDS:
        if spec.kind in ("email", "phone"):
            groups[spec.kind].append(spec.name)
        if spec.group == "name":
            groups["name"].append(spec.name)
        if spec.group in ADDRESS_GROUPS:
            part = spec.name.removeprefix(f"{spec.group}_")
            groups.setdefault(part, []).append(spec.name)
    return {alias: tuple(cols) for alias, cols in groups.items()}


def _build() -> dict[str, FilterField]:
    out = {spec.name: FilterField(spec.name, (spec.name,), _kind(spec.kind)) for spec in FIELDS}
    out["id"] = FilterField("id", ("id",), "number")
    for stamp in ("created_at", "updated_at"):
        out[stamp] = FilterField(stamp, (stamp,), "datetime")
    for alias, cols in _aliases().items():
        kinds = {out[c].kind for c in cols}
        assert len(kinds) == 1, f"alias {alias} mixes kinds"
        out[alias] = FilterField(alias, cols, kinds.pop())
    return out


FILTER_FIELDS: dict[str, FilterField] = _build()
ALIASES: dict[str, tuple[str, ...]] = {n: f.columns for n, f in FILTER_FIELDS.items() if f.is_alias}


def suggest(name: str) -> str:
    """A hint naming the known names closest to `name`."""
    close = difflib.get_close_matches(name, list(FILTER_FIELDS), n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(close) + "?"
    return "known fields: " + ", ".join(FILTER_FIELDS)
