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

from personsync.errors import FormatError
from personsync.fields import CUSTOMER_ID_VCARD, FieldSpec
from personsync.formats import vcard_map as vm
from personsync.formats.vcard_lines import Property, RawCard
from personsync.formats.vcard_text import split_components, split_list, unescape
from personsync.model import Contact, Record, Value

_DROPPED = frozenset({"PRODID", "REV", "UID"})  # regenerated on write
_ORDINAL = {1: "1st", 2: "2nd", 3: "3rd"}


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


class _CardReader:
    def __init__(self, card: RawCard) -> None:
        self.card = card
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
        self.categories: list[str] = []

    def text(self, prop: Property) -> str:
        return _lf(unescape(prop.value, prop.style))

    def components(self, prop: Property) -> list[str]:
        return [_lf(p) for p in split_components(prop.value, prop.style)]

    def put(self, spec: FieldSpec, value: Value, prop: Property) -> None:
        self.values[spec.name] = value
        if prop.group:
            self.groups[spec.name] = prop.group

    def keep(self, prop: Property, message: str = "") -> None:
        self.kept.append(prop)
        if message:
            self.unmapped.append(message)

    def read(self) -> None:
        emails: list[Property] = []
        phones: list[Property] = []
        addresses: list[Property] = []
        urls: list[Property] = []
        for prop in self.card.properties:
            name = prop.name
            if name == "EMAIL":
                emails.append(prop)
            elif name == "TEL":
                phones.append(prop)
            elif name == "ADR":
                addresses.append(prop)
            elif name == "URL":
                urls.append(prop)
            elif name in vm.PARTS:
                self.structured(prop)
            elif name == "FN":
                if not self.fn:
                    self.fn = self.text(prop).strip()
            elif name in vm.ANNIVERSARY_NAMES:
                self.date(vm.SIMPLE[vm.ANNIVERSARY], prop)
            elif name in vm.SIMPLE:
                self.simple(vm.SIMPLE[name], prop)
            elif name == "UID":
                self.uid = self.text(prop).strip()
            elif name == CUSTOMER_ID_VCARD or name in vm.CUSTOMER_ID_ALIASES:
                if not self.customer_id:
                    self.customer_id = self.text(prop).strip()
            elif name not in _DROPPED:
                self.kept.append(prop)
        self.read_urls(urls)
        self.read_emails(emails)
        self.read_phones(phones)
        self.read_addresses(addresses)
        if self.categories:
            spec = vm.SIMPLE["CATEGORIES"]
            self.values[spec.name] = tuple(dict.fromkeys(self.categories))
        if not self.has_n and self.fn:
            self.names_from_fn()

    def structured(self, prop: Property) -> None:
        slots = vm.PARTS[prop.name]
        if prop.name == "N":
            if self.has_n:
                return self.keep(prop, f"another name {self.text(prop)!r}: the record holds 1")
            self.has_n = True
        elif any(spec.name in self.values for spec in slots.values()):
            return self.keep(prop, f"another {prop.name} {self.text(prop)!r}: the record holds 1")
        parts = self.components(prop)
        for index, part in enumerate(parts):
            spec = slots.get(index)
            if spec is not None:
                if part.strip():
                    self.put(spec, part.strip(), prop)
            elif prop.name == "ORG" and index > max(slots) and part.strip():
                self.org_units += (part,)
        if self.org_units:
            units = ", ".join(self.org_units)
            self.unmapped.append(f"organisational units {units!r}: no field (kept in the card)")

    def simple(self, spec: FieldSpec, prop: Property) -> None:
        if spec.kind == "date":
            return self.date(spec, prop)
        if spec.kind == "list":
            self.categories.extend(p.strip() for p in split_list(prop.value, prop.style))
            self.categories = [c for c in self.categories if c]
            return None
        if spec.name in self.values:
            return self.keep(prop, f"another {spec.label.lower()} {self.text(prop)[:60]!r}")
        text = self.text(prop)
        if text.strip():
            self.put(spec, text if spec.kind == "multiline" else text.strip(), prop)
        return None

    def date(self, spec: FieldSpec, prop: Property) -> None:
        if spec.name in self.values:
            return self.keep(prop)
        try:
            self.put(spec, vm.parse_date(self.text(prop)), prop)
        except ValueError as exc:
            self.keep(prop, f"{spec.label.lower()} {exc}: kept in the card")
        return None

    def read_urls(self, urls: list[Property]) -> None:
        if not urls:
            return
        spec = vm.SIMPLE["URL"]
        chosen = next((u for u in urls if "work" in u.types), urls[0])
        self.put(spec, self.text(chosen).strip(), chosen)
        for i, other in enumerate(u for u in urls if u is not chosen):
            self.keep(other, f"{_nth(i + 2)} web page {self.text(other)!r}: the record holds 1")

    def read_emails(self, emails: list[Property]) -> None:
        slots = vm.EMAIL_SLOTS
        free = [s for s in slots]
        rest: list[Property] = []
        for prop in emails:
            wanted = prop.param(vm.SLOT_PARAM)
            spec = next((s for s in free if wanted and s.name == wanted[0]), None)
            if spec is not None and self.text(prop).strip():
                self.put(spec, self.text(prop).strip(), prop)
                free.remove(spec)
            else:
                rest.append(prop)
        rest.sort(key=_pref_rank)
        count = len(slots) - len(free)
        for prop in rest:
            address = self.text(prop).strip()
            if not address:
                continue
            count += 1
            if free:
                self.put(free.pop(0), address, prop)
            else:
                params = tuple(
                    (k, tuple(v for v in vals if v != "pref"))
                    for k, vals in prop.params
                    if k != "PREF"
                )
                kept = Property(prop.name, prop.value, params, prop.group, prop.style, False)
                self.keep(kept, f"{_nth(count)} e-mail {address}: Outlook holds {len(slots)}")

    def read_phones(self, phones: list[Property]) -> None:
        free = {cls: list(specs) for cls, specs in vm.PHONE_SLOTS.items()}
        for prop in phones:
            number = self.text(prop).strip()
            if "uri" in (v.lower() for v in prop.param("VALUE")) and number[:4].lower() == "tel:":
                number = number[4:]
            if not number:
                continue
            cls = vm.phone_class(prop.types)
            wanted = prop.param(vm.SLOT_PARAM)
            slots = free[cls]
            spec = next((s for s in slots if wanted and s.name == wanted[0]), None)
            if spec is None and slots:
                spec = slots[0]
            if spec is not None:
                slots.remove(spec)
                self.put(spec, number, prop)
                continue
            kind = "/".join(sorted(prop.types - {"voice", "pref"})) or "other"
            self.keep(prop, f"phone {number} ({kind}): its slot is taken, kept in the card")

    def read_addresses(self, addresses: list[Property]) -> None:
        used: set[str] = set()
        for prop in addresses:
            kind = vm.address_type(prop.types)
            if kind in used:
                kind = "other" if "other" not in used else ""
            parts = self.components(prop)
            if not kind:
                shown = ", ".join(p for p in parts if p.strip())
                self.keep(prop, f"another address {shown!r}: Outlook holds 3")
                continue
            used.add(kind)
            slots = vm.ADDRESS[kind]
            for index, part in enumerate(parts):
                spec = slots.get(index)
                if spec is not None and part.strip():
                    self.put(
                        spec,
                        part if spec.kind == "multiline" else part.strip(),
                        prop,
                    )
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

    def contact(self) -> Contact:
        record = Record(**self.values)  # type: ignore[arg-type]
        extra = VCardExtra(
            version=self.card.version,
            properties=tuple(self.kept),
            read_record=record,
            fn=self.fn,
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
            unmapped=tuple(self.unmapped),
        )


def _lf(text: str) -> str:
    # Line breaks arrive as CRLF (2.1 quoted-printable), LF or lone CR; the record holds LF.
    if "\r" in text:
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _pref_rank(prop: Property) -> int:
    pref = prop.param("PREF")
    if pref and pref[0].isdigit():
        return int(pref[0])
    return 1 if "pref" in prop.types else 101


def to_contact(card: RawCard, source: str) -> Contact | FormatError:
    """Map one parsed card; a card with nothing personsync can use is a FormatError."""
    reader = _CardReader(card)
    reader.read()
    if not reader.values and not reader.customer_id:
        return FormatError(
            "card holds no name, e-mail, phone or other value personsync uses",
            source=source,
            line=card.line,
            name=reader.fn,
        )
    return reader.contact()
