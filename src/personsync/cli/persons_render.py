"""How Persons look on screen and in JSON (shared by `persons` and `views` commands)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from personsync.cli.output import console, print_json
from personsync.fields import BY_NAME, FIELDS
from personsync.model import Person, Value, is_empty

# The summary columns of a listing besides ID, name, e-mail and phone (field names from the table).
SUMMARY_FIELDS = ("company", "business_city")
assert all(name in BY_NAME for name in SUMMARY_FIELDS)


def person_dict(person: Person, *, hidden: bool = False) -> dict[str, Any]:
    """A Person for JSON: id, version, every field, timestamps; the hidden link only if asked."""
    out: dict[str, Any] = {"id": person.id, "version": person.version}
    out.update(person.record.values())
    out["created_at"] = person.created_at
    out["updated_at"] = person.updated_at
    if hidden:
        out["contact_manager_id"] = person.contact_manager_id
    return out


def _first(person: Person, kind: str) -> str:
    for spec in FIELDS:
        value = getattr(person.record, spec.name)
        if spec.kind == kind and value:
            return str(value)
    return ""


def persons_table(persons: Iterable[Person], *, title: str = "") -> int:
    """Print Persons as a table; returns how many were printed."""
    table = Table(title=Text(title) if title else None, title_justify="left")
    table.add_column("ID", justify="right", style="cyan")
    table.add_column("Name")
    table.add_column("E-mail")
    table.add_column("Phone")
    for name in SUMMARY_FIELDS:
        table.add_column(BY_NAME[name].label)
    shown = 0
    for person in persons:
        # Text(), not str: a value like "[b]" is data, never Rich markup.
        table.add_row(
            str(person.id),
            Text(person.display_name),
            Text(_first(person, "email")),
            Text(_first(person, "phone")),
            *(Text(str(getattr(person.record, name))) for name in SUMMARY_FIELDS),
        )
        shown += 1
    if shown:
        console.print(table)
    return shown


def print_persons_json(persons: Iterable[Person], *, hidden: bool = False) -> None:
    print_json([person_dict(p, hidden=hidden) for p in persons])


def value_text(value: Value) -> str:
    """A field's value as a person reads it."""
    if isinstance(value, tuple):
        return "; ".join(value)
    return "" if value is None else str(value)


def person_card(
    person: Person, *, everything: bool = False, links: Sequence[Mapping[str, str]] = ()
) -> None:
    """One Person, field by field (non-empty fields, or all of them with `everything`), then
    its links to contacts, one per folder."""
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("ID", str(person.id))
    for spec in FIELDS:
        value = getattr(person.record, spec.name)
        if is_empty(value) and not everything:
            continue
        text = (
            "; ".join(value) if isinstance(value, tuple) else ("" if value is None else str(value))
        )
        table.add_row(spec.label, text)
    if everything:
        table.add_row("Version", person.version)
        table.add_row("Created", str(person.created_at or ""))
        table.add_row("Updated", str(person.updated_at or ""))
        table.add_row("Contact link", Text(person.contact_manager_id or ""))
        if not links:
            table.add_row("Links", "none")
        for n, link in enumerate(links):
            where = f"{link['folder']}: contact {link['item_id']} (in step {link['synced_at']})"
            table.add_row("Links" if n == 0 else "", Text(where))
    console.print(table)
