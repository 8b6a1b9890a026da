"""Outlook CSV layouts: which column holds which field, found by header name, never by position.

Outlook writes three layouts: the classic 92 columns (`Business Country/Region`,
three street columns per address), the older classic one (`Business Country`), and Outlook.com's
61 columns (one street column, `Nickname`, `Personal Web Page`). The field ⇄ column names come
from `personsync.fields`; this module only knows how a header is arranged.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from personsync.fields import BY_NAME, CUSTOMER_ID_CSV, FIELDS

# The column personsync adds so that rows keep their item id across rewrites (see csv_file.py).
ITEM_ID_COLUMN = "personsync Item ID"

# Classic Outlook's export header, in Outlook's order. It is a fact about Outlook's files, not a
# second mapping table: which of these columns hold which field is decided by `fields.FIELDS`.
CLASSIC_HEADER: tuple[str, ...] = (
    "Title", "First Name", "Middle Name", "Last Name", "Suffix", "Company", "Department",
    "Job Title", "Business Street", "Business Street 2", "Business Street 3", "Business City",
    "Business State", "Business Postal Code", "Business Country/Region", "Home Street",
    "Home Street 2", "Home Street 3", "Home City", "Home State", "Home Postal Code",
    "Home Country/Region", "Other Street", "Other Street 2", "Other Street 3", "Other City",
    "Other State", "Other Postal Code", "Other Country/Region", "Assistant's Phone",
    "Business Fax", "Business Phone", "Business Phone 2", "Callback", "Car Phone",
    "Company Main Phone", "Home Fax", "Home Phone", "Home Phone 2", "ISDN", "Mobile Phone",
    "Other Fax", "Other Phone", "Pager", "Primary Phone", "Radio Phone", "TTY/TDD Phone",
    "Telex", "Account", "Anniversary", "Assistant's Name", "Billing Information", "Birthday",
    "Business Address PO Box", "Categories", "Children", "Directory Server", "E-mail Address",
    "E-mail Type", "E-mail Display Name", "E-mail 2 Address", "E-mail 2 Type",
    "E-mail 2 Display Name", "E-mail 3 Address", "E-mail 3 Type", "E-mail 3 Display Name",
    "Gender", "Government ID Number", "Hobby", "Home Address PO Box", "Initials",
    "Internet Free Busy", "Keywords", "Language", "Location", "Manager's Name", "Mileage",
    "Notes", "Office Location", "Organizational ID Number", "Other Address PO Box", "Priority",
    "Private", "Profession", "Referred By", "Sensitivity", "Spouse", "User 1", "User 2",
    "User 3", "User 4", "Web Page",
)  # fmt: skip

# What personsync writes to a new file: classic Outlook plus a column for each field classic
# Outlook has none for (Nickname, File As, the yomi names and IM addresses, as Outlook.com
# names them), and the columns it needs.
WRITE_HEADER: tuple[str, ...] = (
    *CLASSIC_HEADER,
    *(f.csv for f in FIELDS if f.csv not in CLASSIC_HEADER),
    CUSTOMER_ID_CSV,
    ITEM_ID_COLUMN,
)

LayoutName = Literal["classic", "classic (Outlook 2003)", "Outlook.com", "other"]

_STREET_FIELDS = ("business_street", "home_street", "other_street")
# The e-mail slots and the `E-mail Type` column beside each (`EX` = Exchange X.500 path).
EMAIL_TYPE_COLUMNS = {
    "email1": "E-mail Type",
    "email2": "E-mail 2 Type",
    "email3": "E-mail 3 Type",
}
_IDENTITY_FIELDS = ("first_name", "last_name", "email1")
# Columns of Outlook's that no Person field holds, in the value Outlook writes when the field is
# unset (None: derived from other fields, never worth a word). Any other value in an unmapped
# column is reported as not synced (`Layout.not_synced`): kept in the file, but the Person
# never sees it.
_UNSET_VALUES: dict[str, str | None] = {
    "priority": "Normal",
    "sensitivity": "Normal",
    "private": "False",
    "gender": "Unspecified",
    "e-mail type": None,
    "e-mail 2 type": None,
    "e-mail 3 type": None,
    "e-mail display name": None,
    "e-mail 2 display name": None,
    "e-mail 3 display name": None,
}


def _key(name: str) -> str:
    return name.strip().casefold()


@dataclass(frozen=True)
class Layout:
    """A header and where each field, Customer ID, item id and unmapped column sits in it."""

    header: tuple[str, ...]
    name: LayoutName
    # field name → column index (the first of the field's csv name and aliases present)
    columns: dict[str, int]
    # street field → (street, street 2, street 3) indices when the header has all three
    streets: dict[str, tuple[int, int, int]]
    customer_id: int | None
    item_id: int | None
    email_types: dict[str, int]  # email field → its `E-mail Type` column
    unmapped: tuple[int, ...]  # columns kept per row in Contact.extra
    # The Contact.extra key of each unmapped column: its name, made unique when a header repeats
    # a name (`Notes #2`) or has none (`(column 93)`), so no value is lost on a rewrite.
    extra_keys: tuple[str, ...] = ()
    extra_index: dict[str, int] = field(default_factory=dict)  # casefolded extra key → index
    index: dict[str, int] = field(default_factory=dict)  # casefolded name → first index
    # Per unmapped column (as `unmapped`): the value Outlook writes there when unset, None for
    # a column never reported (see _UNSET_VALUES), "" for any other column.
    unset_values: tuple[str | None, ...] = ()

    @classmethod
    def of(cls, header: tuple[str, ...] | list[str]) -> Layout:
        names = tuple(h.strip() for h in header)
        index: dict[str, int] = {}
        for i, name in enumerate(names):
            index.setdefault(_key(name), i)
        columns: dict[str, int] = {}
        for spec in FIELDS:
            for candidate in (spec.csv, *spec.csv_aliases):
                if _key(candidate) in index:
                    columns[spec.name] = index[_key(candidate)]
                    break
        streets: dict[str, tuple[int, int, int]] = {}
        for street in _STREET_FIELDS:
            if street not in columns:
                continue
            base = BY_NAME[street].csv
            two, three = index.get(_key(f"{base} 2")), index.get(_key(f"{base} 3"))
            if two is not None and three is not None:
                streets[street] = (columns[street], two, three)
        customer_id = index.get(_key(CUSTOMER_ID_CSV))
        item_id = index.get(_key(ITEM_ID_COLUMN))
        email_types = {
            email: index[_key(column)]
            for email, column in EMAIL_TYPE_COLUMNS.items()
            if _key(column) in index
        }
        used = set(columns.values()) | {i for s in streets.values() for i in s}
        used |= {i for i in (customer_id, item_id) if i is not None}
        unmapped = tuple(i for i in range(len(names)) if i not in used)
        extra_keys = tuple(_extra_key(names, i) for i in unmapped)
        return cls(
            header=names,
            name=_layout_name(index),
            columns=columns,
            streets=streets,
            customer_id=customer_id,
            item_id=item_id,
            email_types=email_types,
            unmapped=unmapped,
            extra_keys=extra_keys,
            extra_index={_key(k): i for k, i in zip(extra_keys, unmapped, strict=True)},
            index=index,
            unset_values=tuple(_UNSET_VALUES.get(_key(names[i]), "") for i in unmapped),
        )

    def not_synced(self, key: str, value: str, unset: str | None) -> str | None:
        """The report line for a value in an unmapped column (`key`, see `extra_keys`), or
        None when it says nothing (Outlook's value for an unset field, a derived column)."""
        if unset is None or value == unset:
            return None
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"{key} {shown!r}: not synced (no Person field; kept in the file)"

    @functools.cached_property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self.columns)

    @functools.cached_property
    def field_cells(self) -> Callable[[Sequence[str]], tuple[str, ...]]:
        """A row's cells of the mapped fields, in `field_names` order, picked in C: a row has
        a cell for each of up to 65 fields, and most are empty."""
        return _picker(tuple(self.columns.values()))

    @functools.cached_property
    def extra_cells(self) -> Callable[[Sequence[str]], tuple[str, ...]]:
        """A row's cells of the unmapped columns, in `unmapped` order."""
        return _picker(self.unmapped)

    def extra_column(self, key: str) -> int | None:
        """Where a Contact.extra value goes: its own column, else the column of that name."""
        found = self.extra_index.get(_key(key))
        return self.index.get(_key(key)) if found is None else found

    def looks_like_contacts(self) -> bool:
        return any(name in self.columns for name in _IDENTITY_FIELDS)

    def with_columns(self, names: list[str]) -> Layout:
        """This layout plus the named columns it lacks, appended at the end."""
        missing = [n for n in dict.fromkeys(names) if self.extra_column(n) is None]
        return self if not missing else Layout.of((*self.header, *missing))

    def column_for(self, field_name: str) -> str:
        """The column a field is written to in this layout (its classic name when absent)."""
        if field_name in self.columns:
            return self.header[self.columns[field_name]]
        return BY_NAME[field_name].csv


def _picker(indexes: tuple[int, ...]) -> Callable[[Sequence[str]], tuple[str, ...]]:
    """The cells at these indexes as a tuple (itemgetter, but a tuple for one or none too)."""
    if len(indexes) == 1:
        only = indexes[0]
        return lambda cells: (cells[only],)
    if not indexes:
        return lambda cells: ()
    return operator.itemgetter(*indexes)


def _extra_key(names: tuple[str, ...], i: int) -> str:
    name = names[i]
    if not name:
        return f"(column {i + 1})"
    seen = sum(1 for earlier in names[:i] if _key(earlier) == _key(name))
    return name if not seen else f"{name} #{seen + 1}"


def _layout_name(index: dict[str, int]) -> LayoutName:
    if _key("Business Street 2") in index:
        if _key("Business Country/Region") in index:
            return "classic"
        if _key("Business Country") in index:
            return "classic (Outlook 2003)"
    if _key("Given Yomi") in index or _key("Personal Web Page") in index:
        return "Outlook.com"
    return "other"


def needed_columns(layout: Layout, used_fields: set[str], extra_columns: set[str]) -> list[str]:
    """Columns a layout must gain to hold these non-empty fields and store-private columns."""
    wanted = [BY_NAME[name].csv for name in sorted(used_fields) if name not in layout.columns]
    wanted += sorted(extra_columns)
    return wanted
