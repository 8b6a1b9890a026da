"""`csv:PATH` — one Outlook CSV file as a contact folder.

Item ids. CSV rows have no ids, so personsync keeps them in a column of its own,
`personsync Item ID`, written with every row. A row without one (a fresh Outlook export, or a
row someone added in a spreadsheet) gets an id derived from who it is: a hash of its name,
company and first e-mail, plus `-2`, `-3`… for rows that share them, in file order. Reading the
same file twice gives the same ids, and editing a row's phone or notes keeps its id; editing its
name or first e-mail before personsync has written the file once changes it (the engine then sees
a contact go and another come, and matches them by e-mail and name). The first write stores every
row's id in the column, after which ids never change.

Versions. A hash of the row's non-empty cells by column name (the id column excepted): it
changes whenever a value changes, and not when the file gains a column or is re-quoted.
`update` and `delete` compare it and raise ConflictError when the row changed.

Memory. Each row is kept as its CSV line (a few hundred bytes), parsed only when asked for, with
an index by Customer ID: opening a file of 100,000 contacts peaks at about 150 MB.

Writes. The file is rewritten whole, atomically (temp file, fsync, rename), so it is never seen
half-written. `create_many`/`update_many` save once when they return. A single create, update or
delete is saved at once too, unless the previous save was very recent (less than ten times its
own duration ago): then it waits in memory for the next write that comes late enough, `flush()`
or `close()`. So an occasional change is on disk when the call returns, and 100,000 single
creates cost a few dozen rewrites, not 100,000. Crash semantics: the file on disk is always a
complete earlier state; the unsaved changes of a fast loop's last moments are lost, never
half-written. Rows that cannot be
parsed at all (a broken quote) would be lost by a rewrite, so such a file is read-only until
someone fixes those lines.

A file changed on disk by someone else is read again before the next operation; if that happens
while this store holds unsaved changes, they are refused with ConflictError rather than
overwriting the other writer's work.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from personsync.errors import (
    ConflictError,
    FolderNotFound,
    FormatError,
    ItemNotFound,
    StoreError,
)
from personsync.fields import BY_NAME, CUSTOMER_ID_CSV
from personsync.formats import outlook_csv as codec
from personsync.formats.outlook_csv import DateOrder
from personsync.formats.outlook_csv_layout import ITEM_ID_COLUMN, WRITE_HEADER, Layout
from personsync.model import Contact
from personsync.stores.atomic import write_atomic
from personsync.stores.base import Capabilities, ItemRef, ReadProblem, StoreBase, each_item
from personsync.stores.vcf_names import NewUids

EMPTY_ROW = "an empty row (no value in any column): skipped"
_IDENTITY = ("first_name", "middle_name", "last_name", "suffix", "company", "email1")
# A single change is saved at once unless the last save was less than this many times its own
# duration ago: an occasional write is on disk when the call returns, while a loop of 100,000
# creates spends at most ~1/10 of its time rewriting (the file grows geometrically between saves).
_SAVE_SPACING = 10.0


@dataclass(slots=True)
class _Item:
    text: str | None  # the row's CSV line in the current layout; None: it could not be parsed
    version: str
    customer_id: str
    line: int  # where it was in the file, for messages
    problem: FormatError | None = None


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


class CsvFileStore(StoreBase):
    def __init__(
        self,
        path: Path,
        *,
        encoding: str | None = None,
        write_encoding: str = "utf-8-sig",
        date_order: DateOrder = "MDY",
    ) -> None:
        self.path = path
        self.url = f"csv:{path}"
        self.capabilities = Capabilities()
        self._encoding = encoding
        self._write_encoding = write_encoding
        self._date_order = date_order
        self._lines = codec.LineWriter()
        self._new_uid = NewUids()
        self._layout = Layout.of(WRITE_HEADER)
        self._items: dict[str, _Item] = {}
        self._by_customer: dict[str, dict[str, None]] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._unsaved = 0
        self._last_save_end = float("-inf")
        self._last_save_cost = 0.0
        self._broken_lines: list[int] = []
        self._load()

    # --- reading the file ---------------------------------------------------------------------

    def _disk_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read: {exc.strerror}") from exc
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self) -> None:
        stamp = self._disk_stamp()  # before reading: a change while reading is seen next time
        try:
            data = self.path.read_bytes()
        except FileNotFoundError as exc:
            raise FolderNotFound(f"{self.path}: no such CSV file") from exc
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read: {exc.strerror}") from exc
        layout, _, rows = codec.scan(data, source=str(self.path), encoding=self._encoding)
        del data
        layout = layout or Layout.of(WRITE_HEADER)
        # The columns personsync needs are part of the layout from the start, so adding them on
        # the first write changes no row's version.
        self._layout = layout.with_columns(
            [BY_NAME["nickname"].csv, CUSTOMER_ID_CSV, ITEM_ID_COLUMN]
        )
        missing = ("",) * (len(self._layout.header) - len(layout.header))
        self._items = {}
        self._by_customer = {}
        self._broken_lines = []
        seen: dict[str, int] = {}
        for row in rows:
            if isinstance(row, FormatError):
                line = row.line or 0
                self._broken_lines.append(line)
                self._items[f"line-{line}"] = _Item(None, "", "", line, row)
                continue
            cells = row.cells + missing if missing else row.cells
            if self._empty(cells):
                # Nothing in it: no contact (a blank Person otherwise), but named and counted
                # as a skipped item. A rewrite of the file drops it.
                empty = FormatError(EMPTY_ROW, source=str(self.path), line=row.line)
                self._items[f"empty-line-{row.line}"] = _Item(None, "", "", row.line, empty)
                continue
            item_id = self._row_id(cells, seen)
            self._add(item_id, self._with_id(cells, item_id), row.line)
        self._stamp = stamp
        self._unsaved = 0
        self.capabilities = Capabilities(read_only=bool(self._broken_lines))

    def _empty(self, cells: tuple[str, ...]) -> bool:
        skip = self._layout.item_id
        return not any(c.strip() for i, c in enumerate(cells) if i != skip)

    def _row_id(self, cells: tuple[str, ...], seen: dict[str, int]) -> str:
        layout = self._layout
        stored = "" if layout.item_id is None else codec.unneutralise(cells[layout.item_id])
        if stored.strip():
            base = stored.strip()
        else:
            who = [cells[layout.columns[n]] if n in layout.columns else "" for n in _IDENTITY]
            base = "r" + _digest("\x1f".join(who).casefold())
        count = seen.get(base, 0) + 1
        item_id = base if count == 1 else f"{base}-{count}"
        while item_id in self._items:  # another row's id (its own or made up): never shared
            count += 1
            item_id = f"{base}-{count}"
        seen[base] = count
        return item_id

    def _with_id(self, cells: tuple[str, ...], item_id: str) -> tuple[str, ...]:
        column = self._layout.item_id
        value = codec.neutralise(item_id)
        if column is None or cells[column] == value:
            return cells
        return (*cells[:column], value, *cells[column + 1 :])

    def _version(self, cells: Sequence[str]) -> str:
        header = self._layout.header
        skip = self._layout.item_id
        parts = [f"{header[i]}\x1e{c}" for i, c in enumerate(cells) if c and i != skip]
        return _digest("\x1f".join(sorted(parts)))

    def _add(self, item_id: str, cells: tuple[str, ...], line: int) -> _Item:
        column = self._layout.customer_id
        customer_id = "" if column is None else codec.unneutralise(cells[column]).strip()
        item = _Item(self._lines.line(cells), self._version(cells), customer_id, line)
        self._forget(item_id)
        self._items[item_id] = item
        if customer_id:
            self._by_customer.setdefault(customer_id, {})[item_id] = None
        return item

    def _forget(self, item_id: str) -> None:
        old = self._items.pop(item_id, None)
        if old is not None and old.customer_id:
            self._by_customer.get(old.customer_id, {}).pop(item_id, None)

    def _refresh(self) -> None:
        """Read the file again if someone else changed it since we read or wrote it."""
        if self._disk_stamp() == self._stamp:
            return
        if self._unsaved:
            count = self._unsaved
            self._load()
            raise ConflictError(
                f"{self.path} was changed by another program while {count} change(s) were "
                "not yet saved: they were dropped, the file was read again",
                hint="run the command again; close the file in other programs first",
            )
        self._load()

    # --- the protocol -------------------------------------------------------------------------

    def list_items(self) -> Iterator[ItemRef]:
        self._refresh()
        return iter([ItemRef(item_id, item.version) for item_id, item in self._items.items()])

    def get_many(self, item_ids: Sequence[str]) -> Iterator[Contact | ReadProblem]:
        self._refresh()
        found = [(i, self._items[i]) for i in item_ids if i in self._items]
        return iter([self._contact(item_id, item) for item_id, item in found])

    def _contact(self, item_id: str, item: _Item) -> Contact | ReadProblem:
        if item.text is None:
            assert item.problem is not None
            return ReadProblem(item_id, item.problem)
        row = codec.Row(item.line, codec.parse_line(item.text))
        try:
            got = codec.row_to_contact(
                row, self._layout, date_order=self._date_order, source=str(self.path)
            )
        except FormatError as exc:
            return ReadProblem(item_id, exc)
        return replace(got, item_id=item_id, version=item.version)

    def find_by_customer_id(self, customer_id: str) -> list[Contact]:
        self._refresh()
        ids = list(self._by_customer.get(customer_id, {}))
        return [c for c in self.get_many(ids) if isinstance(c, Contact)]

    def create(self, contact: Contact) -> ItemRef:
        self._refresh()
        ref = self._put_new(contact)
        self._changed()
        return ref

    def create_many(self, contacts: Sequence[Contact]) -> list[ItemRef | StoreError]:
        self._refresh()
        results = each_item(contacts, self._put_new)
        self._unsaved += 1
        self.flush()
        return results

    def update(self, old: Contact, new: Contact) -> ItemRef:
        self._refresh()
        ref = self._replace(old, new)
        self._changed()
        return ref

    def update_many(self, pairs: Sequence[tuple[Contact, Contact]]) -> list[ItemRef | StoreError]:
        self._refresh()
        results = each_item(pairs, lambda pair: self._replace(*pair))
        self._unsaved += 1
        self.flush()
        return results

    def delete(self, ref: ItemRef) -> None:
        self._refresh()
        self._writable()
        self._current(ref.item_id, ref.version)
        self._forget(ref.item_id)
        self._changed()

    def close(self) -> None:
        self.flush()

    # --- changes ------------------------------------------------------------------------------

    def _writable(self) -> None:
        if self._broken_lines:
            lines = ", ".join(str(n) for n in self._broken_lines[:5])
            raise StoreError(
                f"{self.path}: line(s) {lines} cannot be read; personsync will not rewrite the "
                "file and lose them",
                hint="fix or delete those lines in a text editor, then run again",
            )

    def _current(self, item_id: str, version: str) -> _Item:
        item = self._items.get(item_id)
        if item is None:
            raise ItemNotFound(f"{self.path}: no contact {item_id!r}")
        if item.version != version:
            raise ConflictError(
                f"{self.path}: contact {item_id!r} changed since it was read",
                hint="read the folder again and retry",
            )
        return item

    def _cells(self, contact: Contact) -> tuple[str, ...]:
        needed = codec.layout_for([contact], self._layout)
        if needed is not self._layout:
            self._grow(needed)
        cells = codec.contact_to_cells(contact, self._layout, date_order=self._date_order)
        try:
            # Checked per contact so that one name the file's encoding cannot hold fails alone,
            # at once, instead of the next rewrite of the whole file.
            "\x1f".join(cells).encode(self._write_encoding)
        except UnicodeEncodeError as exc:
            bad = exc.object[exc.start : exc.end]
            raise StoreError(
                f"{self.path}: {contact.display_name}: {bad!r} cannot be written in "
                f"{self._write_encoding}",
                hint="write the file as UTF-8 (the default) to keep every character",
            ) from exc
        except LookupError as exc:
            raise StoreError(f"unknown encoding {self._write_encoding!r}") from exc
        return cells

    def _grow(self, layout: Layout) -> None:
        """New columns (at the end) for values this file has no column for yet."""
        more = ',""' * (len(layout.header) - len(self._layout.header))
        self._layout = layout
        for item in self._items.values():
            if item.text is not None:
                item.text = item.text[:-2] + more + "\r\n"

    def _new_id(self, wish: str) -> str:
        """The wished-for id if it is free; else `p` and 16 hex digits in creation order: the
        millisecond and counter of a UUIDv7 (`vcf_names.NewUids`). Random ids (as before)
        scatter a big export's inserts over the link and `contact_manager_id` indexes, which
        costs a third of a full export of 100,000 (see `vcf_names`). Unique in the file: one
        taken (by another process's row of the same millisecond) is passed over."""
        if wish and wish not in self._items:
            return wish
        while True:
            uid = self._new_uid()
            item_id = f"p{uid[:8]}{uid[9:13]}{uid[14:18]}"
            if item_id not in self._items:
                return item_id

    def _put_new(self, contact: Contact) -> ItemRef:
        self._writable()
        item_id = self._new_id(contact.item_id)
        cells = self._cells(replace(contact, item_id=item_id))
        item = self._add(item_id, cells, 0)
        return ItemRef(item_id, item.version)

    def _replace(self, old: Contact, new: Contact) -> ItemRef:
        self._writable()
        current = self._current(old.item_id, old.version)
        if not isinstance(new.extra, dict):
            # Keep the row's own unmapped columns when the caller brings none.
            kept = self._contact(old.item_id, current)
            new = replace(new, extra=kept.extra if isinstance(kept, Contact) else None)
        cells = self._cells(replace(new, item_id=old.item_id))
        item = self._add(old.item_id, cells, current.line)
        return ItemRef(old.item_id, item.version)

    def _changed(self) -> None:
        self._unsaved += 1
        if time.monotonic() - self._last_save_end >= _SAVE_SPACING * self._last_save_cost:
            self.flush()

    def flush(self) -> None:
        """Save unsaved changes: rewrite the file atomically."""
        if not self._unsaved:
            return
        started = time.monotonic()
        if self._disk_stamp() != self._stamp:
            self._refresh()  # raises ConflictError: another program wrote the file
        header = self._lines.line(self._layout.header)
        rows = (item.text for item in self._items.values() if item.text is not None)
        try:
            data = codec.encode_lines(
                itertools.chain([header], rows), encoding=self._write_encoding
            )
        except FormatError as exc:  # _cells checked each row: only a header could fail here
            raise StoreError(f"{self.path}: {exc}") from exc
        write_atomic(self.path, data)
        self._stamp = self._disk_stamp()
        self._unsaved = 0
        self._last_save_end = time.monotonic()
        self._last_save_cost = self._last_save_end - started


def open_store(rest: str, *, create: bool = True, **options: Any) -> CsvFileStore:
    if not rest:
        raise FolderNotFound("csv: needs a file path, e.g. csv:contacts.csv")
    path = Path(rest).expanduser()
    if not path.exists():
        if not create:
            raise FolderNotFound(
                f"{path}: no such CSV file",
                hint="check the path (an export, or a file personsync wrote before)",
            )
        if not path.parent.is_dir():
            raise FolderNotFound(f"{path.parent}: no such directory")
        write_atomic(path, codec.encode(Layout.of(WRITE_HEADER), []))
    return CsvFileStore(path, **options)


def list_folders(rest: str, **options: Any) -> list[str]:
    """The file itself and the other .csv files beside it."""
    path = Path(rest or ".").expanduser()
    directory = path if path.is_dir() else path.parent
    found = {p for p in directory.glob("*.csv") if p.is_file()}
    if path.is_file():
        found.add(path)
    return [f"csv:{p}" for p in sorted(found)]
