"""`Contact` → vCard bytes: 3.0 by default, 4.0 on request, 2.1 for Outlook.

UTF-8, CRLF, folded at 75 octets, `VERSION` right after `BEGIN`, N and FN always present, UID
and PRODID written (2.1 has no PRODID). 2.1 escapes only `;` and `\\`, and writes non-ASCII, line
breaks and long values as quoted-printable UTF-8 with soft line breaks, which is what Outlook
reads (it shows backslash-escaped commas literally). The lines the reader kept in `extra` are
written after the mapped ones, re-encoded for the output version; derived lines (FN, LABEL) are
written back only while the values they were derived from are unchanged.
"""

from __future__ import annotations

import itertools
import re
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
    card_bytes,
    convert_value,
    escape,
    escape_components,
    param_text,
    qp_line,
)
from personsync.model import Contact, display_name, fields_getter

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
    return (_Writer21 if version == "2.1" else _Writer)(contact, version, uid).card()


def write_cards(contacts: Iterable[Contact], version: str = "3.0") -> bytes:
    return b"".join(write_card(c, version) for c in contacts)


def _head(name: str, params: Params, version: str) -> tuple[Params, str]:
    """`params` and the head they make with `name` (no group)."""
    return params, name + param_text(params, version)


def _email_params(index: int, version: str) -> Params:
    """The first e-mail is the preferred one: PREF=1 in 4.0, TYPE=pref before."""
    if version == "4.0":
        return (("PREF", ("1",)),) if index == 0 else ()
    return (("TYPE", ("internet", "pref") if index == 0 else ("internet",)),)


# What the writer needs of the mapping table, looked up once: getters that read several fields
# at a time, and the slots' parameters with the heads they make, per version.
_N = fields_getter(vm.PARTS["N"][i].name for i in range(5))
_N_SPECS = tuple(vm.PARTS["N"].values())
_ORG = fields_getter(vm.PARTS["ORG"][i].name for i in sorted(vm.PARTS["ORG"]))
_ORG_SPEC = vm.PARTS["ORG"][0]
_BEFORE_ORG = tuple((prop, vm.SIMPLE[prop]) for prop in ("NICKNAME", "TITLE"))
_AFTER_DATES = tuple((prop, vm.SIMPLE[prop]) for prop in ("URL", "NOTE"))
_CATEGORIES = vm.SIMPLE["CATEGORIES"].name
_WRITTEN_APART = {"NICKNAME", "TITLE", "URL", "NOTE", "CATEGORIES", "BDAY", vm.ANNIVERSARY}
# The other single-valued properties (ROLE, X-MS-MANAGER, …) and list properties (children),
# written after NOTE; a getter reads all their values at once (most are empty).
_MORE = tuple((p, s) for p, s in vm.SIMPLE.items() if p not in _WRITTEN_APART)
_MORE_VALUES = fields_getter(s.name for _, s in _MORE)
_IMS = fields_getter(spec.name for spec in vm.IM_SLOTS)
_BDAY, _ANNIVERSARY = vm.SIMPLE["BDAY"].name, vm.SIMPLE[vm.ANNIVERSARY].name
_DATES = fields_getter((_BDAY, _ANNIVERSARY))
_ANNIVERSARY_NAMES = {"2.1": "X-MS-ANNIVERSARY", "3.0": "X-ANNIVERSARY", "4.0": vm.ANNIVERSARY}
_EMAILS = fields_getter(spec.name for spec in vm.EMAIL_SLOTS)
_EMAIL_HEADS = [
    {v: _head("EMAIL", _email_params(index, v), v) for v in VERSIONS}
    for index in range(len(vm.EMAIL_SLOTS))
]
_PHONE_NUMBERS = fields_getter(spec.name for specs in vm.PHONE_SLOTS.values() for spec in specs)
# Per phone slot, in the order of _PHONE_NUMBERS: its spec, the indexes of the earlier slots of
# its class, its head per version.
# Outlook (2.1) writes the phones vCard has no type for as X-MS-TEL: `X-MS-TEL;VOICE;CALLBACK`
# is in a card Outlook 2007 wrote (tests/formats/test_vcard_realworld.py); the others follow
# it. Each is read back (vcard_map.PHONE_TYPE_ALIASES).
_OUTLOOK_21: dict[frozenset[str], tuple[str, tuple[str, ...]]] = {
    frozenset({f"x-{word}"}): ("X-MS-TEL", ("voice", word))
    for word in ("callback", "assistant", "radio", "telex", "primary")
}
_OUTLOOK_21[frozenset({"x-company-main"})] = ("X-MS-TEL", ("voice", "company"))
_OUTLOOK_21[frozenset({"textphone"})] = ("X-MS-TEL", ("ttytdd",))


def _phone_head(cls: frozenset[str], version: str) -> tuple[Params, str]:
    name, types = ("TEL", _PHONE_TYPES[cls])
    if version == "2.1":
        name, types = _OUTLOOK_21.get(cls, (name, types))
    return _head(name, (("TYPE", types),), version)


_PHONE_HEADS = tuple(
    (spec, tuple(range(start, start + index)), {v: _phone_head(cls, v) for v in VERSIONS})
    for start, (cls, specs) in zip(
        itertools.accumulate((len(s) for s in vm.PHONE_SLOTS.values()), initial=0),
        vm.PHONE_SLOTS.items(),
        strict=False,  # accumulate gives one more: the end of the last class
    )
    for index, spec in enumerate(specs)
)
_PHONE_INDEXES = range(len(_PHONE_HEADS))
# Per address: its type, the indexes of the components that are fields (0 and 1, PO box and
# extended address, are not) and a getter for them, the spec whose line group it takes, its
# head per version.
_ADDRESSES = tuple(
    (
        kind,
        tuple(sorted(slots)),
        fields_getter(slots[index].name for index in sorted(slots)),
        next(iter(slots.values())),
        {
            v: _head("ADR", (("TYPE", (types[kind].lower(),)),), v)
            for v in VERSIONS
            for types in [_ADDRESS_TYPE_21 if v == "2.1" else _ADDRESS_TYPE]
        },
    )
    for kind, slots in vm.ADDRESS.items()
)
_STREET_TO_COUNTRY = (2, 3, 4, 5, 6)
_PRODID_LINE = f"PRODID:{escape(PRODID, '3.0')}"
_SPECIAL_30 = re.compile(r"[\\,;\r\n]").search  # what `escape` changes in 3.0 and 4.0


class _Writer:
    __slots__ = ("contact", "extra", "groups", "old", "out", "record", "uid", "verbatim", "version")

    def __init__(self, contact: Contact, version: str, uid: str | None = None) -> None:
        self.contact = contact
        self.uid = contact.item_id if uid is None else uid
        self.record = contact.record
        self.version = version
        extra = contact.extra if isinstance(contact.extra, VCardExtra) else None
        self.extra = extra
        self.old = extra.read_record if extra else None
        self.groups = dict(extra.groups) if extra else {}
        # The card's content lines, unfolded: built as text, folded and encoded at once by
        # `card_bytes`; and the indexes of those already broken into physical lines.
        self.out: list[str] = []
        self.verbatim: list[int] = []

    def unchanged(self, specs: Iterable[FieldSpec]) -> bool:
        old = self.old
        return old is not None and all(
            getattr(old, s.name) == getattr(self.record, s.name) for s in specs
        )

    def group(self, spec: FieldSpec) -> str:
        group = self.groups.get(spec.name, "")
        return group if group and self.unchanged([spec]) else ""

    def head(self, name: str, params: Params = (), group: str = "") -> str:
        head = f"{group}.{name}" if group else name
        return head + param_text(params, self.version) if params else head

    def line(self, head: str, raw: str) -> None:
        """A content line with an already escaped value."""
        if "\n" in raw or "\r" in raw:
            raw = raw.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
        self.out.append(f"{head}:{raw}")

    def text(self, head: str, value: str) -> None:
        """A content line with a text value."""
        if _SPECIAL_30(value):  # escaped, line breaks too: all that `line` would do is done
            value = escape(value, self.version)
        self.out.append(f"{head}:{value}")

    def card(self) -> bytes:
        r, v = self.record, self.version
        grouped = bool(self.groups)  # else no line has a group (cards personsync wrote)
        self.out += ("BEGIN:VCARD", f"VERSION:{v}")
        if v != "2.1":
            self.out.append(_PRODID_LINE)
        if self.uid.strip():
            self.text("UID", self.uid)
        self.names()
        for prop, spec in _BEFORE_ORG:
            value = getattr(r, spec.name)
            if value.strip():
                self.text(self.head(prop, group=self.group(spec)) if grouped else prop, value)
        self.org()
        self.emails(grouped)
        if any(_IMS(r)):
            self.ims(grouped)
        self.phones(grouped)
        self.addresses(grouped)
        birthday, anniversary = _DATES(r)
        if isinstance(birthday, date):
            self.line("BDAY", _date_text(birthday, v))
        if isinstance(anniversary, date):
            self.line(_ANNIVERSARY_NAMES[v], _date_text(anniversary, v))
        for prop, spec in _AFTER_DATES:
            value = getattr(r, spec.name)
            if value.strip():
                self.text(self.head(prop, group=self.group(spec)) if grouped else prop, value)
        if any(_MORE_VALUES(r)):
            self.more(grouped)
        categories = getattr(r, _CATEGORIES)
        if categories:
            self.line("CATEGORIES", ",".join(escape(c, v) for c in categories))
        if self.contact.customer_id.strip():
            self.text(CUSTOMER_ID_VCARD, self.contact.customer_id)
        if self.extra:
            self.kept(self.extra.properties)
        self.out.append("END:VCARD")
        return card_bytes(self.out, self.verbatim)

    def names(self) -> None:
        r = self.record
        self.line("N", escape_components(_N(r), self.version))
        fn = display_name(r)
        extra = self.extra
        old = self.old
        kept = extra and extra.fn and old is not None and display_name(old) == fn
        if kept and extra and self.unchanged(_N_SPECS):
            fn = extra.fn
        self.text("FN", fn)

    def org(self) -> None:
        units = self.extra.org_units if self.extra else ()
        parts = _ORG(self.record)
        if "".join(parts).strip() or units:
            values = [*parts, *units]
            while values and not values[-1]:
                values.pop()
            head = self.head("ORG", group=self.group(_ORG_SPEC)) if self.groups else "ORG"
            self.line(head, escape_components(values, self.version))

    def emails(self, grouped: bool) -> None:
        v = self.version
        gap = False
        for spec, address, heads in zip(
            vm.EMAIL_SLOTS, _EMAILS(self.record), _EMAIL_HEADS, strict=True
        ):
            if not address.strip():
                gap = True
                continue
            params, head = heads[v]
            if gap or grouped:
                if gap:
                    params += ((vm.SLOT_PARAM, (spec.name,)),)
                head = self.head("EMAIL", params, self.group(spec) if grouped else "")
            self.text(head, address)

    def more(self, grouped: bool) -> None:
        for (prop, spec), value in zip(_MORE, _MORE_VALUES(self.record), strict=True):
            if isinstance(value, tuple):
                # One line per item (children): servers that parse with vobject (Radicale) keep
                # only the first part of an unknown property's comma-separated list.
                for item in value:
                    self.text(prop, item)
            elif value.strip():
                self.text(self.head(prop, group=self.group(spec)) if grouped else prop, value)

    def ims(self, grouped: bool) -> None:
        gap = False
        for spec, address in zip(vm.IM_SLOTS, _IMS(self.record), strict=True):
            if not address.strip():
                gap = True
                continue
            params: Params = ((vm.SLOT_PARAM, (spec.name,)),) if gap else ()
            self.text(self.head("IMPP", params, self.group(spec) if grouped else ""), address)

    def phones(self, grouped: bool) -> None:
        v = self.version
        numbers = _PHONE_NUMBERS(self.record)
        # Only the slots that hold a number, picked in C: most of Outlook's 19 are empty.
        for i in itertools.compress(_PHONE_INDEXES, numbers):
            number = numbers[i]
            if not number.strip():
                continue
            spec, earlier, heads = _PHONE_HEADS[i]
            # An earlier slot of its class is empty: say which slot this is.
            gap = bool(earlier) and not all(numbers[j].strip() for j in earlier)
            params, head = heads[v]
            if gap or grouped:
                if gap:
                    params += ((vm.SLOT_PARAM, (spec.name,)),)
                name = head.partition(";")[0]  # TEL, or X-MS-TEL in 2.1
                head = self.head(name, params, self.group(spec) if grouped else "")
            self.text(head, number)

    def addresses(self, grouped: bool) -> None:
        kept = self.extra.address_parts if self.extra else ()
        extras = {kind: (pobox, extended) for kind, pobox, extended in kept}
        v = self.version
        for kind, indexes, fields, first, heads in _ADDRESSES:
            values = fields(self.record)
            if kind not in extras and not "".join(values).strip():
                continue  # empty (as found below, but without assembling it)
            parts = [*extras.get(kind, ("", "")), *values]
            if indexes != _STREET_TO_COUNTRY:  # not with fields.FIELDS: the fields are the rest
                parts[2:] = ["", "", "", "", ""]
                for index, value in zip(indexes, values, strict=True):
                    parts[index] = value
            if not "".join(parts).strip():
                continue
            params, head = heads[v]
            if grouped:
                head = self.head("ADR", params, self.group(first))
            self.line(head, escape_components(parts, v))

    def kept(self, properties: tuple[Property, ...]) -> None:
        for prop in properties:
            if prop.name in _DATE_NAMES and self.has_date(prop.name):
                continue  # the record now has the date this yearless line stood for
            if prop.name == "LABEL" and not self.address_unchanged(prop):
                continue
            self.kept_line(prop)

    def has_date(self, name: str) -> bool:
        return getattr(self.record, _BDAY if name == "BDAY" else _ANNIVERSARY) is not None

    def address_unchanged(self, label: Property) -> bool:
        return self.unchanged(vm.ADDRESS[vm.address_type(label.types)].values())

    def kept_line(self, prop: Property) -> None:
        v = self.version
        head = f"{prop.group}.{prop.name}" if prop.group else prop.name
        value, params = prop.value, prop.params
        if not prop.binary:
            self.line(self.head(prop.name, params, prop.group), convert_value(value, prop.style, v))
        elif v == "4.0":
            media = next(
                (_MEDIA[t] for t in prop.param("TYPE") if t in _MEDIA),
                "application/octet-stream",
            )
            params = tuple((k, vals) for k, vals in params if k != "TYPE")
            self.out.append(f"{head}{param_text(params, v)}:data:{media};base64,{value}")
        else:
            encoding = ("ENCODING", ("BASE64" if v == "2.1" else "b",))
            head += param_text((*params, encoding), v)
            if v == "2.1":
                self.verbatim.append(len(self.out))
                self.out.append(base64_lines(head, value))
            else:
                self.out.append(f"{head}:{value}")


class _Writer21(_Writer):
    __slots__ = ()

    def line(self, head: str, raw: str) -> None:
        if not (raw.isascii() and raw.isprintable()) or len(head) + len(raw) > 74:
            self.verbatim.append(len(self.out))
            self.out.append(qp_line(head, raw.replace("\r\n", "\n").replace("\n", "\r\n")))
        else:
            self.out.append(f"{head}:{raw}")

    def text(self, head: str, value: str) -> None:
        self.line(head, escape(value, "2.1"))


def _date_text(value: date, version: str) -> str:
    text = value.isoformat()  # YYYY-MM-DD, the year always in 4 digits
    return text if version == "3.0" else text.replace("-", "")
