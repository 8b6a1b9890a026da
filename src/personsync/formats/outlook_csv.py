"""Outlook CSV codec: bytes ⇄ contacts, no policy (the `csv:` store decides what to do).

Reading: the encoding is found (BOM → UTF-8, else strict UTF-8, else cp1252; or as told), the
layout is found by header names (`outlook_csv_layout`), and each row becomes a `Contact` or a
`FormatError` naming the file, line and person; a bad row never stops the others.
Writing: every value quoted, CRLF, UTF-8 with BOM by default, and cells a spreadsheet would run
as a formula are neutralised with a leading `'` (undone again on reading, see `neutralise`).
"""

from __future__ import annotations

import codecs
import csv
import itertools
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import compress
from typing import Any, Literal

from personsync.errors import FormatError
from personsync.fields import BY_NAME, CUSTOMER_ID_CSV, FIELD_NAMES, FIELDS
from personsync.formats.outlook_csv_layout import (
    ITEM_ID_COLUMN,
    WRITE_HEADER,
    Layout,
    needed_columns,
)
from personsync.model import Contact, join_categories, record_from, split_categories

DateOrder = Literal["MDY", "DMY", "YMD"]
DATE_ORDERS: tuple[DateOrder, ...] = ("MDY", "DMY", "YMD")
EXCHANGE_TYPE = "EX"
_FORMULA_START = frozenset("=+-@\t\r")
_FIELD_LIMIT = min(256 * 1024 * 1024, sys.maxsize)
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_DATE_FIELDS = tuple(f.name for f in FIELDS if f.kind == "date")
_LIST_FIELDS = tuple(f.name for f in FIELDS if f.kind == "list")
_NO_DATE = re.compile(r"^0+[/.\-]0+[/.\-]0+$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_SHORT_DATE = re.compile(r"^(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})$")


# --- cells ---------------------------------------------------------------------------------------


def neutralise(value: str) -> str:
    """Prefix `'` to a value a spreadsheet would run as a formula.

    Also to a value that already starts with `'`s before such a character, so that reading can
    always strip exactly one `'`: `=1` ⇄ `'=1`, `'=1` ⇄ `''=1`, and `'x` stays `'x`.
    """
    if value.lstrip("'")[:1] in _FORMULA_START and value.lstrip("'"):
        return "'" + value
    return value


def unneutralise(cell: str) -> str:
    """Undo `neutralise`: drop one leading `'` if the rest starts with formula characters."""
    if cell[:1] == "'":
        rest = cell.lstrip("'")
        if rest and rest[0] in _FORMULA_START:
            return cell[1:]
    return cell


def parse_date(text: str, order: DateOrder = "MDY") -> date | None:
    """A date in Outlook's short format (or ISO); `0/0/00` and "" are none. ValueError if bad."""
    text = text.strip()
    if not text or _NO_DATE.match(text):
        return None
    # Some exports append a time ("3/22/1980 12:00:00 AM"): the date part is what counts.
    text = text.split()[0]
    iso = _ISO_DATE.match(text)
    if iso:
        return date(int(iso[1]), int(iso[2]), int(iso[3]))
    short = _SHORT_DATE.match(text)
    if not short:
        raise ValueError(f"not a date: {text!r}")
    a, b, c = short[1], short[2], short[3]
    if order == "MDY":
        month, day, year = a, b, c
    elif order == "DMY":
        day, month, year = a, b, c
    else:
        year, month, day = a, b, c
    return date(_full_year(year), int(month), int(day))


def _full_year(text: str) -> int:
    year = int(text)
    if len(text) > 2:
        return year
    # Two-digit years: the century that puts the date at most ~20 years in the future.
    this_year = date.today().year
    full = this_year - this_year % 100 + year
    return full - 100 if full > this_year + 20 else full


def format_date(value: date, order: DateOrder = "MDY") -> str:
    if order == "MDY":
        return f"{value.month}/{value.day}/{value.year:04d}"
    if order == "DMY":
        return f"{value.day}/{value.month}/{value.year:04d}"
    return value.isoformat()


# --- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its first line in the file (1-based) and its cells as written."""

    line: int
    cells: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """A parsed file. `layout` is None for an empty file."""

    layout: Layout | None
    encoding: str
    rows: list[Row | FormatError]


def decode(data: bytes, *, encoding: str | None = None, source: str = "") -> tuple[str, str]:
    """The text of a file and the encoding it was read with."""
    candidates = [encoding] if encoding else ["utf-8", "cp1252"]
    if not encoding and data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    for candidate in candidates:
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError:
            if candidate == "utf-8" and not encoding:
                # Not UTF-8 as a whole: each line on its own, UTF-8 when it is, else cp1252
                # (Outlook's), so that one row's stray byte never garbles the others' accents.
                return "".join(map(_decode_line, data.splitlines(keepends=True))), "cp1252"
            continue
        except LookupError as exc:
            raise FormatError(f"unknown encoding {encoding!r}", source=source) from exc
    raise FormatError(
        f"cannot be read as {' or '.join(candidates)}: is this a text file?",
        source=source,
        hint="name its encoding with encoding=… if it is a CSV export",
    )


def _decode_line(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return line.decode("cp1252")
        except UnicodeDecodeError:  # cp1252 leaves five bytes undefined
            return line.decode("latin-1")


def parse(data: bytes, *, source: str = "", encoding: str | None = None) -> Table:
    """Split a file into header and rows; a malformed row becomes a FormatError in its place."""
    layout, used, rows = scan(data, source=source, encoding=encoding)
    return Table(layout, used, list(rows))


def scan(
    data: bytes, *, source: str = "", encoding: str | None = None
) -> tuple[Layout | None, str, Iterator[Row | FormatError]]:
    """`parse`, with rows produced one at a time so a big file is never held twice."""
    text, used = decode(data, encoding=encoding, source=source)
    text = text.removeprefix("\ufeff")  # a BOM left by an explicit encoding= "utf-8"
    if not text.strip():
        return None, used, iter(())
    reader = csv.reader(_lines(text), strict=True)
    try:
        header = _next_row(reader)
    except csv.Error as exc:
        raise FormatError(f"unreadable header: {exc}", source=source, line=1) from exc
    layout = Layout.of(header or [])
    if not layout.looks_like_contacts():
        raise FormatError(
            "this does not look like an Outlook CSV export: no First Name/Last Name/E-mail columns",
            source=source,
            line=1,
            hint="export contacts from Outlook as 'Comma Separated Values'",
        )
    return layout, used, _rows(reader, layout, source)


def _lines(text: str) -> Iterator[str]:
    """Lines as `open(newline="")` splits them (CRLF, LF or CR), one at a time: unlike StringIO
    this does not copy the whole text into a second buffer."""
    for match in _LINE.finditer(text):
        yield match.group()


def _next_row(reader: Any) -> list[str] | None:
    # A 10 MB note is a legitimate cell; the csv module's process-wide limit (128 KiB) would
    # refuse it, so it is raised around each row only, and put back.
    limit = csv.field_size_limit(_FIELD_LIMIT)
    try:
        row: list[str] = next(reader)
        return row
    except StopIteration:
        return None
    finally:
        csv.field_size_limit(limit)


def parse_line(text: str) -> tuple[str, ...]:
    """The cells of one CSV row (its quoted cells may hold line breaks)."""
    cells = _next_row(csv.reader([text], strict=True))
    return tuple(cells or ())


def _rows(reader: Any, layout: Layout, source: str) -> Iterator[Row | FormatError]:
    """Rows with the line each starts on (`reader.line_num` is the line each ends on)."""
    width = len(layout.header)
    previous: int = reader.line_num
    while True:
        start = previous + 1
        try:
            cells = _next_row(reader)
        except csv.Error as exc:
            previous = reader.line_num
            yield FormatError(f"malformed row: {exc}", source=source, line=start)
            continue
        if cells is None:
            return
        previous = reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # blank line
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            yield FormatError(
                f"row has {len(cells)} cells but the header has {width}",
                source=source,
                line=start,
                name=_row_name(cells, layout),
            )
            continue
        if len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        yield Row(start, tuple(cells[:width]))


def _row_name(cells: Sequence[str], layout: Layout) -> str:
    def cell(name: str) -> str:
        i = layout.columns.get(name)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    name = " ".join(p for p in (cell("first_name"), cell("last_name")) if p)
    return name or cell("company") or cell("email1")


def row_to_contact(
    row: Row, layout: Layout, *, date_order: DateOrder = "MDY", source: str = ""
) -> Contact:
    """The contact a row holds; FormatError (naming file, line, person) if a value is bad."""
    cells = row.cells
    values: dict[str, object] = {}
    extra: dict[str, str] = {}
    unmapped: list[str] = []
    found = layout.field_cells(cells)
    for name, cell in zip(compress(layout.field_names, found), compress(found, found), strict=True):
        values[name] = unneutralise(cell) if cell[0] == "'" else cell
    for name, parts in layout.streets.items():
        lines = [unneutralise(cells[i]) for i in parts if cells[i]]
        if lines:
            values[name] = "\n".join(lines)
        else:
            values.pop(name, None)
    for name in _DATE_FIELDS:
        if name in values:
            raw = str(values[name])
            try:
                values[name] = parse_date(raw, date_order)
            except ValueError as exc:
                raise FormatError(
                    f"unreadable date {raw!r} in {layout.column_for(name)} "
                    f"(expected {date_order} order: {format_date(date(1980, 3, 22), date_order)})",
                    source=source,
                    line=row.line,
                    name=_row_name(cells, layout),
                ) from exc
    for name in _LIST_FIELDS:
        if name in values:
            values[name] = split_categories(str(values[name]))
    kept = layout.extra_cells(cells)
    for key, unset, cell in zip(
        compress(layout.extra_keys, kept),
        compress(layout.unset_values, kept),
        compress(kept, kept),
        strict=True,
    ):
        extra[key] = unneutralise(cell) if cell[0] == "'" else cell
        said = layout.not_synced(key, extra[key], unset)
        if said:
            unmapped.append(said)
    for email, type_col in layout.email_types.items():
        if cells[type_col].strip().upper() == EXCHANGE_TYPE and email in values:
            # An Exchange-internal address is an X.500 path, not an e-mail address: keep it in
            # the row, never sync it.
            column = layout.column_for(email)
            extra[column] = str(values.pop(email))
            unmapped.append(f"{column}: Exchange address {extra[column]!r} (not an e-mail address)")
    return Contact(
        record=record_from(values),  # type: ignore[arg-type]
        item_id=_cell(cells, layout.item_id),
        customer_id=_cell(cells, layout.customer_id),
        extra=extra,
        unmapped=tuple(unmapped),
    )


def _cell(cells: Sequence[str], index: int | None) -> str:
    return "" if index is None else unneutralise(cells[index]).strip()


def read(
    data: bytes,
    *,
    source: str = "",
    encoding: str | None = None,
    date_order: DateOrder = "MDY",
) -> list[Contact | FormatError]:
    """Every contact of a file, or the error of its row, in file order."""
    table = parse(data, source=source, encoding=encoding)
    out: list[Contact | FormatError] = []
    if table.layout is None:
        return out
    for row in table.rows:
        if isinstance(row, FormatError):
            out.append(row)
            continue
        try:
            out.append(row_to_contact(row, table.layout, date_order=date_order, source=source))
        except FormatError as exc:
            out.append(exc)
    return out


# --- writing -------------------------------------------------------------------------------------


def layout_for(contacts: Iterable[Contact], base: Layout | None = None) -> Layout:
    """`base` (default: classic Outlook + Nickname, Customer ID, item id) plus the columns these
    contacts need: nothing a contact holds is left without a column."""
    layout = base or Layout.of(WRITE_HEADER)
    used: set[str] = set()
    extra_columns: set[str] = set()
    # Only fields the base layout lacks need looking at (none for personsync's own layout).
    lacking = [name for name in FIELD_NAMES if name not in layout.columns]
    for contact in contacts:
        used.update(name for name in lacking if getattr(contact.record, name))
        if isinstance(contact.extra, dict):
            extra_columns.update(contact.extra)
        if contact.customer_id:
            extra_columns.add(CUSTOMER_ID_CSV)
        if contact.item_id:
            extra_columns.add(ITEM_ID_COLUMN)
    wanted = needed_columns(layout, used, extra_columns)
    return layout.with_columns(wanted)


def contact_to_cells(
    contact: Contact, layout: Layout, *, date_order: DateOrder = "MDY"
) -> tuple[str, ...]:
    """The row for a contact in `layout` (which must have its columns: see `layout_for`)."""
    cells = [""] * len(layout.header)
    extra: dict[str, str] = contact.extra if isinstance(contact.extra, dict) else {}
    for column, kept in extra.items():
        i = layout.extra_column(column)
        if i is not None:
            cells[i] = neutralise(kept)
    record = contact.record
    for name in FIELD_NAMES:
        value = getattr(record, name)
        if not value:  # "", None, (): nothing to write (a date is never false)
            continue
        i = layout.columns.get(name)
        if i is None:
            raise FormatError(
                f"no column for {BY_NAME[name].label} in this CSV layout",
                name=record.display_name,
            )
        if isinstance(value, date):
            text = format_date(value, date_order)
        elif isinstance(value, tuple):
            text = join_categories(value)
        else:
            text = str(value)
        cells[i] = neutralise(text)
        if name in layout.streets:
            _split_street(cells, layout.streets[name], text)
        type_col = layout.email_types.get(name)
        if type_col is not None and cells[type_col].strip().upper() == EXCHANGE_TYPE:
            cells[type_col] = "SMTP"  # a real address now replaces the Exchange path
    if layout.customer_id is not None:
        cells[layout.customer_id] = neutralise(contact.customer_id)
    if layout.item_id is not None:
        cells[layout.item_id] = neutralise(contact.item_id)
    return tuple(cells)


def _split_street(cells: list[str], slots: tuple[int, int, int], street: str) -> None:
    """Outlook's three street columns: one line each, the rest in the third. A street whose
    lines would not come back the same (blank or trailing lines) stays whole in the first."""
    parts = street.split("\n", 2)
    if "\n".join(p for p in parts if p) != street:
        parts = [street]
    for slot, part in zip(slots, [*parts, "", ""], strict=False):
        cells[slot] = neutralise(part)


class LineWriter:
    """One CSV line per call, quoted the way Outlook quotes (every value), ending in CRLF."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._writer = csv.writer(self, quoting=csv.QUOTE_ALL, lineterminator="\r\n")

    def write(self, text: str) -> None:
        self._parts.append(text)

    def line(self, cells: Sequence[str]) -> str:
        self._parts.clear()
        self._writer.writerow(cells)
        return "".join(self._parts)


def encode_lines(lines: Iterable[str], *, encoding: str = "utf-8-sig") -> bytes:
    """Encode CSV lines (header first) line by line, so a big file is never one huge string.

    A character the encoding cannot hold is a FormatError naming the row (1 = first data row)
    and nothing is returned: personsync never writes `?` in place of a name.
    """
    try:
        encoder = codecs.getincrementalencoder(encoding)()
    except LookupError as exc:
        raise FormatError(f"unknown encoding {encoding!r}") from exc
    chunks: list[bytes] = []
    for row, line in enumerate(lines):
        try:
            chunks.append(encoder.encode(line))
        except UnicodeEncodeError as exc:
            raise FormatError(
                f"{exc.object[exc.start : exc.end]!r} cannot be written in {encoding}",
                name=f"row {row}",
                hint="write the file as UTF-8 (the default) to keep every character",
            ) from exc
    chunks.append(encoder.encode("", final=True))
    return b"".join(chunks)


def encode(
    layout: Layout,
    rows: Iterable[Sequence[str]],
    *,
    encoding: str = "utf-8-sig",
    name_of: Callable[[int], str] | None = None,
) -> bytes:
    """The file for a header and rows of cells: every value quoted, CRLF. An unencodable
    character is a FormatError naming the row's person (`name_of(index)`) when given."""
    writer = LineWriter()
    lines = (writer.line(cells) for cells in itertools.chain([layout.header], rows))
    try:
        return encode_lines(lines, encoding=encoding)
    except FormatError as exc:
        row = int(exc.name.removeprefix("row ")) if exc.name.startswith("row ") else 0
        if name_of is not None and row > 0:
            raise FormatError(exc.reason, name=name_of(row - 1), hint=exc.hint) from exc
        raise


def write(
    contacts: Sequence[Contact],
    *,
    layout: Layout | None = None,
    encoding: str = "utf-8-sig",
    date_order: DateOrder = "MDY",
) -> bytes:
    """A whole file for these contacts (classic Outlook layout plus the columns they need)."""
    full = layout_for(contacts, layout)
    rows = (contact_to_cells(c, full, date_order=date_order) for c in contacts)
    return encode(full, rows, encoding=encoding, name_of=lambda i: contacts[i].display_name)
