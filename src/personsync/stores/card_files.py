"""The bytes of `.vcf` files, below the card codec: versions, cards after the first, the
Customer ID written into a card in place, and new cards made from their parts (`NewCard`).

Why in place: an import links every contact it reads, so it writes each one's Customer ID back.
Rendering the whole card again for one new line cost as much as reading it, and changed bytes
the user never asked to change (Outlook's own line order, folding, properties). Inserting the
one line keeps every other byte, and the vCard folder's helper process (`file_writer`) can do
it from the path alone, beside the run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from personsync.errors import ConflictError, ItemNotFound, StoreError
from personsync.fields import CUSTOMER_ID_VCARD
from personsync.formats.vcard import write_card
from personsync.model import Contact, Record
from personsync.stores.atomic import write_atomic

# A new card as its parts: (vCard version, UID, the record's values in field order, Customer ID).
# Why: a full export renders 100,000 new cards, a fifth of its work in this process; the parts
# cross the pipe to the helper process in a third of the time rendering takes, so the helper
# renders them (`render`) on the other core. Plain values only: they are pickled.
NewCard = tuple[str, str, tuple[Any, ...], str]


def render(card: NewCard) -> bytes:
    """The bytes of a new card from its parts: those of `write_card` for the same contact."""
    version, uid, values, customer_id = card
    return write_card(Contact(Record(*values), customer_id=customer_id), version, uid=uid)


_END = re.compile(rb"(?im)^[ \t]*END:VCARD[ \t]*\r?$\n?")
# An END:VCARD line whatever the line ends (CR alone too, which the reader accepts).
_END_LINE = re.compile(rb"(?i)(?<![^\r\n])[ \t]*END:VCARD[ \t]*(?![^\r\n])")
PLAIN_ID = re.compile(r"[A-Za-z0-9_.@+-]{1,40}")  # ids written and searched for as they are


def file_version(stat: os.stat_result) -> str:
    """A file's version: `{mtime_ns}-{size}-{inode}` (see `vcf_folder`)."""
    return version_of(stat.st_mtime_ns, stat.st_size, stat.st_ino)


def version_of(mtime_ns: int, size: int, inode: int) -> str:
    return f"{mtime_ns}-{size}-{inode}"


def after_first_card(data: bytes) -> bytes:
    """The bytes after the first card, when the file holds more (kept on rewrite)."""
    if data.upper().count(b"BEGIN:VCARD") < 2:
        return b""
    match = _END.search(data)
    return data[match.end() :] if match else b""


def customer_id_line(customer_id: str) -> bytes | None:
    """The property line for `customer_id`, or None for an id that would need escaping or
    folding (the card is rendered whole then)."""
    if not PLAIN_ID.fullmatch(customer_id):
        return None
    return f"{CUSTOMER_ID_VCARD}:{customer_id}".encode("ascii")


def insert_line(path: str, line: bytes, expected: str, *, durable: bool) -> os.stat_result:
    """Put `line` at the end of the file's first card (before its END:VCARD), if the file is
    still at version `expected`; atomically, like every write (`write_atomic`).

    The reader takes the first non-empty Customer ID of a card, so a card read with an empty
    one reads with `line`'s after this, whatever empty ones stand before it."""
    name = Path(path).name
    try:
        with open(path, "rb") as handle:
            data = handle.read()
            current = file_version(os.fstat(handle.fileno()))
    except FileNotFoundError as exc:
        raise ItemNotFound(f"no contact file {name}") from exc
    except OSError as exc:
        raise StoreError(f"cannot read {name}: {exc.strerror}") from exc
    if current != expected:
        raise ConflictError(
            f"{name} changed since it was read",
            hint="run again: personsync reads the new version first",
        )
    end = _END_LINE.search(data)
    if end is None or end.start() == 0:
        raise StoreError(f"{name}: no card to put the Customer ID in")
    eol = b"\r\n" if b"\r\n" in data else b"\n" if b"\n" in data else b"\r"
    at = end.start()
    return write_atomic(path, data[:at] + line + eol + data[at:], durable=durable)
