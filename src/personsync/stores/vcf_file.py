"""`vcf-file:PATH` — many cards in one .vcf file as a contact folder.

Item ids. A card's UID. A card without one (a file exported by Outlook or a phone) gets
`vcard-` plus a hash of its text (with `-2`, `-3`… for identical cards), stable until the card
is edited; personsync writes the id as UID whenever it writes that card, after which it is
permanent.

Versions. A hash of the card's text: it changes whenever the card changes.

Memory. Each card is kept as its text and parsed only when asked for; 100,000 cards take a few
hundred MB at most. A file that is not UTF-8 (Outlook writes cp1252) is read in its encoding and
written back as UTF-8. Cards that cannot be read are kept as they are and written back unchanged,
as is any text before the first card.

Writes. The file is rewritten whole, atomically (temp file, fsync, rename). So that 100,000
single creates do not cost 100,000 rewrites, changes are kept in memory and saved by `flush()`:
at the end of `create_many`/`update_many`, on `close()`, when two seconds have passed since the
first unsaved change, and when the unsaved changes reach a quarter of the cards (at least 1,000).
Crash semantics: the file on disk is always a complete earlier state; the unsaved single changes
of the last moments are lost, never half-written (the sync engine's journal tells what was done).

A file changed on disk by another program is read again before the next operation; if that
happens while this store holds unsaved changes, they are refused with ConflictError rather than
overwriting the other program's work.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from personsync.errors import ConflictError, FolderNotFound, FormatError, ItemNotFound, StoreError
from personsync.formats.vcard import card_starts, card_version, read_text, write_card
from personsync.formats.vcard_lines import decode_card, guessed_encoding
from personsync.formats.vcard_read import VCardExtra
from personsync.formats.vcard_text import unescape
from personsync.model import Contact
from personsync.stores.atomic import write_atomic
from personsync.stores.base import Capabilities, ItemRef, ReadProblem, StoreBase, each_item
from personsync.stores.vcf_names import NewUids

_PLAIN_ID = re.compile(r"[A-Za-z0-9_.@+-]{1,40}")
_UID = re.compile(rb"(?i)(?:^|[\r\n])UID(?:;[^:\r\n]*)?:([^\r\n]*)")
_FLUSH_MIN = 1000
_FLUSH_SECONDS = 2.0


@dataclass(slots=True)
class _Card:
    start: int  # where its bytes are in the file as loaded (`VcfFileStore._data`), to `end`
    end: int
    version: str
    line: int  # where it starts in the file as loaded, for messages
    data: bytes | None = None  # its bytes once changed here (else those of the file as loaded)


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


class VcfFileStore(StoreBase):
    def __init__(
        self,
        path: Path,
        url: str,
        *,
        version: str | None = None,
        fallback_encoding: str = "cp1252",
    ) -> None:
        self.path = path
        self._source = str(path)  # for messages
        self._new_uid = NewUids()  # in creation order: see there
        self.url = url
        self.version = version
        self.fallback_encoding = fallback_encoding
        self.capabilities = Capabilities()
        self._cards: dict[str, _Card] = {}
        self._data = b""  # the file as loaded: cards not changed since are read from it
        self._preamble = b""
        self._stamp: tuple[int, int, int] | None = None
        self._dirty = 0
        self._dirty_since = 0.0
        self._shared: dict[Any, Any] = {}  # repeated values read, one object each (a run)
        self._load()

    # --- loading ---------------------------------------------------------------------------------

    def _disk_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot read {self.path}: {exc.strerror}") from exc
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self) -> None:
        self._cards, self._data, self._preamble = {}, b"", b""
        try:
            data = self.path.read_bytes()
            self._stamp = self._disk_stamp()
        except FileNotFoundError:
            self._stamp = None
            return
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot read {self.path}: {exc.strerror}") from exc
        starts = card_starts(data)
        if not starts and data.removeprefix(codecs.BOM_UTF8).strip():
            # Not an empty book but no card at all: most likely the wrong file. Refuse rather
            # than list nothing and let an export append cards to someone's unrelated file.
            raise FormatError(
                "holds no vCard (no BEGIN:VCARD line): this is not a vCard file",
                source=str(self.path),
                hint="check the path; an empty or new file is fine",
            )
        self._data = data
        self._preamble = data[: starts[0]] if starts else data
        newline = b"\n" if b"\n" in data else b"\r"
        line = self._preamble.count(newline) + 1
        spans = list(zip(starts, [*starts[1:], len(data)][: len(starts)], strict=True))
        uids, digests = [], []
        for begin, end in spans:
            chunk = data[begin:end]
            uids.append(_uid(chunk, self.fallback_encoding))
            digests.append(_digest(chunk))
        ids = _item_ids(uids, digests)
        for item_id, (begin, end), digest in zip(ids, spans, digests, strict=True):
            self._cards[item_id] = _Card(begin, end, digest, line)
            line += data.count(newline, begin, end)

    def _refresh(self) -> None:
        """Read the file again if another program changed it since."""
        if self._disk_stamp() == self._stamp:
            return
        if self._dirty:
            raise ConflictError(
                f"{self.url}: the file was changed by another program while personsync had "
                f"{self._dirty} unsaved change(s); they were not written",
                hint="run again: personsync reads the new file first",
            )
        self._load()

    # --- reading -------------------------------------------------------------------------------

    def list_items(self) -> Iterator[ItemRef]:
        self._refresh()
        return iter([ItemRef(item_id, card.version) for item_id, card in self._cards.items()])

    def _bytes(self, card: _Card) -> bytes:
        return self._data[card.start : card.end] if card.data is None else card.data

    def _contact(self, item_id: str, card: _Card) -> Contact | ReadProblem:
        data = self._data[card.start : card.end] if card.data is None else card.data
        text, encoding, guessed = decode_card(data, self.fallback_encoding)
        contact: Contact | None = None
        errors: list[FormatError] = []
        for got in read_text(text, self._source, encoding, card.line, shared=self._shared):
            if isinstance(got, Contact):
                contact = contact or got
            else:
                errors.append(got)
        if contact is None:
            error = errors[0] if errors else FormatError("no card", source=self._source)
            return ReadProblem(item_id, error)
        unmapped = contact.unmapped
        if errors or guessed:
            # What else the card's text held (text after END:VCARD, a broken line) is named
            # with it.
            said = [f"line {e.line}: {e.reason}" for e in errors]
            unmapped += (*said, guessed_encoding(encoding)) if guessed else tuple(said)
        # Made directly: dataclasses.replace costs three times as much, a tenth of the read.
        return Contact(
            contact.record, item_id, card.version, contact.customer_id, contact.extra, unmapped
        )

    def get_many(self, item_ids: Sequence[str]) -> Iterator[Contact | ReadProblem]:
        self._refresh()
        for item_id in item_ids:
            card = self._cards.get(item_id)
            if card is not None:
                yield self._contact(item_id, card)

    def find_by_customer_id(self, customer_id: str) -> list[Contact]:
        self._refresh()
        needle = customer_id.encode() if _PLAIN_ID.fullmatch(customer_id) else b""
        found: list[Contact] = []
        for item_id, card in self._cards.items():
            if needle and (
                self._data.find(needle, card.start, card.end) < 0
                if card.data is None
                else needle not in card.data
            ):
                continue
            contact = self._contact(item_id, card)
            if isinstance(contact, Contact) and contact.customer_id == customer_id:
                found.append(contact)
        return found

    # --- writing -------------------------------------------------------------------------------

    def _text(self, contact: Contact, uid: str) -> bytes:
        version = self.version or card_version(contact)
        return write_card(contact, version, uid=uid)

    def _put(self, item_id: str, data: bytes, line: int) -> ItemRef:
        card = _Card(0, 0, _digest(data), line, data)
        self._cards[item_id] = card
        self._changed()
        return ItemRef(item_id, card.version)

    def _new(self, contact: Contact) -> ItemRef:
        item_id = contact.item_id
        if not item_id or item_id in self._cards:
            item_id = self._new_uid()
        return self._put(item_id, self._text(contact, item_id), 0)

    def _current(self, item_id: str, version: str) -> _Card:
        card = self._cards.get(item_id)
        if card is None:
            raise ItemNotFound(f"{self.url}: no contact {item_id!r}")
        if card.version != version:
            raise ConflictError(
                f"{self.url}: contact {item_id!r} changed since it was read",
                hint="run again: personsync reads the new version first",
            )
        return card

    def _replace(self, old: Contact, new: Contact) -> ItemRef:
        card = self._current(old.item_id, old.version)
        if new.extra is None and old.extra is not None:
            new = replace(new, extra=old.extra)
        return self._put(old.item_id, self._text(new, old.item_id), card.line)

    def create(self, contact: Contact) -> ItemRef:
        self._refresh()
        ref = self._new(contact)
        self._maybe_flush()
        return ref

    def create_many(self, contacts: Sequence[Contact]) -> list[ItemRef | StoreError]:
        self._refresh()
        results = each_item(contacts, self._new)
        self.flush()
        return results

    def update(self, old: Contact, new: Contact) -> ItemRef:
        self._refresh()
        ref = self._replace(old, new)
        self._maybe_flush()
        return ref

    def update_many(self, pairs: Sequence[tuple[Contact, Contact]]) -> list[ItemRef | StoreError]:
        self._refresh()
        results = each_item(pairs, lambda pair: self._replace(*pair))
        self.flush()
        return results

    def delete(self, ref: ItemRef) -> None:
        self._refresh()
        self._current(ref.item_id, ref.version)
        del self._cards[ref.item_id]
        self._changed()
        self._maybe_flush()

    def _changed(self) -> None:
        if not self._dirty:
            self._dirty_since = time.monotonic()
        self._dirty += 1

    def _maybe_flush(self) -> None:
        due = max(_FLUSH_MIN, len(self._cards) // 4)
        if self._dirty >= due or time.monotonic() - self._dirty_since >= _FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Save unsaved changes: rewrite the file atomically."""
        if not self._dirty:
            return
        if self._disk_stamp() != self._stamp:
            self._refresh()  # raises ConflictError: someone else wrote the file meanwhile
        # Every card goes back as the bytes it had (in its own encoding) unless personsync
        # changed it: a card it did not touch is never re-encoded.
        parts = [self._preamble]
        for card in self._cards.values():
            data = self._bytes(card)
            parts.append(data if data.endswith((b"\n", b"\r")) else data + b"\r\n")
        write_atomic(self.path, b"".join(parts))
        self._stamp = self._disk_stamp()
        self._dirty = 0

    def close(self) -> None:
        self._shared.clear()
        self.flush()


def _uid(chunk: bytes, fallback: str) -> str:
    """The card's UID, "" when it has none."""
    match = _UID.search(chunk)
    if match is None:
        return ""
    end = match.end()
    while chunk[end : end + 1] == b"\r":
        end += 1
    if chunk[end : end + 1] == b"\n":
        end += 1
    if chunk[end : end + 1] in (b" ", b"\t"):
        # A folded UID: rare enough to pay for reading the card.
        text, encoding, _ = decode_card(chunk, fallback)
        for got in read_text(text, encoding=encoding):
            if isinstance(got, Contact) and isinstance(got.extra, VCardExtra):
                return got.extra.uid
        return ""
    return unescape(decode_card(match.group(1), fallback)[0].strip(), "3.0")


def _item_ids(uids: list[str], digests: list[str]) -> list[str]:
    """The cards' item ids: each card's UID, else `vcard-` and a hash of its text. A repeated
    one (cards copied, or two files joined) gets `-2`, `-3`…: a number that no card of the
    file has as its own UID and no card before it got, so that no two cards ever share an id
    (a card whose id another takes is lost from the listing, and then from the file)."""
    taken = set(uids)
    given: set[str] = set()
    ids: list[str] = []
    for uid, digest in zip(uids, digests, strict=True):
        item_id = uid or f"vcard-{digest}"
        if item_id in given or (not uid and item_id in taken):
            base, n = item_id, 2
            while f"{base}-{n}" in taken or f"{base}-{n}" in given:
                n += 1
            item_id = f"{base}-{n}"
        given.add(item_id)
        ids.append(item_id)
    return ids


def open_store(
    rest: str,
    *,
    create: bool = True,
    version: str | None = None,
    fallback_encoding: str = "cp1252",
    **options: Any,
) -> VcfFileStore:
    path = Path(rest).expanduser()
    if path.is_dir():
        raise StoreError(
            f"vcf-file:{rest} is a folder", hint=f"for a folder of .vcf files use vcf:{rest}"
        )
    if not path.exists():
        if not create:
            raise FolderNotFound(f"no file {path}", hint="check the path, or let it be created")
        if not path.parent.is_dir():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder {path.parent}: {exc.strerror}") from exc
        write_atomic(path, b"")
    return VcfFileStore(
        path, f"vcf-file:{rest}", version=version, fallback_encoding=fallback_encoding
    )


def list_folders(rest: str, **options: Any) -> list[str]:
    path = Path(rest).expanduser()
    if path.is_dir():
        return [f"vcf-file:{p}" for p in sorted(path.glob("*.vcf"))]
    if not path.exists():
        raise FolderNotFound(f"no file {path}")
    return [f"vcf-file:{rest}"]
