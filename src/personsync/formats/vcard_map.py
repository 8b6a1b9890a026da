"""The vCard side of the mapping table, derived once from `fields.FIELDS` `.vcard` notation.

`N.1` → component 1 of N; `ADR.2;TYPE=work` → component 2 of the work address; `EMAIL#2` → the
second e-mail; `TEL;TYPE=work,voice#2` → the second phone of class {work, voice}. Field names are
never spelled here: reader and writer look them up in these tables.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from personsync.fields import FIELDS, FieldSpec
from personsync.formats.vcard_lines import param
from personsync.formats.vcard_text import Params

# Property → field, for single-valued properties (NOTE, TITLE, BDAY, CATEGORIES, …).
SIMPLE: dict[str, FieldSpec] = {}
# Structured property (N, ORG) → component index → field.
PARTS: dict[str, dict[int, FieldSpec]] = defaultdict(dict)
# Address type (work/home/other) → component index → field.
ADDRESS: dict[str, dict[int, FieldSpec]] = defaultdict(dict)
# Phone class (frozenset of types) → fields in slot order; e-mail fields in slot order.
PHONE_SLOTS: dict[frozenset[str], list[FieldSpec]] = defaultdict(list)
EMAIL_SLOTS: list[FieldSpec] = []
# Instant-messaging addresses (IMPP) in slot order.
IM_SLOTS: list[FieldSpec] = []


def _build() -> None:
    phones: list[tuple[frozenset[str], int, FieldSpec]] = []
    emails: list[tuple[int, FieldSpec]] = []
    ims: list[tuple[int, FieldSpec]] = []
    for spec in FIELDS:
        notation, _, nth = spec.vcard.partition("#")
        prop, _, params = notation.partition(";")
        types = frozenset(params.partition("=")[2].split(",")) if params else frozenset()
        name, _, part = prop.partition(".")
        if name == "ADR":
            ADDRESS[next(iter(types))][int(part)] = spec
        elif name == "TEL":
            phones.append((types, int(nth or 1), spec))
        elif name == "EMAIL":
            emails.append((int(nth or 1), spec))
        elif name == "IMPP":
            ims.append((int(nth or 1), spec))
        elif part:
            PARTS[name][int(part)] = spec
        else:
            SIMPLE[name] = spec
    for types, _, spec in sorted(phones, key=lambda p: p[1]):
        PHONE_SLOTS[types].append(spec)
    EMAIL_SLOTS.extend(spec for _, spec in sorted(emails, key=lambda e: e[0]))
    IM_SLOTS.extend(spec for _, spec in sorted(ims, key=lambda e: e[0]))


_build()

ANNIVERSARY = "ANNIVERSARY"
# Where other writers put the anniversary: 3.0 has no ANNIVERSARY, so Apple/Evolution and
# Outlook (2.1) use extensions. Read from all; written per version (see vcard_write).
ANNIVERSARY_NAMES = ("ANNIVERSARY", "X-ANNIVERSARY", "X-MS-ANNIVERSARY", "X-EVOLUTION-ANNIVERSARY")
# Customer ID: personsync writes fields.CUSTOMER_ID_VCARD. No standard vCard property exists and
# Outlook does not export it; these are the spellings other tools and hand-made exports use, read
# so that a card carrying one is linked rather than duplicated.
CUSTOMER_ID_ALIASES = ("X-CUSTOMER-ID", "X-CUSTOMERID", "X-MS-CUSTOMERID")
# Marks a value written out of its natural position (e-mail 2 while e-mail 1 is empty), so that
# reading the card back puts it in the same slot.
SLOT_PARAM = "X-PERSONSYNC-SLOT"

# Other writers' names for the properties of fields.FIELDS' `.vcard` column (read, never
# written): Outlook's own, Evolution's, KAddressBook's.
SIMPLE_ALIASES: dict[str, str] = {
    "X-EVOLUTION-MANAGER": "X-MS-MANAGER",
    "X-KADDRESSBOOK-X-MANAGERSNAME": "X-MS-MANAGER",
    "X-EVOLUTION-ASSISTANT": "X-MS-ASSISTANT",
    "X-KADDRESSBOOK-X-ASSISTANTSNAME": "X-MS-ASSISTANT",
    "X-ASSISTANT": "X-MS-ASSISTANT",
    "X-EVOLUTION-SPOUSE": "X-MS-SPOUSE",
    "X-KADDRESSBOOK-X-SPOUSESNAME": "X-MS-SPOUSE",
    "X-SPOUSE": "X-MS-SPOUSE",
    "X-KADDRESSBOOK-X-PROFESSION": "ROLE",
    "X-KADDRESSBOOK-X-OFFICE": "X-PERSONSYNC-OFFICE-LOCATION",
}
# Outlook writes an IM address as X-MS-IMADDRESS (2.1), RFC 6350 as IMPP.
IM_NAMES = ("IMPP", "X-MS-IMADDRESS")

PHONE_ORDINARY = frozenset({"voice", "pref", "msg", "main", "internet"})
MOBILE_TYPES = frozenset({"cell", "mobile", "iphone"})
# Phone classes of one type of their own (pager, car, x-assistant, …), from the table.
_SPECIAL_PHONES = frozenset(
    next(iter(cls)) for cls in PHONE_SLOTS if len(cls) == 1 and not cls & {"cell", "voice", "fax"}
)
# Other writers' TEL types for those classes: Evolution's X-EVOLUTION-*, 3.0's and Outlook's
# spellings of a text telephone, the words people use.
PHONE_TYPE_ALIASES: dict[str, str] = {
    "tty": "textphone",
    "tdd": "textphone",
    "tty-tdd": "textphone",
    "ttytdd": "textphone",
    "x-evolution-tty": "textphone",
    "x-evolution-ttytdd": "textphone",
    "x-evolution-assistant": "x-assistant",
    "assistant": "x-assistant",
    "x-evolution-callback": "x-callback",
    "callback": "x-callback",
    "x-evolution-company": "x-company-main",
    "company": "x-company-main",
    "x-evolution-radio": "x-radio",
    "radio": "x-radio",
    "x-evolution-telex": "x-telex",
    "telex": "x-telex",
    "x-evolution-primary": "x-primary",
    "primary": "x-primary",
    "beeper": "pager",
}
# Apple's and Google's phone labels (`itemN.X-ABLabel` beside `itemN.TEL`), casefolded, with
# Apple's `_$!<…>!$_` wrapper removed → the TEL types they stand for.
LABEL_TYPES: dict[str, frozenset[str]] = {
    "assistant": frozenset({"x-assistant"}),
    "pager": frozenset({"pager"}),
    "car": frozenset({"car"}),
    "callback": frozenset({"x-callback"}),
    "isdn": frozenset({"isdn"}),
    "radio": frozenset({"x-radio"}),
    "telex": frozenset({"x-telex"}),
    "tty": frozenset({"textphone"}),
    "tty/tdd": frozenset({"textphone"}),
    "tdd": frozenset({"textphone"}),
    "company main": frozenset({"x-company-main"}),
    "company": frozenset({"x-company-main"}),
    "primary": frozenset({"x-primary"}),
    "home fax": frozenset({"home", "fax"}),
    "work fax": frozenset({"work", "fax"}),
    "business fax": frozenset({"work", "fax"}),
    "other fax": frozenset({"fax"}),
    "mobile": frozenset({"cell"}),
    "iphone": frozenset({"cell"}),
    "home": frozenset({"home"}),
    "work": frozenset({"work"}),
    "business": frozenset({"work"}),
    "other": frozenset({"voice"}),
}
# Apple's related names (`itemN.X-ABRELATEDNAMES` with a label) → the property of the field.
RELATED_LABELS: dict[str, str] = {
    "spouse": "X-MS-SPOUSE",
    "partner": "X-MS-SPOUSE",
    "assistant": "X-MS-ASSISTANT",
    "manager": "X-MS-MANAGER",
    "child": "X-PERSONSYNC-CHILDREN",
}


def label_text(label: str) -> str:
    """`_$!<HomeFAX>!$_` → `homefax`; `Assistant` → `assistant`."""
    text = label.strip()
    if text.startswith("_$!<") and text.endswith(">!$_"):
        text = text[4:-4]
    return text.strip().casefold()


_APPLE_LABELS = {"homefax": "home fax", "workfax": "work fax", "otherfax": "other fax"}


def label_types(label: str) -> frozenset[str] | None:
    """The TEL types a phone label stands for; None for a label no field has (custom)."""
    text = label_text(label)
    return LABEL_TYPES.get(_APPLE_LABELS.get(text, text))


def phone_class(types: frozenset[str]) -> frozenset[str]:
    """The slot class of a TEL by its types (the rules in fields' TEL notation)."""
    if not types.isdisjoint(PHONE_TYPE_ALIASES):
        types = frozenset(PHONE_TYPE_ALIASES.get(t, t) for t in types)
    if "fax" in types:
        if "work" in types:
            return frozenset({"work", "fax"})
        return frozenset({"home", "fax"}) if "home" in types else frozenset({"fax"})
    special = types & _SPECIAL_PHONES
    if special:
        return frozenset({min(special)})
    if types & MOBILE_TYPES:
        return frozenset({"cell"})
    significant = types - PHONE_ORDINARY - {"work", "home"}
    if not significant and "work" in types:
        return frozenset({"work", "voice"})
    if not significant and "home" in types:
        return frozenset({"home", "voice"})
    return frozenset({"voice"})


def address_type(types: frozenset[str]) -> str:
    if "work" in types:
        return "work"
    if "home" in types:
        return "home"
    return "other"


# Derived once for the reader: the fields of each structured property and its last mapped
# component; each address's slots in component order.
PART_NAMES = {prop: tuple(s.name for s in slots.values()) for prop, slots in PARTS.items()}
PART_LAST = {prop: max(slots) for prop, slots in PARTS.items()}
ADDRESS_SLOTS = {kind: sorted(slots.items()) for kind, slots in ADDRESS.items()}
# What a phone's and an address's parameters say, by parameters: the same few repeat.
_PHONE_PARAMS: dict[Params, tuple[frozenset[str], bool, tuple[str, ...]]] = {}
_ADDRESS_PARAMS: dict[Params, str] = {}


def phone_params(params: Params) -> tuple[frozenset[str], bool, tuple[str, ...]]:
    """A phone's slot class, whether its value is a `tel:` URI, the slot it asks for."""
    found = _PHONE_PARAMS.get(params)
    if found is None:
        if len(_PHONE_PARAMS) > 1000:
            _PHONE_PARAMS.clear()
        found = _PHONE_PARAMS[params] = (
            phone_class(frozenset(param(params, "TYPE"))),
            "uri" in (v.lower() for v in param(params, "VALUE")),
            param(params, SLOT_PARAM),
        )
    return found


def address_params(params: Params) -> str:
    """An address's type (`address_type`) by its parameters."""
    found = _ADDRESS_PARAMS.get(params)
    if found is None:
        if len(_ADDRESS_PARAMS) > 1000:
            _ADDRESS_PARAMS.clear()
        found = _ADDRESS_PARAMS[params] = address_type(frozenset(param(params, "TYPE")))
    return found


def parse_date(text: str) -> date:
    """`19800322`, `1980-03-22`, `1980-03-22T00:00:00Z`, `20090808T1430-0500` → a date.

    ValueError when there is no year (`--0322`) or it is not a date: the caller keeps the line
    and reports it, because a Record's date needs a year."""
    if len(text) == 10 and text[4] == "-" == text[7] and text.isascii():
        try:  # the 3.0/4.0 form, parsed in C; anything it rejects gets its reason below
            return date.fromisoformat(text)
        except ValueError:
            pass
    value = text.strip().partition("T")[0]
    if value.startswith("--"):
        raise ValueError(f"{text.strip()!r} has no year")
    digits = value.replace("-", "")
    if len(digits) != 8 or not (digits.isascii() and digits.isdigit()):  # "²" is a digit too
        raise ValueError(f"{text.strip()[:40]!r} is not a date")
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))


_PREF_RANKS: dict[Params, int] = {}


def pref_rank(params: Params) -> int:
    """Where an e-mail goes among those without a slot asked for: PREF=n, TYPE=pref, the rest."""
    rank = _PREF_RANKS.get(params)
    if rank is None:
        if len(_PREF_RANKS) > 1000:
            _PREF_RANKS.clear()
        pref = param(params, "PREF")
        if pref and pref[0] in "0123456789":  # not isdigit(): "²" is one, and int() refuses it
            rank = int(pref[0])
        else:
            rank = 1 if "pref" in param(params, "TYPE") else 101
        _PREF_RANKS[params] = rank
    return rank
