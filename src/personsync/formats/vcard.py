"""The vCard codec: bytes ⇄ contacts, no policy (stores decide ids, versions and files).

`read_cards` reads vCard 2.1, 3.0 and 4.0 as Outlook, Apple, Google and the RFCs write them and
yields a `Contact` per card or a `FormatError` for a card (or stray text) it cannot read, then
goes on. A card's UID comes as `Contact.item_id`; stores replace it with their own item id.
`write_card` writes 3.0 (default), 4.0 or 2.1. A card read and written back keeps every line
personsync does not map (photos, keys, X- properties, values beyond the record's slots) in
`Contact.extra`. The parts: this module (text → cards), `vcard_lines` (content lines),
`vcard_text` (escaping, folding), `vcard_map` (the mapping table's vCard side), `vcard_read` and
`vcard_write`.

The reader splits the text into lines once and does a few string operations per line; it never
raises for bad input: a card it cannot read is returned as a `FormatError` and the next card is
read. Most cards are read in one pass over their lines (`_simple_card`); a card with anything
that pass does not handle is read again line by line, which handles everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from itertools import islice
from typing import Any

from personsync.errors import FormatError
from personsync.formats.vcard_lines import (
    NO_HEAD,
    PARSED_HEADS,
    PLAIN_HEADS,
    VERSIONS,
    Line,
    ParsedHead,
    RawCard,
    decode_card,
    decode_file,
    encoded,
    guessed_encoding,
    parse_line,
)
from personsync.formats.vcard_read import VCardExtra, to_contact
from personsync.formats.vcard_write import write_card, write_cards
from personsync.model import Contact

__all__ = [
    "VCardExtra",
    "card_starts",
    "card_version",
    "count_lines",
    "decode_file",
    "read_cards",
    "read_text",
    "write_card",
    "write_cards",
]


def read_cards(
    data: bytes,
    source: str = "",
    *,
    fallback_encoding: str = "cp1252",
    shared: dict[Any, Any] | None = None,
) -> Iterator[Contact | FormatError]:
    """Every card in `data`, in file order. Text that is not UTF-8 is read as
    `fallback_encoding` (Outlook writes cp1252 files). Never raises for bad input. `shared`:
    one dict for many calls makes their repeated values one object (`model.share`)."""
    if b"\x00" in data[:4096] and b"BEGIN:" not in data[:4096].upper():
        yield FormatError("not a vCard file (binary data)", source=source, line=1)
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # Not UTF-8 as a whole: each card is decoded on its own (`decode_card`).
        yield from _read_each(data, source, fallback_encoding, shared)
        return
    yield from read_text(text.removeprefix("\ufeff"), source, "utf-8", shared=shared)


def _read_each(
    data: bytes, source: str, fallback: str, shared: dict[Any, Any] | None
) -> Iterator[Contact | FormatError]:
    starts = card_starts(data)
    line = 1
    for begin, end in zip([0, *starts], [*starts, len(data)], strict=True):
        if begin == end:
            continue
        piece = data[begin:end]
        text, encoding, guessed = decode_card(piece, fallback)
        for got in read_text(text, source, encoding, line, shared=shared):
            if guessed and isinstance(got, Contact):
                got = replace(got, unmapped=(*got.unmapped, guessed_encoding(encoding)))
            yield got
        line += count_lines(piece)


# A BEGIN:VCARD line, whatever its line end (CR LF, LF, CR, CR CR LF): found after the line end
# before it (see `card_starts`). Much faster on a big file than a look-behind at every byte.
_BEGIN_LINE = re.compile(rb"(?i)[\r\n][ \t]*BEGIN:VCARD[ \t]*(?=[\r\n]|\Z)")
_FIRST_BEGIN = re.compile(rb"(?i)(?:\xef\xbb\xbf)?[ \t]*BEGIN:VCARD[ \t]*(?=[\r\n]|\Z)")


def card_starts(data: bytes) -> list[int]:
    """Where each BEGIN:VCARD line of `data` starts (the cards of a file, split as bytes)."""
    starts = [m.start() + 1 for m in _BEGIN_LINE.finditer(data)]
    if _FIRST_BEGIN.match(data):
        starts.insert(0, 0)
    return starts


def count_lines(data: bytes) -> int:
    """The line ends in `data`, counted as `split_lines` splits (LF, or CR without any LF)."""
    return data.count(b"\n") if b"\n" in data else data.count(b"\r")


def read_text(
    text: str,
    source: str = "",
    encoding: str = "utf-8",
    first_line: int = 1,
    *,
    shared: dict[Any, Any] | None = None,
) -> Iterator[Contact | FormatError]:
    """`read_cards` for text already decoded (`encoding` is what quoted-printable values
    without CHARSET were written in); `first_line` numbers the text's first line."""
    for item in iter_cards(text, source, encoding, first_line):
        if isinstance(item, RawCard):
            yield to_contact(item, source, shared)
        else:
            yield item


def card_version(contact: Contact, default: str = "3.0") -> str:
    """The version the contact's card was read in (to write it back alike), else `default`."""
    extra = contact.extra
    return extra.version if isinstance(extra, VCardExtra) else default


STRAY_TEXT = "text outside BEGIN:VCARD … END:VCARD was ignored"  # a warning, no card

# --- text → cards -------------------------------------------------------------------------------


def split_lines(text: str) -> list[str]:
    """The text's lines without their ends: CR LF, LF, a lone CR, or CR CR LF (a CR LF file
    whose line ends were converted once more, as some mail and sync tools do)."""
    # Not str.splitlines: it also splits on \x0c, \x1c, U+2028…, which may sit inside a value.
    if "\r" not in text:
        return text.split("\n")
    if "\n" not in text:
        return text.split("\r")
    # Rather than take the CR off each line: split at CRLF, fine when every LF follows a CR
    # and every CR comes before an LF.
    lines = text.split("\r\n")
    if len(lines) - 1 == text.count("\n") == text.count("\r"):
        return lines
    return _LINE_END.split(text.removesuffix("\r"))


_LINE_END = re.compile(r"\r*\n|\r")


def iter_cards(
    text: str, source: str, encoding: str, first_line: int = 1
) -> Iterator[RawCard | FormatError]:
    """Cards in file order; stray text outside cards and broken cards come as FormatErrors.
    `first_line` is the line number of the text's first line (for a card cut from a file)."""
    lines = split_lines(text)
    base = first_line
    card: list[tuple[int, str]] | None = None
    begin = 0
    stray = 0
    logical: list[str] = []  # the physical parts of the line being assembled
    logical_no = 0
    qp = False  # the line being assembled is quoted-printable: `=` at the end continues it
    b64 = False  # …is base64: 2.1 writers may continue it without a leading space
    end = -1  # the index of the next line that is exactly END:VCARD; len(lines) when none
    numbered = enumerate(lines)
    for index, line in numbered:
        if card is None:
            stripped = line.strip()
            if stripped.upper() == "BEGIN:VCARD":
                card, begin, logical = [], index + base, []
                if end <= index:
                    try:
                        end = lines.index("END:VCARD", index + 1)
                    except ValueError:
                        end = len(lines)
                simple = _simple_card(lines, index, end, base, encoding)
                if simple is not None:
                    yield simple
                    card = None
                    next(islice(numbered, end - index, end - index), None)  # on after END
            elif stripped and stripped != "\x1a" and not stray:  # ^Z: DOS end of file
                stray = index + base
            continue
        if qp and logical and logical[-1].endswith("=") and line.upper() != "END:VCARD":
            logical[-1] = logical[-1][:-1]
            logical.append(line)
            continue
        if not line:
            continue
        first = line[0]
        if first == " " or first == "\t":
            if logical:
                logical.append(line[1:])
            continue
        if b64 and ":" not in line:
            logical.append(line)
            continue
        if logical:
            card.append((logical_no, "".join(logical)))
        if len(line) == 9 and line.upper() == "END:VCARD":
            yield _parse_card(card, begin, index + base, source, encoding)
            card, logical = None, []
            qp = b64 = False
            continue
        if len(line) == 11 and line.upper() == "BEGIN:VCARD":
            yield FormatError("card has no END:VCARD", source=source, line=begin)
            card, begin, logical = [], index + base, []
            qp = b64 = False
            continue
        logical, logical_no = [line], index + base
        qp, b64 = encoded(line)
    if card is not None:
        yield FormatError("card has no END:VCARD (file truncated?)", source=source, line=begin)
    if stray:
        yield FormatError(STRAY_TEXT, source=source, line=stray)


# Each card keeps its version (`VCardExtra.version`): one string per version, not a copy per
# card (5 MB of a first sync's 100,000 contacts; `card_reader` shares it again after pickling).
ONE_VERSION = {v: v for v in VERSIONS}


def _simple_card(
    lines: list[str], begin: int, end: int, base: int, encoding: str
) -> RawCard | None:
    """The card from `lines[begin]` (BEGIN) to `lines[end]` (END) read in one pass over its
    lines: what `iter_cards` and `_parse_card` would read, or None when a line may need them: a
    head not parsed before (which include BEGIN and END in any case: never cached), a line
    without a colon (base64 continued without a space, or an error), a fold that could change
    the version found first."""
    if end >= len(lines):
        return None
    block = lines[begin + 1 : end + 1]  # with the END line, which ends the last property
    version = "3.0"
    for line in block:
        if line[:8].upper() == "VERSION:":
            version = line[8:].strip()
            break
    version = ONE_VERSION.get(version, "")
    if not version:
        return None
    style = "2.1" if version == "2.1" else "3.0"
    plain, heads = PLAIN_HEADS[style], PARSED_HEADS[style]
    props: list[Line] = []
    # The line being assembled: its first physical line ("" when none) and that line's number;
    # its plain head and value, or (no plain head) whether it is quoted-printable; its other
    # parts (all its parts when it has no plain head, so that a soft line break can come off).
    no_head, not_a_start = NO_HEAD, _NOT_A_START
    start, number, known, head, value, qp = "", 0, no_head, "", "", False
    parts: list[str] = []
    soft = False  # quoted-printable and the last part ends with `=`: the next line continues it
    append = props.append
    for index, line in enumerate(block, begin + 1 + base):
        if soft and line.upper() != "END:VCARD":
            if line[:8].upper() == "VERSION:":
                return None  # part of a quoted-printable value, not the card's version
            parts[-1] = parts[-1][:-1]
            parts.append(line)
            soft = line.endswith("=")
            continue
        first = line[:1]
        if first in not_a_start:  # an empty line or a continuation
            if first and start:
                if len(start) < 8 or start[:8].upper() == "VERSION:":
                    return None  # the version found above may not be the card's
                parts.append(line[1:])
                soft = known is no_head and qp and len(line) > 1 and line.endswith("=")
            continue
        if start:  # the line before is complete: `head` and `value` are still its own
            if known is no_head:
                if not _parse_into(props, "".join(parts), style, encoding, number, heads):
                    return None
                parts = []
            else:
                if parts:
                    value += "".join(parts)
                    parts = []
                if value[4:5] != ":":  # else perhaps a `data:` URI
                    append((known, value, False, number))
                elif not _parse_into(props, f"{head}:{value}", style, encoding, number, heads):
                    return None
        head, colon, value = line.partition(":")
        if not colon:
            return None
        start, number = line, index
        known = plain.get(head, no_head)
        if known is no_head:
            qp = encoded(line)[0]
            soft = qp and line.endswith("=")
            parts = [line]
    return RawCard(version, props, begin + base, end + base)


_NOT_A_START = frozenset(("", " ", "\t"))


def _parse_into(
    props: list[Line],
    line: str,
    style: str,
    encoding: str,
    number: int,
    heads: dict[str, ParsedHead],
) -> bool:
    """`parse_line` into `props`; False when the head is new or the line malformed."""
    if line.partition(":")[0] not in heads:
        return False
    try:
        props.append(parse_line(line, style, encoding, number))
    except ValueError:
        return False  # reported with the card's name by `_parse_card`
    return True


def _parse_card(
    lines: list[tuple[int, str]], begin: int, end: int, source: str, encoding: str
) -> RawCard | FormatError:
    version = "3.0"
    for _, line in lines:
        if line[:8].upper() == "VERSION:":
            version = line[8:].strip()
            break
    if version not in VERSIONS:
        return FormatError(f"unsupported vCard version {version!r}", source=source, line=begin)
    version = ONE_VERSION[version]
    style = "2.1" if version == "2.1" else "3.0"
    props: list[Line] = []
    for number, line in lines:
        try:
            props.append(parse_line(line, style, encoding, number))
        except ValueError as exc:
            return FormatError(str(exc), source=source, line=number, name=_card_name(lines))
    return RawCard(version, props, begin, end)


def _card_name(lines: list[tuple[int, str]]) -> str:
    for _, line in lines:
        if line[:3].upper() == "FN:":
            return line[3:80].strip()
    return ""
