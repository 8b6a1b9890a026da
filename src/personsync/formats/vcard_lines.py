"""vCard content lines: bytes → text, and a content line → its parts (cards: `vcard`; writing:
`vcard_text`).

Hand-written rather than vobject because vobject 0.9.9 mis-reads what Outlook writes (it needs
`allowQP`, keeps only the first part of `FN:Doe, John`, drops `TEL;WORK;VOICE` types and crashes
on 2.1 base64 photos) and is slow on 100,000 cards.

A property's `value` keeps the escaping convention of the version it came from (`style`): in 2.1
only `;` is structural (`\\;` and `\\\\` are escapes, commas are plain text); in 3.0 and 4.0
`;` and `,` are structural and `\\\\ \\, \\; \\n` are escapes. `vcard_text.convert_value`
moves a value between the two, so a line personsync does not understand is re-emitted correctly
in any version.
"""

from __future__ import annotations

import binascii
import codecs
import re
from dataclasses import dataclass, field

from personsync.formats.vcard_text import Params
from personsync.model import pickled_by_fields

VERSIONS = ("2.1", "3.0", "4.0")
# 2.1 allows parameter values without a name (`TEL;WORK;VOICE`); these are encodings, not types.
_BARE_ENCODINGS = {"QUOTED-PRINTABLE", "BASE64", "8BIT", "7BIT", "B"}
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@pickled_by_fields
@dataclass(slots=True)  # not frozen: a frozen init costs a third of reading a card
class Property:
    """One content line, transfer encoding (QP, charset) already undone. Treat as read-only."""

    name: str  # upper-case
    value: str  # escaped per `style`; for binary, the base64 text without whitespace
    params: Params = ()  # keys upper-case; TYPE values lower-case; ENCODING/CHARSET removed
    group: str = ""
    style: str = "3.0"  # "2.1" or "3.0" (3.0 and 4.0 escape alike)
    binary: bool = False
    line: int = field(default=0, compare=False)

    def param(self, key: str) -> tuple[str, ...]:
        return param(self.params, key)

    @property
    def types(self) -> frozenset[str]:
        return frozenset(param(self.params, "TYPE"))


def param(params: Params, key: str) -> tuple[str, ...]:
    for k, values in params:
        if k == key:
            return values
    return ()


Head = tuple[str, Params, str]  # name, params, group (as in Property)
# A content line as read: head, value, binary, line number (as in Property; the style is the
# card's). Most lines go into the record, so only the lines a card keeps become Properties:
# making a tuple costs a tenth of making a Property.
Line = tuple[Head, str, bool, int]


@dataclass(slots=True)
class RawCard:
    """The content lines of one BEGIN:VCARD … END:VCARD block."""

    version: str
    lines: list[Line]
    line: int  # of BEGIN
    end_line: int  # of END


# --- bytes → text -------------------------------------------------------------------------------


def decode_file(data: bytes, fallback: str = "cp1252") -> tuple[str, str]:
    """The file's text and the encoding used: UTF-8 BOM, else strict UTF-8, else `fallback`."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace"), "utf-8"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode(fallback), fallback
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; latin-1 maps every byte, so nothing is dropped.
        return data.decode("latin-1"), "latin-1"


_DECLARED = re.compile(rb"(?i);CHARSET=\"?([A-Za-z0-9_.-]{1,40})")


def decode_card(data: bytes, fallback: str = "cp1252") -> tuple[str, str, bool]:
    """One card's text, the encoding its 8-bit lines were read in, and whether that is a guess.
    Each card of a file is decoded on its own, so that one card's bytes never change how another
    reads; a card that is not UTF-8 as a whole is decoded a line at a time (a stray byte in the
    text after it, or in one value, leaves the other lines alone): UTF-8 when the line is; else
    the character set the line, or else the card, declares (Outlook's 2.1 cards say
    `CHARSET=Windows-1252`); else `fallback`, a guess."""
    try:
        text = data.decode("utf-8")
        return (text[1:] if text[:1] == "\ufeff" else text), "utf-8", False
    except UnicodeDecodeError:
        pass
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    card_charset = _declared(data)
    encoding, guessed = card_charset or fallback, False
    parts: list[str] = []
    for line in data.splitlines(keepends=True):
        try:
            parts.append(line.decode("utf-8"))
            continue
        except UnicodeDecodeError:
            pass
        charset = _declared(line) or card_charset
        if charset:
            try:
                parts.append(line.decode(charset))
                continue
            except UnicodeDecodeError:
                pass
        parts.append(decode_file(line, fallback)[0])
        guessed = True
    return "".join(parts), encoding, guessed


def _declared(data: bytes) -> str:
    """The first character set other than UTF-8 that `data` declares and Python knows."""
    for match in _DECLARED.finditer(data):
        try:
            name = text_codec(match.group(1).decode("ascii"))
        except LookupError:
            continue
        if name != "utf-8":
            return name
    return ""


def guessed_encoding(encoding: str) -> str:
    """The warning for a card whose text was read in a guessed encoding."""
    return (
        f"its text is not UTF-8 and declares no character set: read as {encoding} (a guess; "
        "check its accents)"
    )


# --- one content line ---------------------------------------------------------------------------


ParsedHead = tuple[str, str, Params, str, str]  # name, group, params, encoding, charset
# Parsed heads (`TEL;TYPE=work,voice`) by style and head: the same few dozen heads repeat in
# every card, so parsing each once makes reading 100,000 cards about twice as fast.
PARSED_HEADS: dict[str, dict[str, ParsedHead]] = {"2.1": {}, "3.0": {}}
# Those heads (the most) with no transfer encoding, no quotes and nothing `encoded` finds: their
# lines need only splitting at the colon, and fold like any line.
PLAIN_HEADS: dict[str, dict[str, Head]] = {"2.1": {}, "3.0": {}}
NO_HEAD: Head = ("", (), "")


def parse_line(line: str, style: str, encoding: str, number: int) -> Line:
    """Parse `group.NAME;params:value`; ValueError with a readable reason when malformed."""
    colon = line.find(":")
    quote = line.find('"', 0, colon) if colon >= 0 else line.find('"')
    if 0 <= quote < colon:
        head, value = _split_quoted(line)
    elif colon < 0:
        raise ValueError(f"no ':' in line {line[:40]!r}")
    else:
        head, value = line[:colon], line[colon + 1 :]
    heads = PARSED_HEADS[style]
    parsed = heads.get(head)
    if parsed is None:
        parsed = _parse_head(head, style)
        if len(heads) > 5000:
            heads.clear()
            PLAIN_HEADS[style].clear()
        # Never BEGIN or END, whatever the case: vcard._simple_card finds them as new heads.
        if parsed[0] not in ("BEGIN", "END"):
            heads[head] = parsed
            if not parsed[3] and '"' not in head and not any(encoded(head + ":")):
                PLAIN_HEADS[style][head] = (parsed[0], parsed[2], parsed[1])
    name, group, params, encoding_param, charset = parsed
    binary = False
    if encoding_param:
        if encoding_param in ("QUOTED-PRINTABLE", "QP"):
            value = decode_qp(value, charset, encoding)
        elif encoding_param in ("BASE64", "B"):
            value = "".join(value.split())
            binary = True
    if value[:5].lower() == "data:" and ";base64," in value[:120]:
        # 4.0 inline binary: held like 2.1/3.0 base64, so any version can write it back.
        media, _, value = value[5:].partition(";base64,")
        subtype = media.rpartition("/")[2].lower() or "octet-stream"
        params = tuple((k, v) for k, v in params if k not in ("VALUE", "TYPE"))
        params += (("TYPE", (subtype,)),)
        binary = True
    return (name, params, group), value, binary, number


def encoded(line: str) -> tuple[bool, bool]:
    """Whether the content line starting with `line` is quoted-printable, and base64 (which
    decides how the lines after it continue it)."""
    colon = line.find(":")
    if line.find(";", 0, colon if colon >= 0 else len(line)) < 0:
        return False, False
    head = line[:colon].upper()
    return "QUOTED-PRINTABLE" in head, "BASE64" in head or "ENCODING=B" in head


def _parse_head(head: str, style: str) -> ParsedHead:
    if _CONTROL.search(head):
        raise ValueError(f"control character in {head[:40]!r}")
    parts = _split_params(head) if '"' in head else head.split(";")
    name = parts[0].strip()
    group = ""
    dot = name.rfind(".")
    if dot >= 0:
        group, name = name[:dot], name[dot + 1 :]
    name = name.upper()
    if not name or not _NAME_CHARS.issuperset(name):
        raise ValueError(f"bad property name {name[:40]!r}")
    if len(parts) == 1:
        return name, group, (), "", ""
    params, encoding, charset = _params(parts[1:], style, name)
    if encoding not in ("", "QUOTED-PRINTABLE", "QP", "BASE64", "B", "8BIT", "7BIT"):
        raise ValueError(f"{name}: unknown encoding {encoding!r}")
    if charset:
        _check_charset(charset, name)
    return name, group, params, encoding, charset


def _split_quoted(line: str) -> tuple[str, str]:
    inside = False
    for i, ch in enumerate(line):
        if ch == '"':
            inside = not inside
        elif ch == ":" and not inside:
            return line[:i], line[i + 1 :]
    raise ValueError(f"no ':' after the parameters in {line[:40]!r}")


def _split_params(head: str) -> list[str]:
    parts, start, inside = [], 0, False
    for i, ch in enumerate(head):
        if ch == '"':
            inside = not inside
        elif ch == ";" and not inside:
            parts.append(head[start:i])
            start = i + 1
    parts.append(head[start:])
    return parts


def _params(parts: list[str], style: str, name: str) -> tuple[Params, str, str]:
    out: dict[str, list[str]] = {}
    encoding = charset = ""
    for part in parts:
        key, eq, raw = part.partition("=")
        key = key.strip().upper()
        if not _NAME_CHARS.issuperset(key):
            raise ValueError(f"{name}: bad parameter {part[:40]!r}")
        if not eq:
            if not key:
                continue
            if key in _BARE_ENCODINGS:
                encoding = key
                continue
            key, raw = "TYPE", part
        if key == "ENCODING":
            encoding = raw.strip().strip('"').upper()
            continue
        if key == "CHARSET":
            charset = raw.strip().strip('"')
            continue
        values = [v.strip().strip('"') for v in raw.split(",")] if style != "2.1" else [raw]
        if key == "TYPE":
            values = [v.lower() for v in values]
        out.setdefault(key, []).extend(v for v in values if v)
    return tuple((k, tuple(v)) for k, v in out.items()), encoding, charset


def _check_charset(charset: str, name: str) -> str:
    try:
        return text_codec(charset)
    except LookupError:
        raise ValueError(f"{name}: unknown character set {charset!r}") from None


def text_codec(charset: str) -> str:
    """Python's name for a character set; LookupError for one it does not know or that is
    not text (`quopri`, `base64`: codecs of bytes to bytes)."""
    name = codecs.lookup(charset).name
    "".encode(name)  # LookupError for a codec that is not a text encoding
    return name


def decode_qp(value: str, charset: str, file_encoding: str) -> str:
    raw = binascii.a2b_qp(value.encode(file_encoding, "replace"))
    if charset:
        return raw.decode(_check_charset(charset, "value"), "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")
