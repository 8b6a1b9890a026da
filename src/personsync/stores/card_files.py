"""The bytes of `.vcf` files, below the card codec: versions, cards after the first, the
Customer ID written into a card in place, and new cards made from their parts (`NewCard`).

Why in place: an import links every contact it reads, so it writes each one's Customer ID back.
Rendering the whole card again for one new line cost as much as reading it, and changed bytes
the user never asked to change (Outlook's own line order, folding, properties). Inserting the
one line keeps every other byte, and the vCard folder's helper process (`file_writer`) can do
it from the path alone, beside the run.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Any

from personsync.errors import ConflictError, ItemNotFound, StoreError
from personsync.fields import CUSTOMER_ID_VCARD
from personsync.formats.vcard import write_card
from personsync.model import Contact, record_of
from personsync.stores.atomic import write_atomic

# A new card as its parts: (vCard version, UID, the record's values in field order, Customer ID).
# Why: a full export renders 100,000 new cards, a fifth of its work in this process; the parts
# cross the pipe to the helper process in a third of the time rendering takes, so the helper
# renders them (`render`) on the other core. Plain values only: they are pickled.
NewCard = tuple[str, str, tuple[Any, ...], str]


def render(card: NewCard) -> bytes:
    """The bytes of a new card from its parts: those of `write_card` for the same contact."""
    version, uid, values, customer_id = card
    return write_card(Contact(record_of(values), customer_id=customer_id), version, uid=uid)


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
    still at version `expected`.

    Where the card ends the file with a plain `END:VCARD` line, and the file has no other name
    (a hard link), the line goes in in place: one write of the new last bytes, within one
    memory page, so a killed process leaves the old file or the new one (the kernel checks for
    a fatal signal between pages, never within one).
    Why not a new file renamed into place, like every other write: that frees the old file's
    disk block, and on this project's ext4 (mounted with `discard`) freeing is the costly part:
    100,000 replacements took 16 s against 2 s in place. A power cut can still leave the last
    line half-written; `mend_insert` repairs exactly that from the run's journal. Any other
    card is written anew, atomically (`write_atomic`).

    The reader takes the first non-empty Customer ID of a card, so a card read with an empty
    one reads with `line`'s after this, whatever empty ones stand before it."""
    name = Path(path).name
    flags = os.O_RDWR | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        # Never through a symbolic link: it may lead out of the folder.
        fd = os.open(path, flags)
    except PermissionError:
        fd = -1  # a read-only file is replaced (its folder is writable), not changed in place
    except FileNotFoundError as exc:
        raise ItemNotFound(f"no contact file {name}") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            link = f"{name} is a symbolic link: personsync never writes through one"
            raise StoreError(link) from exc
        raise StoreError(f"cannot write {name}: {exc.strerror}") from exc
    try:
        data, stat = _read(fd, path, name)
        if file_version(stat) != expected:
            raise ConflictError(
                f"{name} changed since it was read",
                hint="run again: personsync reads the new version first",
            )
        end = _END_LINE.search(data)
        if end is None or end.start() == 0:
            raise StoreError(f"{name}: no card to put the Customer ID in")
        eol = b"\r\n" if b"\r\n" in data else b"\n" if b"\n" in data else b"\r"
        at = end.start()
        tail = line + eol + data[at:]
        # A file with other names (a backup made of hard links, say) is replaced, not changed:
        # its other names keep the old bytes.
        if fd >= 0 and stat.st_nlink == 1 and _fits_in_place(data, at, eol, len(tail)):
            return _write_tail(fd, name, data, at, tail, durable=durable)
    finally:
        if fd >= 0:
            os.close(fd)
    return write_atomic(path, data[:at] + tail, durable=durable)


def _read(fd: int, path: str, name: str) -> tuple[bytes, os.stat_result]:
    """The file's bytes and stat, from `fd` when it is open."""
    try:
        got = _read_fd(fd) if fd >= 0 else read_path(path)
    except OSError as exc:
        raise StoreError(f"cannot read {name}: {exc.strerror}") from exc
    if got is None:
        raise ItemNotFound(f"no contact file {name}")
    return got


def _read_fd(fd: int) -> tuple[bytes, os.stat_result]:
    """The bytes and stat of the open file `fd`. Plain os calls: a file object adds a buffer
    and two system calls per file, a quarter of reading 100,000 small ones."""
    parts = []
    while chunk := os.read(fd, 1 << 16):
        parts.append(chunk)
    return b"".join(parts), os.fstat(fd)


def read_path(path: str) -> tuple[bytes, os.stat_result] | None:
    """The bytes and stat of the file `path`; None when it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    try:
        return _read_fd(fd)
    finally:
        os.close(fd)


def _plain_end(eol: bytes) -> bytes:
    return b"END:VCARD" + eol


def _fits_in_place(data: bytes, at: int, eol: bytes, size: int) -> bool:
    """Whether the new last bytes can go in in place (see `insert_line`): the file ends with
    the card's own `END:VCARD` line right after a line end of the file's kind (what
    `mend_insert` relies on), and the write stays within one page. Not on systems without
    `pwrite` (Windows): there every write replaces the file."""
    if not hasattr(os, "pwrite"):
        return False
    if eol == b"\r" or data[at:] != _plain_end(eol) or data[at - len(eol) : at] != eol:
        return False
    return at // _PAGE == (at + size - 1) // _PAGE


def _write_tail(
    fd: int, name: str, data: bytes, at: int, tail: bytes, *, durable: bool
) -> os.stat_result:
    try:
        written = os.pwrite(fd, tail, at)
        if written != len(tail):  # a full disk: put the old end back
            os.pwrite(fd, data[at:], at)
            os.ftruncate(fd, len(data))
            raise OSError(0, f"only {written} of {len(tail)} bytes written")
        if durable:
            os.fsync(fd)
        return os.fstat(fd)
    except OSError as exc:
        raise StoreError(f"cannot write {name}: {exc.strerror or exc}") from exc


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def size_of(version: str) -> int | None:
    """The size a `file_version` names, or None for another store's version."""
    parts = version.split("-")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def mend_insert(data: bytes, size_before: int, line: bytes) -> bytes | None:
    """The whole file, for a file that a power cut left halfway through `insert_line` putting
    `line` into it in place when it was `size_before` bytes; None when it is whole (before or
    after) or is not such a file (changed since: left alone).

    What a power cut can leave: the bytes before the old END:VCARD line untouched (never
    written), and from there on, byte by byte, the old end, the new end or zeros (a page or
    disk sector written or not, the size updated or not). So the file is mended when, at the
    position where the old end began, every byte is one of those; then the new end is written
    whole."""
    for eol in (b"\r\n", b"\n"):
        old = _plain_end(eol)
        new = line + eol + old
        at = size_before - len(old)
        if at < len(eol) or len(data) not in (size_before, at + len(new)):
            continue
        if data[at - len(eol) : at] != eol or (eol == b"\n" and data[at - 2 : at - 1] == b"\r"):
            continue
        rest = data[at:]
        if rest in (old, new):
            return None  # whole
        padded = old + bytes(len(new) - len(old))
        if all(b in (padded[i], new[i], 0) for i, b in enumerate(rest)):
            return data[:at] + new
    return None
