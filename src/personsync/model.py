"""The canonical contact record both sides map to, and normalisation for comparison.

`Record` holds the mapped fields (names in `personsync.fields`). A `Contact` is a Record as it
stands in a contact folder (item id, version, Customer ID, and whatever the store must keep to
write the item back without loss). A `Person` is a Record as it stands in the Persons database.

Storage keeps values as typed; comparison goes through `normalise`, so that `Ann@X.org` and
`ann@x.org`, or `+1 212-555-0100` and `(212) 555-0100`, are the same value and never cause a write.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import compress
from typing import Any, TypeVar, dataclass_transform

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


def _getter(index: int) -> Callable[[Any], Any]:
    def get(self: Any) -> Any:
        return self._values[index]

    return get


@dataclass_transform(frozen_default=True)
def _values_in_one_tuple(cls: type[T]) -> type[T]:
    """Make `cls` (annotated fields with defaults, and `__slots__ = ("_values",)`) a frozen
    record whose values are one exact tuple, in field order, with a read-only property per field.

    Why: the garbage collector walks every slot of every object it tracks, at every collection
    that reaches it, and an instance of a slotted class is always tracked: a Record of 65 slots
    was 65 visits, and a full export or import of 100,000 holds 100,000s of Records while its
    collections run (1.5 s of the export's 16 s of CPU, up to 3.4 s of the import's). CPython
    stops tracking an exact tuple whose items are untracked (str, None, date, tuples of str)
    the first time a collection sees it (a tuple subclass, or a slotted class, never), so a
    Record is now one small object with one reference to walk. What it costs: reading one
    field by name calls its property's Python getter (about 35 ns more than a slot on 3.11);
    the hot paths read all values at once (`field_values`, the tuple itself), and making a
    Record is one slot set instead of 65 (`record_of`)."""
    names = tuple(cls.__annotations__)
    if names != FIELD_NAMES or getattr(cls, "__slots__", None) != ("_values",):
        raise TypeError(f"{cls.__name__}: fields must be FIELD_NAMES, slots only '_values'")
    # Still a dataclass to the rest of the world (`dataclasses.fields`, `replace`, `asdict`,
    # the frozen __setattr__, the repr), but with its own constructor, == and hash below.
    made: Any = dataclass(cls, frozen=True, init=False, eq=False)
    defaults = tuple(made.__dict__[name] for name in names)
    put = made.__dict__["_values"].__set__
    for i, name in enumerate(names):
        setattr(made, name, property(_getter(i), doc=f"The field {name!r}."))
    # The constructor takes the fields by name or position with their defaults, as the
    # dataclass's would; written out once here (as `dataclasses` does) so that a call binds
    # them at C speed.
    params = ", ".join(f"{name}=_defaults[{i}]" for i, name in enumerate(names))
    source = f"def __init__(self, {params}):\n    _put(self, ({', '.join(names)},))\n"
    scope: dict[str, Any] = {"_defaults": defaults, "_put": put}
    exec(source, scope)  # noqa: S102 (the names are the class's own field names)
    made.__init__ = scope["__init__"]

    def eq(self: Any, other: Any) -> object:
        if other.__class__ is self.__class__:
            return bool(self._values == other._values)
        if isinstance(other, made):  # the other representation (`_Sparse`): by value
            return bool(field_values(self) == field_values(other))
        return NotImplemented

    def hash_(self: Any) -> int:
        return hash(self._values)

    def reduce(self: Any) -> tuple[Any, ...]:
        return (record_of, (self._values,))  # pickled as record_of(its values): one call

    made.__eq__ = eq
    made.__hash__ = hash_
    made.__reduce__ = reduce
    return cls


@_values_in_one_tuple
class Record:
    """A contact's mapped fields (see the module's doc). The 65 values live in one tuple
    (`field_values`); each field is a read-only property over it (see `_values_in_one_tuple`
    for why)."""

    __slots__ = ("_values",)

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
        return dict(zip(FIELD_NAMES, field_values(self), strict=True))

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
        return tuple(filter(None, _EMAILS(field_values(self))))


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
    it yet). In place (its values tuple replaced): a new Record would lose its identity with the
    copy a card keeps (`VCardExtra.read_record`), which callers compare by identity. A sparse
    Record's too (see `_Sparse`)."""
    if record.__class__ is _Sparse:
        raw = list(_raw(record))
        for k, at in enumerate(raw[-1]):
            if at in _REPEATED_SET:
                raw[k] = share(raw[k], seen)
        _put(record, tuple(raw))
        return
    values = list(field_values(record))
    for i in _REPEATED_AT:
        value = values[i]
        if value:
            values[i] = share(value, seen)
    _put(record, tuple(values))


# Typed loosely (Values, really) as the attrgetter of the 65 fields it replaces was: callers
# pick the values by position, which the type checker cannot follow anyway.
field_values: Callable[[Record], tuple[Any, ...]] = operator.attrgetter("_values")
"""A Record's values as a tuple in FIELD_NAMES order: the Record's own tuple, no copy (hot:
100,000s per run; reading the fields one by one calls a property each); a Record read from a
contact folder makes it on demand (see `_Sparse`)."""

# Making Records fast: every Record of a run is made by `record_of` (read from a row) or
# `record_from` (read from a card or a CSV row; unpickled from the vCard helper as `_sparse`):
# one object and one slot set, no __init__ call.
# The values must be typed already (see `coerce`).
_put = Record._values.__set__  # type: ignore[attr-defined]
_DEFAULTS: tuple[Value, ...] = field_values(Record())
_INDEX = {name: i for i, name in enumerate(FIELD_NAMES)}
_REPEATED_AT = tuple(i for i, name in enumerate(FIELD_NAMES) if name in REPEATED_FIELDS)
_REPEATED_SET = frozenset(_REPEATED_AT)
_EMAILS = operator.itemgetter(*(_INDEX[n] for n in ("email1", "email2", "email3")))
_NAMES = operator.itemgetter(*(_INDEX[n] for n in ("first_name", "middle_name", "last_name")))
_new = object.__new__


def fields_getter(names: Iterable[str]) -> Callable[[Record], tuple[Any, ...]]:
    """A function giving the values of the fields `names` (in that order) as a tuple: picked
    from the Record's tuple in C, not read by name (a property call each)."""
    at = tuple(_INDEX[name] for name in names)
    if len(at) == 1:  # itemgetter of one index returns the value, not a tuple
        (index,) = at
        return lambda record: (field_values(record)[index],)
    pick = operator.itemgetter(*at)
    return lambda record: pick(field_values(record))


def record_of(values: Sequence[Value]) -> Record:
    """The Record of these values: every field's, in FIELD_NAMES order (TypeError if there are
    more or fewer, as Record(*values) would say)."""
    if len(values) != len(FIELD_NAMES):
        raise TypeError(f"a Record has {len(FIELD_NAMES)} values, not {len(values)}")
    return _filled(values)


def _filled(values: Iterable[Value]) -> Record:
    record: Record = _new(Record)
    # An exact tuple (tuple() of one returns it as it is), so that the collector can stop
    # tracking it (see `_values_in_one_tuple`).
    _put(record, tuple(values))
    return record


def record_from(values: Mapping[str, Value]) -> Record:
    """The Record of these values by field name (typed already); the rest empty. Unlike
    Record(**values), a name that is no field is ignored: callers take names from the table.
    The readers of contact folders make their Records here: a Record with few fields set keeps
    only those (see `_Sparse`)."""
    given = values.values()
    try:
        # The set values are the true ones (typed, an empty value is "", None or ()), kept in
        # the order given (see `_Sparse`).
        fields = bytes(compress(map(_INDEX.__getitem__, values), given))
    except KeyError:  # a name that is no field (ignored, as below): the long way
        return record_from({k: v for k, v in values.items() if k in _INDEX})
    if len(fields) > _SPARSE_UP_TO:
        return _filled(map(values.get, FIELD_NAMES, _DEFAULTS))
    record: Record = _new(_Sparse)
    _put(record, (*compress(given, given), fields))
    return record


# --- Records read from contact folders: only the values that are set ----------------------------
#
# Why: a first sync holds a Record per contact read (100,000 of them) while it reads the
# Persons and plans, and a contact sets about 13 of the 65 fields (the bench's cards and real
# Outlook contacts alike): as a tuple of 65, 400 of a Record's 600 bytes were pointers to "",
# None and (). A `_Sparse` Record keeps its set values in the order the reader gave them, then
# which fields they are as bytes (a field's index each), in the one exact tuple a Record has:
# 13 values, 240 bytes instead of 600 (100,000 contacts: 36 MB less).
#
# Why so: the Record stays one object whose one reference is a tuple the collector stops
# tracking (text, dates, tuples of text and bytes are untracked: see `_values_in_one_tuple`).
# Which fields are set is kept per Record, not as a shape shared per field set: the bench's
# 100,000 cards hold 50,037 field sets (seed 42), and so may a real address book, so a table
# per field set (to pick the 65 values in C) would cost more than it saves. In the order given,
# not sorted: making one walks the card's values only, cheaper than a plain Record's 65.
#
# Why a subclass: a Record read from a row (the export's 100,000 Persons: the hot path) stays a
# plain Record, its `_values` one slot read in C (`field_values`). A `_Sparse` answers
# `_values` with a property that makes the 65 values on demand (about 1 µs: the planner,
# the row and card writers read all the values at once, a few times per contact and run), and
# each field by its own property (no 65 values for one). Equal values are equal Records with
# equal hashes, in either representation (`sync.engine._SameRecords` shares one Record per
# agreeing pair; Records are keys of dicts and sets).

# Past this many values (and the bytes), a plain Record is about as small, and read faster.
_SPARSE_UP_TO = len(FIELD_NAMES) // 2
_raw: Callable[[Record], tuple[Any, ...]] = Record.__dict__["_values"].__get__
"""A Record's own tuple, whichever its class (a `_Sparse`'s: set values, then their fields)."""


class _Sparse(Record):
    """A Record holding only its set values (see above); everything else is Record's."""

    __slots__ = ()
    # Its own tuple, read as a slot (`_values` is the property below): the very slot of Record
    # under a second name, so read as fast as a slot is.
    _raw = Record.__dict__["_values"]

    def __new__(cls, *args: Any, **kwargs: Any) -> Record:  # type: ignore[misc]
        # `dataclasses.replace(record, ...)` calls the record's class: a plain Record.
        return Record(*args, **kwargs)

    @property
    def _values(self) -> tuple[Any, ...]:
        raw = self._raw
        values = [*_DEFAULTS]
        # The bytes are last: zip stops at the values' end.
        for at, value in zip(raw[-1], raw, strict=False):
            values[at] = value
        return tuple(values)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is _Sparse:
            mine, theirs = self._raw, other._raw
            if mine[-1] == theirs[-1]:  # the same fields, in the same order
                return bool(mine == theirs)
        if isinstance(other, Record):
            return bool(field_values(self) == field_values(other))
        return NotImplemented

    __hash__ = Record.__hash__  # hash(self._values): a Record's of the same values

    def __repr__(self) -> str:
        return repr(_filled(self._values))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_sparse, (_raw(self),))


def _sparse_getter(index: int, default: Value) -> Callable[[Any], Any]:
    def get(self: Any) -> Any:
        raw = self._raw
        fields = raw[-1]
        # `in` first: most fields are not set, and it costs a third of `find` (callgrind).
        return raw[fields.find(index)] if index in fields else default

    return get


for _at, _name in enumerate(FIELD_NAMES):
    setattr(
        _Sparse, _name, property(_sparse_getter(_at, _DEFAULTS[_at]), doc=f"The field {_name!r}.")
    )
del _at, _name


def _sparse(raw: tuple[Any, ...]) -> Record:
    record: Record = _new(_Sparse)
    _put(record, raw)
    return record


def display_name(r: Record) -> str:
    # A Record read from a folder: three fields by name, not all 65 made (see `_Sparse`).
    sparse = r.__class__ is _Sparse
    names = (r.first_name, r.middle_name, r.last_name) if sparse else _NAMES(field_values(r))
    name = " ".join(filter(None, names))
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
    if old is new:  # one Record for an agreeing pair (a first sync's, see `sync.engine`)
        return {}
    a_values, b_values = field_values(old), field_values(new)
    if a_values == b_values:  # the common case, in one C comparison of all the fields
        return {}
    out: dict[str, tuple[Value, Value]] = {}
    for name, a, b in zip(FIELD_NAMES, a_values, b_values, strict=True):
        if a != b and not same(name, a, b, region):
            out[name] = (a, b)
    return out
