"""vCard cards → `Contact`s: the mapped fields into the Record, everything else kept in `extra`.

Rules (the slots come from `fields.FIELDS`, see `vcard_map`):
- E-mails fill the slots in file order, PREF first; more than the record holds are reported in
  `Contact.unmapped` and kept.
- Phones by class: work+fax, cell/mobile, work (voice or no type), home, anything else (other
  phone); a phone whose slots are taken is reported and kept.
- Addresses by type work/home; any other or no type → the other address if free. PO box and
  extended address (Outlook's "Office") have no field: reported, kept and written back.
- Names come from N. A card without N (allowed in 4.0, common in hand-made 3.0) takes them from
  FN: `Doe, John` → last name Doe, first name John; otherwise the last word is the last name and
  the words before it the first name.
- BDAY / ANNIVERSARY (X-ANNIVERSARY, X-MS-ANNIVERSARY) without a year (`--0322`) or that are not
  dates cannot go into the record: reported and kept in the card.
- UID becomes `Contact.item_id`; the store decides whether to use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from personsync.errors import FormatError
from personsync.fields import CUSTOMER_ID_VCARD, FieldSpec
from personsync.formats import vcard_map as vm
from personsync.formats.vcard_lines import Line, Property, RawCard, param
from personsync.formats.vcard_text import plain_components, plain_text, split_list
from personsync.model import (
    REPEATED_FIELDS,
    Contact,
    Record,
    Value,
    display_name,
    pickled_by_fields,
    record_from,
    share,
)

_DROPPED = frozenset({"PRODID", "REV", "UID"})  # regenerated on write
_ORDINAL = {1: "1st", 2: "2nd", 3: "3rd"}
# Property → field for single-valued properties, under their own and other writers' names.
_SIMPLE = {**vm.SIMPLE, **{alias: vm.SIMPLE[name] for alias, name in vm.SIMPLE_ALIASES.items()}}


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class VCardExtra:
    """What a card held beyond the record, so that writing it back loses nothing."""

    version: str  # the card's own version: stores rewrite a card in the version it had
    properties: tuple[Property, ...]  # lines outside the mapping, re-emitted verbatim
    # The record as read: derived lines (FN, LABEL) are written back while their source is
    # unchanged. Not compared: two extras are equal when they keep the same lines.
    read_record: Record = field(compare=False)
    fn: str = ""
    address_parts: tuple[tuple[str, str, str], ...] = ()  # (address type, PO box, extended)
    org_units: tuple[str, ...] = ()  # ORG components after the department
    groups: tuple[tuple[str, str], ...] = ()  # (field name, group of the line it came from)
    uid: str = ""  # the card's own UID (a store's item id may differ from it)


def _nth(n: int) -> str:
    return _ORDINAL.get(n, f"{n}th")


# What `_CardReader.read` does with a line, by property name: one look-up per line instead of a
# chain of tests. Built from the lowest precedence up: a name in two sets (UID is also dropped)
# takes the later role.
_ROLES: dict[str, str] = {
    **dict.fromkeys((*_DROPPED, "VERSION"), "drop"),  # VERSION is the card's, RawCard.version
    **dict.fromkeys((CUSTOMER_ID_VCARD, *vm.CUSTOMER_ID_ALIASES), "customer_id"),
    "UID": "uid",
    **dict.fromkeys(vm.SIMPLE, "simple"),
    **dict.fromkeys(vm.SIMPLE_ALIASES, "simple"),
    **dict.fromkeys(vm.IM_NAMES, "im"),
    "X-ABLABEL": "label",
    "X-ABRELATEDNAMES": "related",
    **dict.fromkeys(vm.ANNIVERSARY_NAMES, "anniversary"),
    "FN": "fn",
    **dict.fromkeys(vm.PARTS, "parts"),
    "URL": "url",
    "ADR": "adr",
    "TEL": "tel",
    "X-MS-TEL": "tel",  # Outlook's callback, company main, … phones (X-MS-TEL;VOICE;CALLBACK)
    "EMAIL": "email",
}


class _CardReader:
    __slots__ = (
        "address_parts",
        "card",
        "customer_id",
        "fn",
        "groups",
        "has_n",
        "kept",
        "labels",
        "lists",
        "org_units",
        "style",
        "uid",
        "unmapped",
        "values",
    )

    def __init__(self, card: RawCard) -> None:
        self.card = card
        self.style = "2.1" if card.version == "2.1" else "3.0"
        self.values: dict[str, Value] = {}
        self.unmapped: list[str] = []
        self.kept: list[Property] = []
        self.groups: dict[str, str] = {}
        self.address_parts: list[tuple[str, str, str]] = []
        self.org_units: tuple[str, ...] = ()
        self.fn = ""
        self.has_n = False
        self.uid = ""
        self.customer_id = ""
        self.lists: dict[str, list[str]] = {}  # list field → its items as read
        self.labels: dict[str, str] = {}  # line group → its X-ABLabel (Apple, Google)

    def text(self, line: Line) -> str:
        return plain_text(line[1], self.style)

    def put(self, spec: FieldSpec, value: Value, line: Line) -> None:
        self.values[spec.name] = value
        group = line[0][2]
        if group:
            self.groups[spec.name] = group

    def keep(self, line: Line, message: str = "") -> None:
        (name, params, group), value, binary, number = line
        self.kept.append(Property(name, value, params, group, self.style, binary, number))
        if message:
            self.unmapped.append(message)

    def read(self) -> None:
        emails: list[Line] = []
        phones: list[Line] = []
        addresses: list[Line] = []
        urls: list[Line] = []
        ims: list[Line] = []
        related: list[Line] = []
        roles = _ROLES
        for line in self.card.lines:
            name = line[0][0]
            role = roles.get(name, "keep")
            if role == "simple":
                self.simple(_SIMPLE[name], line)
            elif role == "tel":
                phones.append(line)
            elif role == "email":
                emails.append(line)
            elif role == "parts":
                self.structured(line)
            elif role == "adr":
                addresses.append(line)
            elif role == "fn":
                if not self.fn:
                    self.fn = plain_text(line[1], self.style).strip()
            elif role == "uid":
                self.uid = plain_text(line[1], self.style).strip()
            elif role == "customer_id":
                if not self.customer_id:
                    self.customer_id = plain_text(line[1], self.style).strip()
            elif role == "url":
                urls.append(line)
            elif role == "anniversary":
                self.date(vm.SIMPLE[vm.ANNIVERSARY], line)
            elif role == "keep":
                self.keep(line)
            elif role == "im":
                ims.append(line)
            elif role == "label":
                if line[0][2]:
                    self.labels[line[0][2].casefold()] = self.text(line)
                self.keep(line)  # written back beside its line (the group is kept too)
            elif role == "related":
                related.append(line)
        if related:
            self.read_related(related)
        if ims:
            self.read_ims(ims)
        if urls:
            self.read_urls(urls)
        if emails:
            self.read_emails(emails)
        if phones:
            self.read_phones(phones)
        if addresses:
            self.read_addresses(addresses)
        for name, items in self.lists.items():
            self.values[name] = tuple(dict.fromkeys(items))
        if not self.has_n and self.fn:
            self.names_from_fn()

    def structured(self, line: Line) -> None:
        name, _, group = line[0]
        slots = vm.PARTS[name]
        values = self.values
        if name == "N":
            if self.has_n:
                return self.keep(line, f"another name {self.text(line)!r}: the record holds 1")
            self.has_n = True
        elif not values.keys().isdisjoint(vm.PART_NAMES[name]):
            return self.keep(line, f"another {name} {self.text(line)!r}: the record holds 1")
        for index, part in enumerate(plain_components(line[1], self.style)):
            spec = slots.get(index)
            if spec is not None:
                part = part.strip()
                if part:
                    values[spec.name] = part
                    if group:
                        self.groups[spec.name] = group
            elif name == "ORG" and index > vm.PART_LAST[name] and part.strip():
                self.org_units += (part,)
        if self.org_units:
            units = ", ".join(self.org_units)
            self.unmapped.append(f"organisational units {units!r}: no field (kept in the card)")

    def simple(self, spec: FieldSpec, line: Line) -> None:
        kind = spec.kind
        if kind == "date":
            return self.date(spec, line)
        if kind == "list":
            items = [p.strip() for p in split_list(line[1], self.style)]
            self.lists.setdefault(spec.name, []).extend(c for c in items if c)
            return None
        name = spec.name
        if name in self.values:
            return self.keep(line, f"another {spec.label.lower()} {self.text(line)[:60]!r}")
        text = plain_text(line[1], self.style)
        stripped = text.strip()
        if stripped:
            self.values[name] = text if kind == "multiline" else stripped
            group = line[0][2]
            if group:
                self.groups[name] = group
        return None

    def date(self, spec: FieldSpec, line: Line) -> None:
        if spec.name in self.values:
            return self.keep(line)
        try:
            self.put(spec, vm.parse_date(self.text(line)), line)
        except ValueError as exc:
            self.keep(line, f"{spec.label.lower()} {exc}: kept in the card")
        return None

    def read_urls(self, urls: list[Line]) -> None:
        spec = vm.SIMPLE["URL"]
        chosen = next((u for u in urls if "work" in param(u[0][1], "TYPE")), urls[0])
        self.put(spec, self.text(chosen).strip(), chosen)
        for i, other in enumerate(u for u in urls if u is not chosen):
            self.keep(other, f"{_nth(i + 2)} web page {self.text(other)!r}: the record holds 1")

    def read_emails(self, emails: list[Line]) -> None:
        slots = vm.EMAIL_SLOTS
        free = list(slots)
        rest: list[Line] = []
        for line in emails:
            wanted = param(line[0][1], vm.SLOT_PARAM)
            spec = next((s for s in free if s.name == wanted[0]), None) if wanted else None
            if spec is not None and plain_text(line[1], self.style).strip():
                self.put(spec, plain_text(line[1], self.style).strip(), line)
                free.remove(spec)
            else:
                rest.append(line)
        rest.sort(key=lambda line: vm.pref_rank(line[0][1]))
        count = len(slots) - len(free)
        for line in rest:
            address = plain_text(line[1], self.style).strip()
            if not address:
                continue
            count += 1
            if free:
                self.put(free.pop(0), address, line)
            else:
                (name, params, group), value, _, _ = line
                params = tuple(
                    (k, tuple(v for v in vals if v != "pref")) for k, vals in params if k != "PREF"
                )
                self.kept.append(Property(name, value, params, group, self.style, False))
                self.unmapped.append(f"{_nth(count)} e-mail {address}: Outlook holds {len(slots)}")

    def read_ims(self, ims: list[Line]) -> None:
        free = list(vm.IM_SLOTS)
        for line in ims:
            address = self.text(line).strip()
            if not address:
                continue
            wanted = param(line[0][1], vm.SLOT_PARAM)
            spec = next((s for s in free if s.name == wanted[0]), None) if wanted else None
            if spec is None and free:
                spec = free[0]
            if spec is not None:
                free.remove(spec)
                self.put(spec, address, line)
            else:
                self.keep(line, f"IM address {address}: Outlook holds {len(vm.IM_SLOTS)}")

    def label(self, line: Line) -> str:
        """The X-ABLabel of a line's group ("" when it has none)."""
        group = line[0][2]
        return self.labels.get(group.casefold(), "") if group and self.labels else ""

    def read_related(self, related: list[Line]) -> None:
        """Apple's related names: spouse, assistant, manager, child go to their fields."""
        for line in related:
            label = vm.label_text(self.label(line))
            prop = vm.RELATED_LABELS.get(label)
            if prop is None:
                shown = label or "no label"
                self.keep(line, f"related name {self.text(line)!r} ({shown}): no field, kept")
            else:
                self.simple(vm.SIMPLE[prop], line)

    def read_phones(self, phones: list[Line]) -> None:
        free: dict[frozenset[str], list[FieldSpec]] = {}  # copied from the table when first used
        for line in phones:
            params = line[0][1]
            number = plain_text(line[1], self.style).strip()
            cls, uri, wanted = vm.phone_params(params)
            label = self.label(line)
            if label:
                types = vm.label_types(label)
                if types is not None:
                    cls = vm.phone_class(types)
            if uri and number[:4].lower() == "tel:":
                number = number[4:]
            if not number:
                continue
            slots = free.get(cls)
            if slots is None:
                slots = free[cls] = list(vm.PHONE_SLOTS[cls])
            spec = next((s for s in slots if s.name == wanted[0]), None) if wanted else None
            if spec is None and slots:
                spec = slots[0]
            if spec is not None:
                slots.remove(spec)
                self.put(spec, number, line)
                if label and vm.label_types(label) is None:
                    self.unmapped.append(
                        f"phone {number} labelled {vm.label_text(label)!r}: Outlook has no such"
                        f" field, synced as {spec.label.lower()}"
                    )
                continue
            types = frozenset(param(params, "TYPE"))
            kind = "/".join(sorted(types - {"voice", "pref"})) or "other"
            self.keep(line, f"phone {number} ({kind}): its slot is taken, kept in the card")

    def read_addresses(self, addresses: list[Line]) -> None:
        used: set[str] = set()
        for line in addresses:
            kind = vm.address_params(line[0][1])
            if kind in used:
                kind = "other" if "other" not in used else ""
            parts = plain_components(line[1], self.style)
            if not kind:
                shown = ", ".join(p for p in parts if p.strip())
                self.keep(line, f"another address {shown!r}: Outlook holds 3")
                continue
            used.add(kind)
            values, group = self.values, line[0][2]
            for index, spec in vm.ADDRESS_SLOTS[kind]:
                if index >= len(parts):
                    break
                part = parts[index]
                stripped = part.strip()
                if stripped:
                    values[spec.name] = part if spec.kind == "multiline" else stripped
                    if group:
                        self.groups[spec.name] = group
            pobox, extended = [*parts, "", ""][:2]
            if pobox.strip() or extended.strip():
                self.address_parts.append((kind, pobox, extended))
                what = ", ".join(p for p in (pobox, extended) if p.strip())
                self.unmapped.append(f"{kind} address PO box/extended {what!r}: kept in the card")

    def names_from_fn(self) -> None:
        fn = self.fn
        first_spec, last_spec = vm.PARTS["N"][1], vm.PARTS["N"][0]
        if "," in fn:
            last, _, first = fn.partition(",")
        else:
            words = fn.split()
            first, last = (" ".join(words[:-1]), words[-1]) if len(words) > 1 else (fn, "")
        if first.strip():
            self.values[first_spec.name] = first.strip()
        if last.strip():
            self.values[last_spec.name] = last.strip()

    def contact(self, shared: dict[Any, Any] | None = None) -> Contact:
        values = self.values
        if shared is not None:
            for name in REPEATED_FIELDS.intersection(values):
                values[name] = share(values[name], shared)
        record = record_from(values)
        extra = VCardExtra(
            version=self.card.version,
            properties=tuple(self.kept),
            read_record=record,
            # An FN that is the record's own display name is written so again (`vcard_write`
            # keeps a stored FN only where it differs): "" instead of a copy per card (6 MB for
            # an import of 100,000).
            fn="" if self.fn == display_name(record) else self.fn,
            address_parts=tuple(self.address_parts),
            org_units=self.org_units,
            groups=tuple(self.groups.items()),
            uid=self.uid,
        )
        return Contact(
            record=record,
            item_id=self.uid,
            customer_id=self.customer_id,
            extra=extra,
            unmapped=grouped(self.unmapped) if len(self.unmapped) > 1 else tuple(self.unmapped),
        )


MAX_MESSAGES = 20  # per card: a card repeating a line 10,000 times made 10,000 warnings


def grouped(messages: list[str]) -> tuple[str, ...]:
    """A card's messages, each repeated one once with its count (those first), and at most
    `MAX_MESSAGES` of them (the rest counted in the last)."""
    counts: dict[str, int] = {}
    for message in messages:
        counts[message] = counts.get(message, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: -item[1])  # stable: else in card order
    out = [m if n == 1 else f"{m} ({n:,} times)" for m, n in ranked]
    if len(out) > MAX_MESSAGES:
        rest = sum(n for _, n in ranked[MAX_MESSAGES - 1 :])
        out[MAX_MESSAGES - 1 :] = [
            f"and {rest:,} more values that are not synced (kept in the card)"
        ]
    return tuple(out)


def to_contact(
    card: RawCard, source: str, shared: dict[Any, Any] | None = None
) -> Contact | FormatError:
    """Map one parsed card; a card with nothing personsync can use is a FormatError. `shared`:
    see `model.share` (a caller reading many cards keeps one dict for all of them)."""
    reader = _CardReader(card)
    reader.read()
    if not reader.values and not reader.customer_id:
        return FormatError(
            "card holds no name, e-mail, phone or other value personsync uses",
            source=source,
            line=card.line,
            name=reader.fn,
        )
    return reader.contact(shared)
