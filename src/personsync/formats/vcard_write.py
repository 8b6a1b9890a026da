"""`Contact` → vCard bytes: 3.0 by default, 4.0 on request, 2.1 for Outlook.

UTF-8, CRLF, folded at 75 octets, `VERSION` right after `BEGIN`, N and FN always present, UID
and PRODID written (2.1 has no PRODID). 2.1 escapes only `;` and `\\`, and writes non-ASCII, line
breaks and long values as quoted-printable UTF-8 with soft line breaks, which is what Outlook
reads (it shows backslash-escaped commas literally). The lines the reader kept in `extra` are
written after the mapped ones, re-encoded for the output version; derived lines (FN, LABEL) are
written back only while the values they were derived from are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from personsync.errors import UsageError
from personsync.fields import CUSTOMER_ID_VCARD, FieldSpec
from personsync.formats import vcard_map as vm
from personsync.formats.vcard_lines import VERSIONS, Property
from personsync.formats.vcard_read import VCardExtra
from personsync.formats.vcard_text import (
    Params,
    base64_lines,
    convert_value,
    escape,
    fold,
    param_text,
    qp_line,
)
from personsync.model import Contact, display_name

PRODID = "-//personsync//personsync vCard//EN"
_MEDIA = {
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "x509": "application/pkix-cert",
    "pgp": "application/pgp-keys",
    "pkix-cert": "application/pkix-cert",
    "pgp-keys": "application/pgp-keys",
    "octet-stream": "application/octet-stream",
}
_ADDRESS_TYPE = {"work": "work", "home": "home", "other": "other"}
_ADDRESS_TYPE_21 = {"work": "WORK", "home": "HOME", "other": "POSTAL"}
_DATE_NAMES = frozenset({"BDAY", *vm.ANNIVERSARY_NAMES})
# TYPE values of each phone class as written: `work,voice`, `work,fax`, `cell`.
_PHONE_TYPES = {
    cls: tuple(sorted(cls, key=lambda t: (t == "voice", t == "fax", t))) for cls in vm.PHONE_SLOTS
}


def write_card(contact: Contact, version: str = "3.0", *, uid: str | None = None) -> bytes:
    """One card; UID is `uid` when given, else `contact.item_id` (none when both are empty)."""
    if version not in VERSIONS:
        raise UsageError(f"unknown vCard version {version!r}", hint="use 2.1, 3.0 or 4.0")
    return b"".join(_Writer(contact, version, uid).lines())


def write_cards(contacts: Iterable[Contact], version: str = "3.0") -> bytes:
    return b"".join(write_card(c, version) for c in contacts)


class _Writer:
    def __init__(self, contact: Contact, version: str, uid: str | None = None) -> None:
        self.contact = contact
        self.uid = contact.item_id if uid is None else uid
        self.record = contact.record
        self.version = version
        extra = contact.extra if isinstance(contact.extra, VCardExtra) else None
        self.extra = extra
        self.old = extra.read_record if extra else None
        self.groups = dict(extra.groups) if extra else {}

    def unchanged(self, specs: Iterable[FieldSpec]) -> bool:
        old = self.old
        return old is not None and all(
            getattr(old, s.name) == getattr(self.record, s.name) for s in specs
        )

    def group(self, spec: FieldSpec) -> str:
        group = self.groups.get(spec.name, "")
        return group if group and self.unchanged([spec]) else ""

    def line(self, name: str, raw: str, params: Params = (), group: str = "") -> bytes:
        """A content line with an already escaped value."""
        head = f"{group}.{name}" if group else name
        head += param_text(params, self.version)
        if self.version == "2.1":
            if any(not (" " <= c <= "~") for c in raw) or len(head) + len(raw) > 74:
                return qp_line(head, raw.replace("\r\n", "\n").replace("\n", "\r\n"))
            return fold(f"{head}:{raw}")
        if "\n" in raw or "\r" in raw:
            raw = raw.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
        return fold(f"{head}:{raw}")

    def text(self, name: str, value: str, params: Params = (), group: str = "") -> bytes:
        return self.line(name, escape(value, self.version), params, group)

    def types(self, *types: str) -> Params:
        return (("TYPE", types),) if types else ()

    def lines(self) -> Iterable[bytes]:
        r, v = self.record, self.version
        yield b"BEGIN:VCARD\r\n"
        yield f"VERSION:{v}\r\n".encode()
        if v != "2.1":
            yield self.text("PRODID", PRODID)
        if self.uid.strip():
            yield self.text("UID", self.uid)
        yield from self.names()
        for prop in ("NICKNAME", "TITLE"):
            spec = vm.SIMPLE[prop]
            value = getattr(r, spec.name)
            if value.strip():
                yield self.text(prop, value, group=self.group(spec))
        yield from self.org()
        yield from self.emails()
        yield from self.phones()
        yield from self.addresses()
        yield from self.dates()
        for prop in ("URL", "NOTE"):
            spec = vm.SIMPLE[prop]
            value = getattr(r, spec.name)
            if value.strip():
                yield self.text(prop, value, group=self.group(spec))
        categories = getattr(r, vm.SIMPLE["CATEGORIES"].name)
        if categories:
            raw = ",".join(escape(c, v) for c in categories)
            yield self.line("CATEGORIES", raw)
        if self.contact.customer_id.strip():
            yield self.text(CUSTOMER_ID_VCARD, self.contact.customer_id)
        yield from self.kept()
        yield b"END:VCARD\r\n"

    def names(self) -> Iterable[bytes]:
        slots = vm.PARTS["N"]
        parts = [escape(getattr(self.record, slots[i].name), self.version) for i in range(5)]
        yield self.line("N", ";".join(parts))
        fn = display_name(self.record)
        extra = self.extra
        old = self.old
        kept = extra and extra.fn and old is not None and display_name(old) == fn
        if kept and extra and self.unchanged(slots.values()):
            fn = extra.fn
        yield self.text("FN", fn)

    def org(self) -> Iterable[bytes]:
        slots = vm.PARTS["ORG"]
        units = self.extra.org_units if self.extra else ()
        parts = [getattr(self.record, slots[i].name) for i in sorted(slots)]
        if any(p.strip() for p in parts) or units:
            values = [*parts, *units]
            while values and not values[-1]:
                values.pop()
            raw = ";".join(escape(p, self.version) for p in values)
            yield self.line("ORG", raw, group=self.group(slots[0]))

    def emails(self) -> Iterable[bytes]:
        v = self.version
        gap = False
        for index, spec in enumerate(vm.EMAIL_SLOTS):
            address = getattr(self.record, spec.name)
            if not address.strip():
                gap = True
                continue
            params: list[tuple[str, tuple[str, ...]]] = []
            if v == "4.0":
                params += [("PREF", ("1",))] if index == 0 else []
            else:
                params += [("TYPE", ("internet", "pref") if index == 0 else ("internet",))]
            if gap:
                params.append((vm.SLOT_PARAM, (spec.name,)))
            yield self.text("EMAIL", address, tuple(params), self.group(spec))

    def phones(self) -> Iterable[bytes]:
        for cls, specs in vm.PHONE_SLOTS.items():
            types = _PHONE_TYPES[cls]
            gap = False
            for spec in specs:
                number = getattr(self.record, spec.name)
                if not number.strip():
                    gap = True
                    continue
                params: Params = self.types(*types)
                if gap:
                    params += ((vm.SLOT_PARAM, (spec.name,)),)
                yield self.text("TEL", number, params, self.group(spec))

    def addresses(self) -> Iterable[bytes]:
        kept = self.extra.address_parts if self.extra else ()
        extras = {kind: (pobox, extended) for kind, pobox, extended in kept}
        for kind, slots in vm.ADDRESS.items():
            parts = ["", "", "", "", "", "", ""]
            parts[0], parts[1] = extras.get(kind, ("", ""))
            for index, spec in slots.items():
                parts[index] = getattr(self.record, spec.name)
            if not "".join(parts).strip():
                continue
            raw = ";".join(escape(p, self.version) for p in parts)
            shown = _ADDRESS_TYPE_21[kind] if self.version == "2.1" else _ADDRESS_TYPE[kind]
            params = self.types(shown.lower())
            yield self.line("ADR", raw, params, self.group(next(iter(slots.values()))))

    def dates(self) -> Iterable[bytes]:
        v = self.version
        names = {"2.1": "X-MS-ANNIVERSARY", "3.0": "X-ANNIVERSARY", "4.0": vm.ANNIVERSARY}
        for prop, spec in (("BDAY", vm.SIMPLE["BDAY"]), (names[v], vm.SIMPLE[vm.ANNIVERSARY])):
            value = getattr(self.record, spec.name)
            if isinstance(value, date):
                yield self.line(prop, _date_text(value, v))

    def kept(self) -> Iterable[bytes]:
        if not self.extra:
            return
        for prop in self.extra.properties:
            if prop.name in _DATE_NAMES and self.has_date(prop.name):
                continue  # the record now has the date this yearless line stood for
            if prop.name == "LABEL" and not self.address_unchanged(prop):
                continue
            yield self.kept_line(prop)

    def has_date(self, name: str) -> bool:
        spec = vm.SIMPLE["BDAY"] if name == "BDAY" else vm.SIMPLE[vm.ANNIVERSARY]
        return getattr(self.record, spec.name) is not None

    def address_unchanged(self, label: Property) -> bool:
        return self.unchanged(vm.ADDRESS[vm.address_type(label.types)].values())

    def kept_line(self, prop: Property) -> bytes:
        v = self.version
        head = f"{prop.group}.{prop.name}" if prop.group else prop.name
        value, params = prop.value, prop.params
        if prop.binary:
            if v == "4.0":
                media = next(
                    (_MEDIA[t] for t in prop.param("TYPE") if t in _MEDIA),
                    "application/octet-stream",
                )
                params = tuple((k, vals) for k, vals in params if k != "TYPE")
                return fold(f"{head}{param_text(params, v)}:data:{media};base64,{value}")
            encoding = ("ENCODING", ("BASE64" if v == "2.1" else "b",))
            return base64_lines(head + param_text((*params, encoding), v), value, v)
        return self.line(prop.name, convert_value(value, prop.style, v), params, prop.group)


def _date_text(value: date, version: str) -> str:
    if version == "3.0":
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"
