"""File names of a `vcf:` folder, and the item ids they give.

**New cards** get a readable name: the person's name, then a dash and a 12-character suffix
(`Martinez James-06KXA1B2C3D4.vcf`), so that a person finds a contact's file by its name. The
suffix is the item id. It is the time-ordered start of the card's UID (`NewUids`: a millisecond
timestamp and a counter, in Crockford's base32, upper case), for two reasons:
- Database locality. A new contact's item id goes into two indexes (its link's and its Person's
  `contact_manager_id`). Ids in creation order are inserted at the end of those indexes; ids
  in name order (the whole readable stem as id) land all over them, and each chunk's commit
  writes hundreds of pages again: a full export of 100,000 took about a third longer that way
  (docs/benchmarks.md). The suffix keeps the readable name and the ordered key.
- Stability. The name's readable part may be changed by hand, or by a filesystem that stores
  names in another Unicode form (macOS's HFS+ decomposes them): the id, in plain ASCII, stays.
A suffix never appears in a name `encode_uid` makes (those have no upper-case letter outside a
`%XX`), and its first two characters pin the timestamp to 2020-2099, so a name written by
another program is taken for one of ours only if it ends in such a dash and 12 characters.

The readable part (`readable_stem`) is safe on Windows, macOS and Linux: NFC, no control
characters or `<>:"/\\|?*`, no leading dot (a hidden file) or trailing dot or space, no Windows
device name (`CON`, `COM1.x`...), at most 60 characters and 150 bytes. Uniqueness comes from
the suffix alone, which has one case only: a case-insensitive disk cannot fold two into one.

**Older files** personsync wrote are named after the card's UID and keep that item id (files
are never renamed). Such a name is the UID percent-encoded so that any UID
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
import unicodedata
from collections.abc import Container
from urllib.parse import unquote

from personsync.model import Record, fields_getter

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


# Crockford's base32 (no I, L, O, U), in ASCII order, so that suffixes sort as their values.
_BASE32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SUFFIX_LENGTH = 12
_PAIRS = tuple(a + b for a in _BASE32 for b in _BASE32)  # 10 bits → two characters
# Two leading characters for timestamps from 2020 to 2099 (the value's top bits are the
# millisecond time): a 12-character tail of another program's name rarely starts so.
SUFFIX = re.compile(r"0[5-9A-E][0-9A-HJKMNP-TV-Z]{10}")


def suffix_of(uid: str) -> str:
    """The item id of a new card with the UID `uid` (from `NewUids`): the UID's 48-bit
    millisecond time and 12-bit counter (60 bits) in base32."""
    digits = uid.replace("-", "")
    value = int(digits[:12], 16) << 12 | int(digits[13:16], 16)
    # Two characters (10 bits) per look-up: a full export makes one per new card.
    return (
        _PAIRS[value >> 50 & 1023]
        + _PAIRS[value >> 40 & 1023]
        + _PAIRS[value >> 30 & 1023]
        + _PAIRS[value >> 20 & 1023]
        + _PAIRS[value >> 10 & 1023]
        + _PAIRS[value & 1023]
    )


def suffix_id(stem: str) -> str | None:
    """The item id a readable file name stem gives (its suffix), or None when it has none."""
    if len(stem) <= SUFFIX_LENGTH or stem[-SUFFIX_LENGTH - 1] != "-":
        return None
    tail = stem[-SUFFIX_LENGTH:]
    return tail if SUFFIX.fullmatch(tail) else None


_NAME_LIMIT = 60  # characters of the readable part
_NAME_BYTES = 150  # and UTF-8 bytes (a name may take 255; the suffix and `.vcf` take 17)
_NOT_IN_NAMES = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')  # Windows' list, and control characters
_RESERVED = (
    _WINDOWS_DEVICES
    | {"conin$", "conout$", "clock$"}
    | {f"{p}{n}" for p in ("com", "lpt") for n in ("0", "\u00b9", "\u00b2", "\u00b3")}
)


def readable_stem(record: Record, uid: str) -> str:
    """A new card's file name without `.vcf`: the person's name ("Last First Middle", or
    File As, else the nickname, company or e-mail), then `-` and the suffix of `uid`."""
    file_as, *names, nickname, company, email = _NAME_FIELDS(record)
    name = file_as or " ".join(filter(None, names)) or nickname or company or email
    return f"{safe_name(name)}-{suffix_of(uid)}"


_NAME_FIELDS = fields_getter(
    ("file_as", "last_name", "first_name", "middle_name", "nickname", "company", "email1")
)


def safe_name(text: str) -> str:
    """`text` as the readable part of a file name on any common system ("Contact" if nothing
    of it is left)."""
    text = unicodedata.normalize("NFC", text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (category Cs: the only code points strict UTF-8 refuses), as a name
        # decoded with `surrogateescape` may hold. Checked by one encode first: a character
        # loop per name cost a full export of 100,000 about 0.6 s.
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cs")
    text = " ".join(_NOT_IN_NAMES.sub(" ", text).split())
    text = text[:_NAME_LIMIT]
    while len(text.encode("utf-8")) > _NAME_BYTES:
        text = text[:-1]
    # Leading dots hide a file on Unix; trailing dots and spaces are dropped by Windows.
    text = text.strip(" .")
    if text.split(".")[0].rstrip(" ").casefold() in _RESERVED:
        text = "_" + text  # `CON`, `com1.x`: device names on Windows, whatever follows a dot
    return text or "Contact"


class Taken:
    """Item ids given out so far in a listing: ours, then foreign ones."""

    def __init__(self, ours: Container[str], names: dict[str, str]) -> None:
        self.ours = ours
        self.names = names

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.ours or item_id in self.names


class Listed:
    """Two things a vCard folder store knows of its item ids, in one index: those the last
    listing found in files named after them (`encode_uid`: their file is found without a
    look-up), and, for any item read or written here, the version at which its file held that
    one card only (an update at that version needs a stat, not a re-read to keep cards after
    the first). A listed id maps to that version, or "" when unknown; other ids (files with
    other names, made since the listing) have a small dict of their own. Why: a set of a
    first sync's 100,000 listed ids beside a dict of the same ids read was 4 MB of its peak."""

    def __init__(self) -> None:
        self.ours: dict[str, str] = {}
        self.others: dict[str, str] = {}

    def __contains__(self, item_id: object) -> bool:
        """Whether the last listing found `item_id` in a file named after it."""
        return item_id in self.ours

    def relist(self, ours: dict[str, str]) -> None:
        """A new listing's ids of files named after them, each mapped to "" (this takes the
        dict); what is known of their files' single cards is kept, whatever the listing."""
        old, others = self.ours, self.others
        if old or others:
            for item_id, version in old.items():
                if version:
                    if item_id in ours:
                        ours[item_id] = version
                    else:
                        others[item_id] = version
            for item_id in others.keys() & ours.keys():
                ours[item_id] = others.pop(item_id)
        self.ours = ours

    def single(self, item_id: str) -> str | None:
        """The version at which `item_id`'s file held one card only, when known."""
        return self.ours.get(item_id) or self.others.get(item_id)

    def one_card(self, item_id: str, version: str | None) -> None:
        """`item_id`'s file holds one card only at `version`; None: it may hold more."""
        if item_id in self.ours:
            self.ours[item_id] = version or ""
        elif version is not None:
            self.others[item_id] = version
        else:
            self.others.pop(item_id, None)

    def singles(self) -> dict[str, str]:
        """Every item id → the version at which its file held one card only."""
        return {**{i: v for i, v in self.ours.items() if v}, **self.others}


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
