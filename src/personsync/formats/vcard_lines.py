"""vCard content lines: bytes → cards of parsed properties (writing: `vcard_text`).

Hand-written rather than vobject because vobject 0.9.9 mis-reads what Outlook writes (it needs
`allowQP`, keeps only the first part of `FN:Doe, John`, drops `TEL;WORK;VOICE` types and crashes
on 2.1 base64 photos) and is slow on 100,000 cards. The reader splits the text into lines once and
does a few string operations per line; it never raises for bad input: a card it cannot read is
returned as a `FormatError` and the next card is read.

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
from collections.abc import Iterator
from dataclasses import dataclass, field

from personsync.errors import FormatError
from personsync.formats.vcard_text import Params

VERSIONS = ("2.1", "3.0", "4.0")
# 2.1 allows parameter values without a name (`TEL;WORK;VOICE`); these are encodings, not types.
_BARE_ENCODINGS = {"QUOTED-PRINTABLE", "BASE64", "8BIT", "7BIT", "B"}
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


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
        for k, values in self.params:
            if k == key:
                return values
        return ()

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self.param("TYPE"))


@dataclass(slots=True)
class RawCard:
    """The properties of one BEGIN:VCARD … END:VCARD block."""

    version: str
    properties: list[Property]
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


def split_lines(text: str) -> list[str]:
    # Not str.splitlines: it also splits on \x0c, \x1c, U+2028…, which may sit inside a value.
    if "\n" in text:
        return text.split("\n")
    return text.split("\r")


# --- cards --------------------------------------------------------------------------------------


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
    for index, line in enumerate(lines):
        if line.endswith("\r"):
            line = line[:-1]
        if card is None:
            stripped = line.strip()
            if stripped.upper() == "BEGIN:VCARD":
                card, begin, logical = [], index + base, []
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
        colon = line.find(":")
        if line.find(";", 0, colon if colon >= 0 else len(line)) >= 0:
            head = line[:colon].upper()
            qp = "QUOTED-PRINTABLE" in head
            b64 = "BASE64" in head or "ENCODING=B" in head
        else:
            qp = b64 = False
    if card is not None:
        yield FormatError("card has no END:VCARD (file truncated?)", source=source, line=begin)
    if stray:
        yield FormatError(
            "text outside BEGIN:VCARD … END:VCARD was ignored", source=source, line=stray
        )


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
    style = "2.1" if version == "2.1" else "3.0"
    props: list[Property] = []
    for number, line in lines:
        try:
            prop = parse_line(line, style, encoding, number)
        except ValueError as exc:
            return FormatError(str(exc), source=source, line=number, name=_card_name(lines))
        if prop is not None:
            props.append(prop)
    return RawCard(version, props, begin, end)


def _card_name(lines: list[tuple[int, str]]) -> str:
    for _, line in lines:
        if line[:3].upper() == "FN:":
            return line[3:80].strip()
    return ""


# --- one content line ---------------------------------------------------------------------------


_Head = tuple[str, str, Params, str, str]  # name, group, params, encoding, charset
# Parsed heads (`TEL;TYPE=work,voice`) by (head, style): the same few dozen heads repeat in
# every card, so parsing each once makes reading 100,000 cards about twice as fast.
_HEADS: dict[tuple[str, str], _Head] = {}


def parse_line(line: str, style: str, encoding: str, number: int) -> Property | None:
    """Parse `group.NAME;params:value`; ValueError with a readable reason when malformed."""
    colon = line.find(":")
    quote = line.find('"', 0, colon) if colon >= 0 else line.find('"')
    if 0 <= quote < colon:
        head, value = _split_quoted(line)
    elif colon < 0:
        raise ValueError(f"no ':' in line {line[:40]!r}")
    else:
        head, value = line[:colon], line[colon + 1 :]
    parsed = _HEADS.get((head, style))
    if parsed is None:
        parsed = _parse_head(head, style)
        if len(_HEADS) > 5000:
            _HEADS.clear()
        _HEADS[head, style] = parsed
    name, group, params, encoding_param, charset = parsed
    if name == "VERSION":
        return None
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
    return Property(name, value, params, group, style, binary, number)


def _parse_head(head: str, style: str) -> _Head:
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
        return codecs.lookup(charset).name
    except LookupError:
        raise ValueError(f"{name}: unknown character set {charset!r}") from None


def decode_qp(value: str, charset: str, file_encoding: str) -> str:
    raw = binascii.a2b_qp(value.encode(file_encoding, "replace"))
    if charset:
        return raw.decode(_check_charset(charset, "value"), "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")
