"""vCard value text: escaping per version, and content lines folded into bytes for writing.

The escaping conventions (see `vcard_lines`): in 2.1 only `;` is structural and `\\;` `\\\\`
are escapes; in 3.0 and 4.0 `;` and `,` are structural and `\\\\ \\, \\; \\n` are escapes.
"""

from __future__ import annotations

import binascii
import re

Params = tuple[tuple[str, tuple[str, ...]], ...]

FOLD_OCTETS = 75


# --- escaping -----------------------------------------------------------------------------------


def split_components(value: str, style: str) -> list[str]:
    """Split on unescaped `;` and unescape each component (a structured value: N, ADR, ORG)."""
    if "\\" not in value:
        return value.split(";")
    return [unescape(p, style) for p in _split_unescaped(value, ";")]


def split_list(value: str, style: str) -> list[str]:
    """Split a 3.0/4.0 list value on unescaped `,` (CATEGORIES); 2.1 splits on `,` and `;`."""
    if style == "2.1":
        return [unescape(p, style) for p in value.replace(";", ",").split(",")]
    if "\\" not in value:
        return value.split(",")
    return [unescape(p, style) for p in _split_unescaped(value, ",")]


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


_UNESCAPE_30 = {"\\": "\\", ",": ",", ";": ";", "n": "\n", "N": "\n"}
_UNESCAPE_21 = {"\\": "\\", ";": ";"}
_ESCAPES_30 = re.compile(r"\\([\\,;nN])")
_ESCAPES_21 = re.compile(r"\\([\\;])")


def unescape(value: str, style: str) -> str:
    """Text value → plain text; an unknown escape keeps its backslash (lenient)."""
    if "\\" not in value:
        return value
    if style == "2.1":
        return _ESCAPES_21.sub(lambda m: _UNESCAPE_21[m.group(1)], value)
    return _ESCAPES_30.sub(lambda m: _UNESCAPE_30[m.group(1)], value)


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
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def base64_lines(head: str, data: str, version: str) -> bytes:
    if version != "2.1":
        return fold(f"{head}:{data}")
    # 2.1: each base64 line folded with a leading space, the block ended by a blank line.
    lines = [f"{head}:"] + [" " + data[i : i + 72] for i in range(0, len(data), 72)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii", "replace")
