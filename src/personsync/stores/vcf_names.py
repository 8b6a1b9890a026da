"""File names of a `vcf:` folder: a card's UID as a file name and back.

A file personsync writes is named after the card's UID, percent-encoded so that any UID
(`../../x`, `a/b`, NUL, upper case on a case-insensitive disk, a Windows device name) gives a
name inside the folder that decodes back to the UID: listing never opens a file. Lower-case
letters, digits and `-_.@+` stay readable (a UUID is its own file name). A UID too long for a
file name gets a readable prefix plus a hash of it (`~` marks such names). A file whose name is
not such an encoding (`John Doe.vcf`, a file from Outlook) has its file name without `.vcf` as
item id; its card's UID is kept as it is when personsync rewrites it.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from urllib.parse import unquote

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.@+")
_MAX_NAME = 180  # bytes of an encoded name before the hashed form is used (limit is 255)
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"{p}{n}" for p in ("com", "lpt") for n in range(1, 10)}
)
_PLAIN_STEM = re.compile(r"[a-z0-9_.@+-]+")  # exactly the characters of _SAFE


def encode_uid(uid: str) -> str:
    """The file name stem for `uid`: reversible by `decode_stem` unless it had to be hashed."""
    if _PLAIN_STEM.fullmatch(uid) and decode_stem(uid) == uid:
        return uid  # UUIDs and the like: their own name (the per-character loop is the slow way)
    encoded = "".join(
        ch if ch in _SAFE else "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        for ch in uid
    )
    if encoded.startswith("."):  # hidden files, `.` and `..`
        encoded = "%2E" + encoded[1:]
    if encoded.partition(".")[0] in _WINDOWS_DEVICES:
        encoded = "".join(f"%{b:02X}" for b in encoded[0].encode()) + encoded[1:]
    if len(encoded) > _MAX_NAME:
        slug = "".join(ch for ch in uid.lower() if ch in _SAFE).lstrip(".")[:60]
        digest = hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        encoded = f"{slug}~{digest}"
    return encoded


def decode_stem(stem: str) -> str | None:
    """The UID a file name stem encodes, or None when it is not a name personsync makes."""
    if not stem or "~" in stem:
        return None
    if "%" not in stem:
        # The common case (UUIDs): a stem of safe characters only is its own UID. Answered
        # without the decode + encode round trip, which was most of listing 100,000 files.
        plain = (
            _PLAIN_STEM.fullmatch(stem) is not None
            and not stem.startswith(".")
            and len(stem) <= _MAX_NAME
            and stem.partition(".")[0] not in _WINDOWS_DEVICES
        )
        return stem if plain else None
    try:
        uid = unquote(stem, errors="strict")
    except UnicodeDecodeError:
        return None
    return uid if encode_uid(uid) == stem else None


class Taken:
    """Item ids given out so far in a listing: ours, then foreign ones."""

    def __init__(self, ours: set[str], names: dict[str, str]) -> None:
        self.ours = ours
        self.names = names

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.ours or item_id in self.names


class NewUids:
    """Fresh card UIDs in the form of RFC 9562's UUIDv7: a millisecond timestamp, a counter
    within it, then random bits. Unique for any purpose here (62 random bits for each
    millisecond and counter value), but in creation order, which matters for the database: each
    new contact's id goes into two indexes (its link's and its Person's `contact_manager_id`),
    and random ids scatter every chunk's 500 inserts over as many index pages, each written
    again at every commit (a full export of 100,000 made 772,599 writes to SQLite's files with
    uuid4 names, 145,790 with these).

    Written here because Python 3.11's `uuid` has no version 7 (3.14 adds `uuid.uuid7`).
    The random bits come 512 ids at a time, from one `os.urandom` call: 1.2 µs an id here,
    against 2.1 µs for `str(uuid.uuid4())`."""

    _BATCH = 512

    def __init__(self) -> None:
        self._last_ms = -1
        self._counter = 0
        self._random = b""
        self._used = 0
        self._pid = os.getpid()

    def __call__(self) -> str:
        ms = time.time_ns() // 1_000_000
        if ms > self._last_ms:
            self._last_ms, self._counter = ms, 0
        else:
            # The same millisecond (or the clock went back): count on, carrying into the time
            # when the 12-bit counter is full, so the ids stay in order and unique.
            self._counter += 1
            if self._counter > 0xFFF:
                self._last_ms, self._counter = self._last_ms + 1, 0
        if self._used + 8 > len(self._random) or os.getpid() != self._pid:
            # A forked child must not reuse its parent's unused random bits.
            self._random, self._used, self._pid = os.urandom(8 * self._BATCH), 0, os.getpid()
        tail = int.from_bytes(self._random[self._used : self._used + 8], "big")
        self._used += 8
        value = (self._last_ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | self._counter << 64
        value |= 0x2 << 62 | tail & 0x3FFF_FFFF_FFFF_FFFF  # the RFC 4122 variant, 62 random bits
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
