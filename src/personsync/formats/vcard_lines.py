"""vCard content lines: bytes → cards of parsed properties, and properties → folded bytes.

Hand-written rather than vobject because vobject 0.9.9 mis-reads what Outlook writes (it needs
`allowQP`, keeps only the first part of `FN:Doe, John`, drops `TEL;WORK;VOICE` types and crashes
on 2.1 base64 photos) and is slow on 100,000 cards. The reader splits the text into lines once and
does a few string operations per line; it never raises for bad input: a card it cannot read is
returned as a `FormatError` and the next card is read.

A property's `value` keeps the escaping convention of the version it came from (`style`): in 2.1
only `;` is structural (`\\;` and `\\\\` are escapes, commas are plain text); in 3.0 and 4.0
`;` and `,` are structural and `\\\\ \\, \\; \\n` are escapes. `convert_value` moves a value
between the two, so a line personsync does not understand is re-emitted correctly in any version.
"""

from __future__ import annotations

import binascii
import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field

from personsync.errors import FormatError

Params = tuple[tuple[str, tuple[str, ...]], ...]

VERSIONS = ("2.1", "3.0", "4.0")
# 2.1 allows parameter values without a name (`TEL;WORK;VOICE`); these are encodings, not types.
_BARE_ENCODINGS = {"QUOTED-PRINTABLE", "BASE64", "8BIT", "7BIT", "B"}
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
FOLD_OCTETS = 75


@dataclass(frozen=True, slots=True)
class Property:
    """One content line, transfer encoding (QP, charset) already undone."""

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
            elif stripped and stripped != "\x1a":  # ^Z: DOS end-of-file marker
                if not stray:
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
        if line.upper() == "END:VCARD":
            yield _parse_card(card, begin, index + base, source, encoding)
            card, logical = None, []
            qp = b64 = False
            continue
        if line.upper() == "BEGIN:VCARD":
            yield FormatError("card has no END:VCARD", source=source, line=begin)
            card, begin, logical = [], index + base, []
            qp = b64 = False
            continue
        logical, logical_no = [line], index + base
        head = line.partition(":")[0].upper()
        qp = "QUOTED-PRINTABLE" in head
        b64 = "BASE64" in head or "ENCODING=B" in head
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


def parse_line(line: str, style: str, encoding: str, number: int) -> Property | None:
    """Parse `group.NAME;params:value`; ValueError with a readable reason when malformed."""
    colon = line.find(":")
    quote = line.find('"')
    if 0 <= quote < colon:
        head, value = _split_quoted(line)
    elif colon < 0:
        raise ValueError(f"no ':' in line {line[:40]!r}")
    else:
        head, value = line[:colon], line[colon + 1 :]
    parts = head.split(";") if quote < 0 or quote > colon else _split_params(head)
    name = parts[0].strip()
    group = ""
    dot = name.rfind(".")
    if dot >= 0:
        group, name = name[:dot], name[dot + 1 :]
    name = name.upper()
    if not name or not _NAME_CHARS.issuperset(name):
        raise ValueError(f"bad property name {name[:40]!r}")
    if name == "VERSION":
        return None
    params, encoding_param, charset = _params(parts[1:], style)
    binary = False
    if encoding_param in ("QUOTED-PRINTABLE", "QP"):
        value = decode_qp(value, charset, encoding)
    elif encoding_param in ("BASE64", "B"):
        value = "".join(value.split())
        binary = True
    elif encoding_param not in ("", "8BIT", "7BIT"):
        raise ValueError(f"{name}: unknown encoding {encoding_param!r}")
    elif charset:
        _check_charset(charset, name)
    return Property(name, value, params, group, style, binary, number)


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


def _params(parts: list[str], style: str) -> tuple[Params, str, str]:
    out: dict[str, list[str]] = {}
    encoding = charset = ""
    for part in parts:
        key, eq, raw = part.partition("=")
        key = key.strip().upper()
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


# --- escaping -----------------------------------------------------------------------------------


def split_components(value: str, style: str) -> list[str]:
    """Split on unescaped `;` and unescape each component (a structured value: N, ADR, ORG)."""
    if "\\" not in value:
        return value.split(";")
    parts, current, i, n = [], [], 0, len(value)
    while i < n:
        ch = value[i]
        if ch == "\\" and i + 1 < n:
            current.append(ch + value[i + 1])
            i += 2
            continue
        if ch == ";":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return [unescape(p, style) for p in parts]


def split_list(value: str, style: str) -> list[str]:
    """Split a 3.0/4.0 list value on unescaped `,` (CATEGORIES); 2.1 splits on `,` and `;`."""
    if style == "2.1":
        return [p for p in value.replace(";", ",").split(",")]
    parts, current, i, n = [], [], 0, len(value)
    while i < n:
        ch = value[i]
        if ch == "\\" and i + 1 < n:
            current.append(ch + value[i + 1])
            i += 2
            continue
        if ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return [unescape(p, style) for p in parts]


_UNESCAPE_30 = {"\\": "\\", ",": ",", ";": ";", "n": "\n", "N": "\n"}
_UNESCAPE_21 = {"\\": "\\", ";": ";"}


def unescape(value: str, style: str) -> str:
    """Text value → plain text; an unknown escape keeps its backslash (lenient)."""
    if "\\" not in value:
        return value
    table = _UNESCAPE_21 if style == "2.1" else _UNESCAPE_30
    out, i, n = [], 0, len(value)
    while i < n:
        ch = value[i]
        if ch == "\\" and i + 1 < n and value[i + 1] in table:
            out.append(table[value[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def escape(text: str, version: str) -> str:
    """Plain text → a text value (one component) for `version`."""
    if version == "2.1":
        return text.replace("\\", "\\\\").replace(";", "\\;")
    return (
        text.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def convert_value(value: str, style: str, version: str) -> str:
    """A raw value from a `style` card as a raw value for `version`, structure kept."""
    target = "2.1" if version == "2.1" else "3.0"
    if style == target:
        return value
    out, i, n = [], 0, len(value)
    if style == "2.1":  # → 3.0: commas and line breaks become escapes
        while i < n:
            ch = value[i]
            if ch == "\\" and i + 1 < n and value[i + 1] in "\\;":
                out.append(value[i : i + 2])
                i += 2
                continue
            if ch == "\\":
                out.append("\\\\")
            elif ch == ",":
                out.append("\\,")
            elif ch == "\r":
                if i + 1 < n and value[i + 1] == "\n":
                    i += 1
                out.append("\\n")
            elif ch == "\n":
                out.append("\\n")
            else:
                out.append(ch)
            i += 1
        return "".join(out)
    while i < n:  # 3.0 → 2.1: list commas and escaped commas both become plain commas
        ch = value[i]
        if ch == "\\" and i + 1 < n:
            nxt = value[i + 1]
            out.append({",": ",", "n": "\n", "N": "\n"}.get(nxt, ch + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


# --- writing ------------------------------------------------------------------------------------


def param_text(params: Params, version: str) -> str:
    out = []
    for key, values in params:
        if not values:
            continue
        if version == "2.1":
            if key == "TYPE":
                out.extend(f";{v.upper()}" for v in values)
            else:
                out.append(f";{key}={','.join(values)}")
            continue
        shown = []
        for v in values:
            v = v.replace('"', "'")
            shown.append(f'"{v}"' if any(c in v for c in ":;,") else v)
        out.append(f";{key}={','.join(shown)}")
    return "".join(out)


def fold(line: str) -> bytes:
    """One content line as UTF-8, CRLF, folded at 75 octets without splitting a character."""
    data = line.encode("utf-8")
    if len(data) <= FOLD_OCTETS:
        return data + b"\r\n"
    chunks, start, limit = [], 0, FOLD_OCTETS
    n = len(data)
    while start < n:
        end = min(start + limit, n)
        while end < n and end > start + 1 and (data[end] & 0xC0) == 0x80:
            end -= 1
        chunks.append(data[start:end])
        start, limit = end, FOLD_OCTETS - 1
    return b"\r\n ".join(chunks) + b"\r\n"


def qp_line(head: str, text: str) -> bytes:
    """A 2.1 line with a quoted-printable UTF-8 value, soft-broken at 76 characters."""
    encoded = []
    for byte in text.encode("utf-8"):
        if 33 <= byte <= 126 and byte != 61 or byte == 32:
            encoded.append(chr(byte))
        else:
            encoded.append(f"={byte:02X}")
    if encoded and encoded[-1] == " ":
        encoded[-1] = "=20"  # trailing space would be stripped by readers
    lines, current = [], head + ";CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:"
    for token in encoded:
        if len(current) + len(token) > FOLD_OCTETS:
            lines.append(current + "=")
            current = ""
        current += token
    lines.append(current)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def base64_lines(head: str, data: str, version: str) -> bytes:
    if version != "2.1":
        return fold(f"{head}:{data}")
    # 2.1: each base64 line folded with a leading space, the block ended by a blank line.
    lines = [f"{head}:"] + [" " + data[i : i + 72] for i in range(0, len(data), 72)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii", "replace")
