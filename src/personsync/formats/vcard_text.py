"""vCard value text: escaping per version, and content lines folded into bytes for writing.

The escaping conventions (see `vcard_lines`): in 2.1 only `;` is structural and `\\;` `\\\\`
are escapes; in 3.0 and 4.0 `;` and `,` are structural and `\\\\ \\, \\; \\n` are escapes.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Container, Sequence

Params = tuple[tuple[str, tuple[str, ...]], ...]

FOLD_OCTETS = 75


# --- escaping -----------------------------------------------------------------------------------


def split_components(value: str, style: str) -> list[str]:
    """Split on unescaped `;` and unescape each component (a structured value: N, ADR, ORG)."""
    if "\\" not in value:
        return value.split(";")
    return _split(value, ";", style)


def split_list(value: str, style: str) -> list[str]:
    """Split a 3.0/4.0 list value on unescaped `,` (CATEGORIES); 2.1 splits on `,` and `;`."""
    if style == "2.1":
        return [unescape(p, style) for p in value.replace(";", ",").split(",")]
    if "\\" not in value:
        return value.split(",")
    return _split(value, ",", style)


def _split(value: str, sep: str, style: str) -> list[str]:
    escaped = "\\" + sep
    if escaped not in value:  # no backslash before a separator: every one splits
        return [unescape(p, style) if "\\" in p else p for p in value.split(sep)]
    if "\\\\" not in value and "\x00" not in value:
        # Without an escaped backslash, each `\\` + sep is an escaped separator: hidden as NUL
        # (which the value does not hold) while splitting.
        return [
            unescape(p, style).replace("\x00", sep)
            for p in value.replace(escaped, "\x00").split(sep)
        ]
    return [unescape(p, style) for p in _split_unescaped(value, sep)]


_TOKENS = {";": re.compile(r"(\\.|;)", re.S), ",": re.compile(r"(\\.|,)", re.S)}


def _split_unescaped(value: str, sep: str) -> list[str]:
    # Tokens are escapes (kept for `unescape`), separators and runs of plain text.
    parts: list[str] = []
    current: list[str] = []
    for token in _TOKENS[sep].split(value):
        if token == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(token)
    parts.append("".join(current))
    return parts


# 3.0/4.0 also take `\:` and `\"`, which the RFCs do not define but vendors write: Apple and
# Google escape the colon of a URL (`http\://…`), some writers the quotes of a note.
_UNESCAPE_30 = {"\\": "\\", ",": ",", ";": ";", ":": ":", '"': '"', "n": "\n", "N": "\n"}
_UNESCAPE_21 = {"\\": "\\", ";": ";"}
_ESCAPES_30 = re.compile(r'\\([\\,;:"nN])')
_ESCAPES_21 = re.compile(r"\\([\\;])")


def unescape(value: str, style: str) -> str:
    """Text value → plain text; an unknown escape keeps its backslash (lenient)."""
    if "\\" not in value:
        return value
    if "\\\\" not in value:
        # Without an escaped backslash the escapes cannot overlap: plain replaces do, faster
        # than a substitution that calls back for each escape.
        if style == "2.1":
            return value.replace("\\;", ";")
        if "\\n" in value or "\\N" in value:
            value = value.replace("\\n", "\n").replace("\\N", "\n")
        if "\\:" in value or '\\"' in value:
            value = value.replace("\\:", ":").replace('\\"', '"')
        return value.replace("\\,", ",").replace("\\;", ";")
    if style == "2.1":
        return _ESCAPES_21.sub(lambda m: _UNESCAPE_21[m.group(1)], value)
    return _ESCAPES_30.sub(lambda m: _UNESCAPE_30[m.group(1)], value)


def plain_text(value: str, style: str) -> str:
    """A text value as plain text with LF line breaks."""
    if "\\" in value:
        value = unescape(value, style)
    return _lf(value) if "\r" in value else value


def plain_components(value: str, style: str) -> list[str]:
    """`split_components` with LF line breaks."""
    parts = split_components(value, style)
    # Unescaping makes no CR, so a value without one has no component with one.
    return [_lf(p) for p in parts] if "\r" in value else parts


def _lf(text: str) -> str:
    # Line breaks arrive as CRLF (2.1 quoted-printable), LF or lone CR; the record holds LF.
    if "\r" in text:
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return text


_SPECIAL_30 = re.compile(r"[\\,;\r\n]")
_SPECIAL_21 = re.compile(r"[\\;]")


def escape(text: str, version: str) -> str:
    """Plain text → a text value (one component) for `version`."""
    if not (_SPECIAL_21 if version == "2.1" else _SPECIAL_30).search(text):
        return text
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


_SPECIAL_30_BUT_SEMICOLON = re.compile(r"[\\,\r\n]")


def escape_components(parts: Sequence[str], version: str) -> str:
    """Components (of N, ORG, ADR) escaped for `version` and joined by `;`."""
    raw = ";".join(parts)
    if raw.count(";") != len(parts) - 1:  # a component holds a `;`
        # Escaped at once, the separators held by a NUL meanwhile (when no component has one).
        held = "\x00".join(parts)
        if held.count("\x00") != len(parts) - 1:
            return ";".join([escape(p, version) for p in parts])
        return escape(held, version).replace("\x00", ";")
    # Else the separators are the only `;`, and no escape spans one: escape all at once.
    if version == "2.1":
        return raw.replace("\\", "\\\\") if "\\" in raw else raw
    if not _SPECIAL_30_BUT_SEMICOLON.search(raw):
        return raw
    return (
        raw.replace("\\", "\\\\")
        .replace(",", "\\,")
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
            out.append({",": ",", ":": ":", '"': '"', "n": "\n", "N": "\n"}.get(nxt, ch + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


# --- writing ------------------------------------------------------------------------------------


_PARAM_TEXT: dict[tuple[Params, str], str] = {}


def param_text(params: Params, version: str) -> str:
    if not params:
        return ""
    key = (params, version)
    text = _PARAM_TEXT.get(key)
    if text is None:
        text = _param_text(params, version)
        if len(_PARAM_TEXT) > 5000:
            _PARAM_TEXT.clear()
        _PARAM_TEXT[key] = text
    return text


def _param_text(params: Params, version: str) -> str:
    out: list[str] = []
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


def fold(line: str) -> str:
    """One content line folded at 75 octets of UTF-8 without splitting a character: its
    physical lines joined by CRLF, without the last CRLF."""
    data = line.encode("utf-8")
    if len(data) <= FOLD_OCTETS:
        return line
    chunks, start, limit = [], 0, FOLD_OCTETS
    n = len(data)
    while start < n:
        end = min(start + limit, n)
        while end < n and end > start + 1 and (data[end] & 0xC0) == 0x80:
            end -= 1
        chunks.append(data[start:end])
        start, limit = end, FOLD_OCTETS - 1
    return b"\r\n ".join(chunks).decode("utf-8")


def card_bytes(lines: list[str], verbatim: Container[int] = ()) -> bytes:
    """Content lines as UTF-8, each ended by CRLF and folded at 75 octets, but for those at
    the indexes in `verbatim`, which are already physical lines (see `qp_line`)."""
    text = "\r\n".join(lines) + "\r\n"
    data = text.encode("utf-8")
    # A line has at most as many octets as characters plus the card's extra octets (those of
    # its characters beyond ASCII): encoding the card once tells which lines need measuring.
    limit = FOLD_OCTETS - (len(data) - len(text))
    if max(map(len, lines)) <= limit:
        return data
    folded = [
        fold(line) if len(line) > limit and i not in verbatim else line
        for i, line in enumerate(lines)
    ]
    if folded == lines:  # the lines measured fit (`fold` returns them as they are)
        return data
    return ("\r\n".join(folded) + "\r\n").encode("utf-8")


def qp_line(head: str, text: str) -> str:
    """A 2.1 line with a quoted-printable UTF-8 value, soft-broken at 76 characters: its
    physical lines joined by CRLF, without the last CRLF."""
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=False).decode("ascii")
    rest = encoded.replace("=\n", "")  # its own soft breaks; ours account for the head
    lines: list[str] = []
    current = head + ";CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:"
    while len(current) + len(rest) > FOLD_OCTETS:
        cut = max(FOLD_OCTETS - len(current), 0)
        if cut >= 1 and rest[cut - 1] == "=":  # never split an =XX triplet
            cut -= 1
        elif cut >= 2 and rest[cut - 2] == "=":
            cut -= 2
        lines.append(current + rest[:cut] + "=")
        current, rest = "", rest[cut:]
        if rest[:1] in ("E", "B", "e", "b"):
            # A continuation line reading `END:VCARD` would end the card for lenient readers.
            current, rest = f"={ord(rest[0]):02X}", rest[1:]
    lines.append(current + rest)
    return "\r\n".join(lines)


def base64_lines(head: str, data: str) -> str:
    """A 2.1 base64 line: each base64 line folded with a leading space, the block ended by a
    blank line; joined by CRLF, without the last CRLF. (3.0 and 4.0 fold it like any line.)"""
    lines = [f"{head}:"] + [" " + data[i : i + 72] for i in range(0, len(data), 72)]
    return ("\r\n".join(lines) + "\r\n").encode("ascii", "replace").decode("ascii")
