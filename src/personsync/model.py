"""The canonical contact record both sides map to, and normalisation for comparison.

`Record` holds the mapped fields (names in `personsync.fields`). A `Contact` is a Record as it
stands in a contact folder (item id, version, Customer ID, and whatever the store must keep to
write the item back without loss). A `Person` is a Record as it stands in the Persons database.

Storage keeps values as typed; comparison goes through `normalise`, so that `Ann@X.org` and
`ann@x.org`, or `+1 212-555-0100` and `(212) 555-0100`, are the same value and never cause a write.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from personsync.fields import BY_NAME, FIELD_NAMES

Value = str | date | tuple[str, ...] | None
"""A field's value: text ("" when empty), a date (None when empty), or categories (a tuple)."""


T = TypeVar("T")


def pickled_by_fields(cls: type[T]) -> type[T]:
    """Pickle a slotted dataclass as `cls(*its field values)`. Why: the dataclass default for
    slots walks `fields()` in Python for every object, both ways; the vCard folder's helper
    process sends back half of an import's contacts (`stores/card_reader.py`), and this makes
    pickling them 2.6 times and unpickling them 2 times as fast. Every field must be an
    `__init__` argument, in field order (checked here)."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if not all(f.init for f in fields):
        raise TypeError(f"{cls.__name__}: every field must be an __init__ argument")
    if len(fields) == 1:
        name = fields[0].name

        def one(self: Any) -> tuple[Any, ...]:
            return (cls, (getattr(self, name),))

        cls.__reduce__ = one  # type: ignore[method-assign]
        return cls
    values = operator.attrgetter(*(f.name for f in fields))

    def many(self: Any) -> tuple[Any, ...]:
        return (cls, values(self))

    cls.__reduce__ = many  # type: ignore[method-assign]
    return cls


@dataclass(frozen=True, slots=True)
class Record:
    prefix: str = ""
    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    suffix: str = ""
    nickname: str = ""
    initials: str = ""
    file_as: str = ""
    yomi_first_name: str = ""
    yomi_last_name: str = ""
    job_title: str = ""
    company: str = ""
    department: str = ""
    yomi_company: str = ""
    profession: str = ""
    office_location: str = ""
    manager: str = ""
    assistant_name: str = ""
    email1: str = ""
    email2: str = ""
    email3: str = ""
    im_address: str = ""
    im_address2: str = ""
    im_address3: str = ""
    business_phone: str = ""
    business_phone2: str = ""
    home_phone: str = ""
    home_phone2: str = ""
    mobile_phone: str = ""
    business_fax: str = ""
    other_phone: str = ""
    home_fax: str = ""
    other_fax: str = ""
    primary_phone: str = ""
    company_main_phone: str = ""
    assistant_phone: str = ""
    callback_phone: str = ""
    car_phone: str = ""
    isdn: str = ""
    pager: str = ""
    radio_phone: str = ""
    telex: str = ""
    tty_phone: str = ""
    business_street: str = ""
    business_city: str = ""
    business_state: str = ""
    business_postal_code: str = ""
    business_country: str = ""
    home_street: str = ""
    home_city: str = ""
    home_state: str = ""
    home_postal_code: str = ""
    home_country: str = ""
    other_street: str = ""
    other_city: str = ""
    other_state: str = ""
    other_postal_code: str = ""
    other_country: str = ""
    birthday: date | None = None
    anniversary: date | None = None
    spouse_name: str = ""
    children: tuple[str, ...] = ()
    web_page: str = ""
    notes: str = ""
    categories: tuple[str, ...] = ()

    def values(self) -> dict[str, Value]:
        return {name: getattr(self, name) for name in FIELD_NAMES}

    def non_empty(self) -> dict[str, Value]:
        return {k: v for k, v in self.values().items() if not is_empty(v)}

    def replace(self, changes: Mapping[str, Value]) -> Record:
        values = list(field_values(self))
        for name, value in changes.items():
            index = _INDEX.get(name)
            if index is None:
                raise TypeError(f"Record has no field {name!r}")
            values[index] = value
        return record_of(values)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Record:
        """Build from a mapping of field name → value; unknown keys are an error, None → empty."""
        unknown = set(values) - set(FIELD_NAMES)
        if unknown:
            raise KeyError(f"unknown field(s): {', '.join(sorted(unknown))}")
        return cls(**{k: coerce(k, v) for k, v in values.items()})  # type: ignore[arg-type]

    @property
    def display_name(self) -> str:
        return display_name(self)

    @property
    def emails(self) -> tuple[str, ...]:
        return tuple(e for e in (self.email1, self.email2, self.email3) if e)


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Contact:
    """A contact as it stands in a contact folder."""

    record: Record
    item_id: str = ""
    version: str = ""
    customer_id: str = ""  # Outlook's Customer ID (0x3A4A): the linked Person's id
    # Store-private payload that lets the store write the item back without loss (unmapped vCard
    # lines, unknown CSV columns, Graph properties outside the table). Never compared.
    extra: Any = field(default=None, compare=False)
    # Values the record could not hold (a 4th e-mail, a second mobile): reported, never dropped.
    unmapped: tuple[str, ...] = field(default=(), compare=False)

    @property
    def display_name(self) -> str:
        return self.record.display_name


@dataclass(frozen=True, slots=True)
class Person:
    """A Person as it stands in the Persons database."""

    id: int
    record: Record
    version: str = ""  # the change marker: changes whenever a mapped field changes
    contact_manager_id: str | None = None  # hidden link to a contact (see sync/links.py)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def display_name(self) -> str:
        return self.record.display_name


# Fields whose values repeat across records (a city, a company, a first name): a listing of many
# records keeps one string per distinct value (`share`). 100,000 Persons held 45 MB of copies.
REPEATED_FIELDS = frozenset(
    n
    for n in FIELD_NAMES
    if n.endswith(("_city", "_state", "_country"))
    or n in {"prefix", "first_name", "middle_name", "last_name", "suffix", "company"}
    or n in {"department", "job_title", "categories"}
)


def share(value: Value, seen: dict[Any, Any]) -> Value:
    """`value`, or the equal value met before in the same listing (`seen`: kept by the
    caller for the listing); the strings of categories are shared one by one."""
    if isinstance(value, tuple):
        return tuple(seen.setdefault(v, v) for v in value)
    return seen.setdefault(value, value) if value else value


def share_unpickled(record: Record, seen: dict[Any, Any]) -> None:
    """`share` for each repeated value of a Record that was just unpickled (no one else holds
    it yet). In place, through object.__setattr__ as a frozen dataclass's own __init__ does: a
    new Record would cost ten times as much, and lose its identity with the copy a card keeps
    (`VCardExtra.read_record`), which callers compare by identity."""
    for name in REPEATED_FIELDS:
        value = getattr(record, name)
        if value:
            object.__setattr__(record, name, share(value, seen))


field_values = operator.attrgetter(*FIELD_NAMES)
"""A Record's values as a tuple in FIELD_NAMES order, in one C call (hot: 100,000s per run)."""

# Making Records fast. The dataclass __init__ of a frozen class sets each of the 65 fields with
# a Python-level object.__setattr__ call; `record_of` sets them through the slots' own
# descriptors, called from C (map), at half the cost, and a quarter of Record(**values). Every
# Record of a run is made this way: unpickled from the vCard helper, read from a row, read
# from a card. The values must be typed already (see `coerce`).
_SETTERS = tuple(getattr(Record, name).__set__ for name in FIELD_NAMES)
_DEFAULTS: tuple[Value, ...] = field_values(Record())
_INDEX = {name: i for i, name in enumerate(FIELD_NAMES)}
_new = object.__new__


def record_of(values: Sequence[Value]) -> Record:
    """The Record of these values: every field's, in FIELD_NAMES order (TypeError if there are
    more or fewer, as Record(*values) would say)."""
    if len(values) != len(_SETTERS):
        raise TypeError(f"a Record has {len(_SETTERS)} values, not {len(values)}")
    return _filled(values)


def _filled(values: Iterable[Value]) -> Record:
    record: Record = _new(Record)
    deque(map(operator.call, _SETTERS, itertools.repeat(record), values), maxlen=0)
    return record


def record_from(values: Mapping[str, Value]) -> Record:
    """The Record of these values by field name (typed already); the rest empty. Unlike
    Record(**values), a name that is no field is ignored: callers take names from the table."""
    return _filled(map(values.get, FIELD_NAMES, _DEFAULTS))


def _reduce_record(self: Record) -> tuple[Any, ...]:
    return (record_of, (field_values(self),))


# Pickled as record_of(its values) (see `pickled_by_fields` for why this matters).
Record.__reduce__ = _reduce_record  # type: ignore[method-assign,assignment]


def display_name(r: Record) -> str:
    name = " ".join(filter(None, (r.first_name, r.middle_name, r.last_name)))
    return name or r.nickname or r.company or r.email1 or "(no name)"


def is_empty(value: Value) -> bool:
    return value is None or value == "" or value == ()


def coerce(name: str, value: Any) -> Value:
    """Turn a loosely typed value (from JSON, CSV, SQL) into the field's type."""
    kind = BY_NAME[name].kind
    if kind == "date":
        if value is None or value == "":
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        return date.fromisoformat(str(value).strip()[:10])
    if kind == "list":
        if value is None or value == "":
            return ()
        if isinstance(value, str):
            return split_categories(value)
        return tuple(str(v).strip() for v in value if str(v).strip())
    return "" if value is None else str(value)


_CATEGORY_SEPARATOR = re.compile(r"[;,]")


def split_categories(text: str) -> tuple[str, ...]:
    """Outlook separates categories with ';' (CSV) or ',' (vCard); neither occurs in a name."""
    if not text:
        return ()
    return tuple(p.strip() for p in _CATEGORY_SEPARATOR.split(text) if p.strip())


def join_categories(categories: Iterable[str]) -> str:
    return "; ".join(categories)


# --- normalisation for comparison ----------------------------------------------------------------

_SPACE = re.compile(r"[ \t]+")
DEFAULT_REGION = "US"


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 when the number parses; else the typed value with spacing removed.

    Not cached here: a cache of the process outlived its runs (a first sync left 160,000
    numbers in it) and was shared by every run of a server process. The comparisons that
    call this compare unequal texts only (`same`), which is rare; matching, which asks for the
    same numbers round after round, keeps its own cache for the length of one match
    (`sync.match.MatchIndex`)."""
    text = raw.strip()
    if not text:
        return ""
    # Imported when first needed: phonenumbers takes a tenth of a second to load, and commands
    # that import the model (the CLI's start-up) must not pay for it.
    import phonenumbers

    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return re.sub(r"\s+", "", text)
    if not phonenumbers.is_possible_number(parsed):
        return re.sub(r"\s+", "", text)
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def normalise_text(value: str) -> str:
    lines = [_SPACE.sub(" ", line).strip() for line in value.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip()


def normalise(name: str, value: Value, region: str = DEFAULT_REGION) -> Value:
    """The comparable form of one field's value."""
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, tuple):
        return tuple(sorted({v.strip().casefold() for v in value if v.strip()}))
    kind = BY_NAME[name].kind
    if kind == "email":
        return value.strip().casefold()
    if kind == "phone":
        return normalise_phone(value, region)
    if kind == "url":
        return value.strip().rstrip("/")
    return normalise_text(value)


def same(name: str, a: Value, b: Value, region: str = DEFAULT_REGION) -> bool:
    return a == b or normalise(name, a, region) == normalise(name, b, region)


def diff(old: Record, new: Record, region: str = DEFAULT_REGION) -> dict[str, tuple[Value, Value]]:
    """Fields whose comparable values differ: name → (old, new)."""
    a_values, b_values = field_values(old), field_values(new)
    if a_values == b_values:  # the common case, in one C comparison of all the fields
        return {}
    out: dict[str, tuple[Value, Value]] = {}
    for name, a, b in zip(FIELD_NAMES, a_values, b_values, strict=True):
        if a != b and not same(name, a, b, region):
            out[name] = (a, b)
    return out
