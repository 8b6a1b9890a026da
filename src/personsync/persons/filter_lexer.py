"""Tokens of the view filter language, each with its 0-based position in the text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from personsync.errors import FilterSyntaxError

TokenKind = Literal["name", "string", "number", "op", "punct", "end"]


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str  # the value: unescaped for strings, lower-cased for names
    pos: int


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?\d+(\.\d+)?(?![A-Za-z_])")
_OPS = ("!=", "<>", "<=", ">=", "==", "=", "<", ">")
_PUNCT = "()[],"


def tokenize(expression: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(expression)
    while i < n:
        ch = expression[i]
        if ch.isspace():
            i += 1
        elif ch in "\"'":
            value, i = _string(expression, i)
            tokens.append(value)
        elif ch in _PUNCT:
            tokens.append(Token("punct", ch, i))
            i += 1
        elif (m := _NUMBER.match(expression, i)) is not None:
            tokens.append(Token("number", m.group(), i))
            i = m.end()
        elif (m := _NAME.match(expression, i)) is not None:
            tokens.append(Token("name", m.group().lower(), i))
            i = m.end()
        else:
            op = next((o for o in _OPS if expression.startswith(o, i)), None)
            if op is None:
                raise FilterSyntaxError(
                    f"unexpected character {ch!r}",
                    expression=expression,
                    position=i,
                    hint='put text values in quotes, e.g. company contains "A&B"',
                )
            tokens.append(Token("op", {"==": "=", "<>": "!="}.get(op, op), i))
            i += len(op)
    tokens.append(Token("end", "", n))
    return tokens


def _string(expression: str, start: int) -> tuple[Token, int]:
    quote = expression[start]
    out: list[str] = []
    i = start + 1
    while i < len(expression):
        ch = expression[i]
        if ch == "\\":
            if i + 1 >= len(expression):
                break
            nxt = expression[i + 1]
            if nxt not in _ESCAPES:
                raise FilterSyntaxError(
                    f"unknown escape \\{nxt} in a text value",
                    expression=expression,
                    position=i,
                    hint="escapes are \\\" \\' \\\\ \\n \\t",
                )
            out.append(_ESCAPES[nxt])
            i += 2
        elif ch == quote:
            return Token("string", "".join(out), start), i + 1
        else:
            out.append(ch)
            i += 1
    raise FilterSyntaxError(
        "text value is not closed",
        expression=expression,
        position=start,
        hint=f"end it with {quote}",
    )


def quote(value: str) -> str:
    """`value` as a filter-language string literal (for building filters in code)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("\t", "\\t") + '"'
