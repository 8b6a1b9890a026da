"""The view filter language, compiled to SQLAlchemy expressions with bound parameters.

    state = "NY" and (last_name startswith "A" or company contains "Bank") and not email is empty

Hand-written tokenizer and recursive-descent parser rather than a parser library: the grammar is
a dozen rules, and writing it by hand gives exact 0-based error positions and messages in the
user's words. Values only ever reach SQL as bound parameters; text is compared through lower() on
both sides (Python's `str.lower` for literals, a Unicode-aware lower() on SQLite and PostgreSQL's
own), so matching is the same on both databases.

    expr       := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | "(" expr ")" | comparison
    comparison := NAME op value | NAME "is" ["not"] "empty" | NAME ["not"] "in" "[" values "]"
    op         := = != < <= > >= contains startswith endswith
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, not_, or_, true
from sqlalchemy.sql.elements import UnaryExpression

from personsync.errors import FilterSyntaxError
from personsync.persons.filter_fields import FILTER_FIELDS, FilterField, suggest
from personsync.persons.filter_lexer import Token, tokenize
from personsync.persons.schema import persons

Condition = ColumnElement[bool]
TEXT_OPS = ("contains", "startswith", "endswith")
ORDER_OPS = ("<", "<=", ">", ">=")
# Parentheses and `not`s nested deeper than this are refused with a one-line error, as a too
# long filter is: no one writes them, and Python's recursion limit would otherwise end the parse
# with a RecursionError of thousands of lines.
MAX_DEPTH = 50


def compile_filter(expression: str) -> Condition:
    """The WHERE condition of a filter ("" or blanks → every Person)."""
    if not expression.strip():
        return true()
    return _Parser(expression).parse()


SORT_HINT = "write fields separated by commas, e.g. last_name, first_name desc"


def compile_sort(sort: str) -> list[UnaryExpression[object] | ColumnElement[object]]:
    """ORDER BY clauses for `last_name, first_name desc`; the id always breaks ties."""
    try:
        tokens = tokenize(sort)
    except FilterSyntaxError as exc:
        # The filter's hints (quote text values) would mislead here: say how a sort is written.
        dash = re.match(r"\s*-\s*(\w+)", sort[exc.position :])
        hint = (
            f"to sort newest or largest first, write the field then desc: {dash[1]} desc"
            if dash
            else SORT_HINT
        )
        reason = exc.message.rsplit(" (at position", 1)[0]
        raise FilterSyntaxError(reason, expression=sort, position=exc.position, hint=hint) from None
    clauses: list[UnaryExpression[object] | ColumnElement[object]] = []
    i = 0
    while tokens[i].kind != "end":
        tok = tokens[i]
        if tok.kind != "name":
            raise FilterSyntaxError(
                "expected a field name",
                expression=sort,
                position=tok.pos,
                hint=SORT_HINT,
            )
        spec = _field(tok, sort)
        if spec.is_alias:
            raise FilterSyntaxError(
                f"cannot sort by {spec.name}: it stands for several fields",
                expression=sort,
                position=tok.pos,
                hint="sort by one of: " + ", ".join(spec.columns),
            )
        column = persons.c[spec.name]
        key = func.lower(column) if spec.kind in ("text", "list") else column
        i += 1
        descending = False
        if tokens[i].kind == "name" and tokens[i].text in ("asc", "desc"):
            descending = tokens[i].text == "desc"
            i += 1
        clauses.append(key.desc() if descending else key.asc())
        if tokens[i].kind == "end":
            break
        if tokens[i].text != ",":
            raise FilterSyntaxError(
                "expected , or the end of the sort",
                expression=sort,
                position=tokens[i].pos,
                hint=SORT_HINT,
            )
        i += 1
        if tokens[i].kind == "end":
            raise FilterSyntaxError(
                "expected a field name after ,", expression=sort, position=tokens[i].pos
            )
    clauses.append(persons.c.id.asc())
    return clauses


def _field(tok: Token, expression: str) -> FilterField:
    spec = FILTER_FIELDS.get(tok.text)
    if spec is None:
        raise FilterSyntaxError(
            f"unknown field {tok.text!r}",
            expression=expression,
            position=tok.pos,
            hint=suggest(tok.text),
        )
    return spec


class _Parser:
    def __init__(self, expression: str) -> None:
        self.text = expression
        self.tokens = tokenize(expression)
        self.i = 0
        self.depth = 0

    # --- helpers ---------------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, message: str, tok: Token | None = None, hint: str = "") -> FilterSyntaxError:
        at = tok or self.tok
        return FilterSyntaxError(message, expression=self.text, position=at.pos, hint=hint)

    def is_word(self, word: str) -> bool:
        return self.tok.kind == "name" and self.tok.text == word

    def expect(self, text: str) -> None:
        if self.tok.text != text or self.tok.kind in ("string", "number"):
            raise self.fail(f"expected {text!r}, found {self.describe()}")
        self.i += 1

    def describe(self) -> str:
        if self.tok.kind == "end":
            return "the end of the filter"
        return repr(self.text[self.tok.pos :].split()[0][:20])

    # --- grammar ---------------------------------------------------------------------------------
    def parse(self) -> Condition:
        cond = self.or_expr()
        if self.tok.kind != "end":
            raise self.fail(
                f"expected 'and', 'or' or the end, found {self.describe()}",
                hint="join conditions with and / or; put text values in quotes",
            )
        return cond

    def or_expr(self) -> Condition:
        parts = [self.and_expr()]
        while self.is_word("or"):
            self.i += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else or_(*parts)

    def and_expr(self) -> Condition:
        parts = [self.unary()]
        while self.is_word("and"):
            self.i += 1
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else and_(*parts)

    def unary(self) -> Condition:
        nested = self.is_word("not") or (self.tok.text == "(" and self.tok.kind == "punct")
        if not nested:
            return self.comparison()
        if self.depth >= MAX_DEPTH:
            raise self.fail(
                f"nested too deeply (more than {MAX_DEPTH} levels of parentheses or 'not')",
                hint="write the filter with fewer parentheses",
            )
        self.depth += 1
        try:
            if self.is_word("not"):
                self.i += 1
                return not_(self.unary())
            self.i += 1
            cond = self.or_expr()
            self.expect(")")
            return cond
        finally:
            self.depth -= 1

    def comparison(self) -> Condition:
        name = self.tok
        if name.kind != "name":
            raise self.fail(
                f"expected a field name, found {self.describe()}",
                hint='a condition looks like: last_name = "Smith"',
            )
        spec = _field(name, self.text)
        self.i += 1
        op = self.tok
        if op.kind == "name" and op.text == "is":
            self.i += 1
            negate = self.is_word("not")
            if negate:
                self.i += 1
            if not self.is_word("empty"):
                raise self.fail(f"expected 'empty', found {self.describe()}")
            self.i += 1
            non_empty = _any(spec, _not_empty)
            return non_empty if negate else not_(non_empty)
        negate_in = False
        if op.kind == "name" and op.text == "not":
            self.i += 1
            if not self.is_word("in"):
                raise self.fail(f"expected 'in' after 'not', found {self.describe()}")
            negate_in = True
        if self.is_word("in"):
            self.i += 1
            values = self.value_list()
            preds = [self.predicate(spec, "=", v) for v in values]
            found = _any(spec, lambda col: or_(*(p(col) for p in preds)))
            return not_(found) if negate_in else found
        if op.kind == "op" or (op.kind == "name" and op.text in TEXT_OPS):
            self.i += 1
            value = self.value()
            if op.text == "!=":
                return not_(_any(spec, self.predicate(spec, "=", value, op)))
            return _any(spec, self.predicate(spec, op.text, value, op))
        raise self.fail(
            f"expected an operator after {spec.name}, found {self.describe()}",
            hint="operators: = != < <= > >= contains startswith endswith in, is [not] empty",
        )

    def value(self) -> Token:
        tok = self.tok
        if tok.kind not in ("string", "number"):
            raise self.fail(
                f"expected a value, found {self.describe()}",
                hint='put text values in quotes, e.g. "New York"',
            )
        self.i += 1
        return tok

    def value_list(self) -> list[Token]:
        self.expect("[")
        values = [self.value()]
        while self.tok.text == "," and self.tok.kind == "punct":
            self.i += 1
            values.append(self.value())
        self.expect("]")
        return values

    # --- one field, one operator, one value ------------------------------------------------------
    def predicate(
        self, spec: FilterField, op: str, value: Token, op_tok: Token | None = None
    ) -> Callable[[ColumnElement[object]], Condition]:
        if spec.kind == "number":
            return self._number(spec, op, value, op_tok)
        if spec.kind in ("date", "datetime"):
            return self._date(spec, op, value, op_tok)
        v = value.text.lower()
        if op == "=":
            if spec.kind == "list":
                return lambda col: _has_category(func.lower(col), v)
            return lambda col: func.lower(col) == v
        if op in ORDER_OPS:
            if spec.kind == "list":
                raise self.fail(f"{spec.name} cannot be ordered; use = or contains", op_tok)
            return lambda col: _ordered(func.lower(col), op, v)
        if op == "contains":
            return lambda col: func.lower(col).contains(v, autoescape=True)
        if op == "startswith":
            return lambda col: func.lower(col).startswith(v, autoescape=True)
        return lambda col: func.lower(col).endswith(v, autoescape=True)

    def _number(
        self, spec: FilterField, op: str, value: Token, op_tok: Token | None
    ) -> Callable[[ColumnElement[object]], Condition]:
        if op in TEXT_OPS:
            raise self.fail(f"{op} works on text fields, not on {spec.name}", op_tok)
        try:
            number = int(value.text)
        except ValueError:
            raise self.fail(f"{spec.name} is a whole number, not {value.text!r}", value) from None
        if op == "=":
            return lambda col: col == number
        return lambda col: _ordered(col, op, number)

    def _date(
        self, spec: FilterField, op: str, value: Token, op_tok: Token | None
    ) -> Callable[[ColumnElement[object]], Condition]:
        if op in TEXT_OPS:
            raise self.fail(f"{op} works on text fields, not on the date {spec.name}", op_tok)
        try:
            if spec.kind == "date" or len(value.text.strip()) == 10:
                day = date.fromisoformat(value.text.strip())
            else:
                moment = datetime.fromisoformat(value.text.strip())
                moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
                return lambda col: _ordered(col, op, moment) if op != "=" else col == moment
        except ValueError:
            raise self.fail(
                f"{value.text!r} is not a date", value, hint='write dates as "YYYY-MM-DD"'
            ) from None
        if spec.kind == "date":
            # Guarded so that an empty date never makes the condition NULL (NOT NULL is NULL).
            return lambda col: and_(
                col.is_not(None), _ordered(col, op, day) if op != "=" else col == day
            )
        # A timestamp compared with a day means that whole day (UTC).
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = start + timedelta(days=1)
        bounds: dict[str, Callable[[ColumnElement[object]], Condition]] = {
            "=": lambda col: and_(col >= start, col < end),
            "<": lambda col: col < start,
            "<=": lambda col: col < end,
            ">": lambda col: col >= end,
            ">=": lambda col: col >= start,
        }
        return bounds[op]


def _any(spec: FilterField, pred: Callable[[ColumnElement[object]], Condition]) -> Condition:
    parts = [pred(persons.c[name]) for name in spec.columns]
    return parts[0] if len(parts) == 1 else or_(*parts)


def _not_empty(col: ColumnElement[object]) -> Condition:
    name = col.key
    spec = FILTER_FIELDS[str(name)]
    if spec.kind == "number":
        return true()
    if spec.kind in ("date", "datetime"):
        return col.is_not(None)
    return col != ""


def _ordered(col: ColumnElement[object], op: str, value: object) -> Condition:
    if op == "<":
        return col < value
    if op == "<=":
        return col <= value
    if op == ">":
        return col > value
    return col >= value


def _has_category(col: ColumnElement[object], value: str) -> Condition:
    """`categories = "VIP"`: VIP is one of the "; "-joined categories."""
    sep = "; "
    return or_(
        col == value,
        col.startswith(value + sep, autoescape=True),
        col.endswith(sep + value, autoescape=True),
        col.contains(sep + value + sep, autoescape=True),
    )
