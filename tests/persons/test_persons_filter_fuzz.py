"""Hypothesis: any string as a filter value matches exactly what Python's comparison would, so no
value can ever widen a view (quotes, backslashes, LIKE wildcards, SQL fragments included)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personsync.model import Record
from personsync.persons.filter_lexer import quote
from personsync.persons.repo import PersonsDB

NAMES = ["O'Brien", 'Say "hi"', "100%", "a_b", "back\\slash", "Émile", "x or 1=1", "", "ab"]
# Letters whose lower() is the same in Python and PostgreSQL, plus every character that means
# something to SQL, LIKE or the filter language.
ALPHABET = st.sampled_from(list("abAB xéÉ'\"\\%_-;=()[]/*1"))
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def named_db(persons_db: PersonsDB) -> tuple[PersonsDB, dict[int, str]]:
    ids = persons_db.add_many([Record(last_name=n) for n in NAMES])
    return persons_db, dict(zip(ids, NAMES, strict=True))


@FUZZ
@given(value=st.one_of(st.text(ALPHABET, max_size=8), st.sampled_from(NAMES)))
def test_any_value_matches_like_python(
    named_db: tuple[PersonsDB, dict[int, str]], value: str
) -> None:
    db, names = named_db
    checks = {
        "=": lambda n: n.lower() == value.lower(),
        "contains": lambda n: value.lower() in n.lower(),
        "startswith": lambda n: n.lower().startswith(value.lower()),
        "endswith": lambda n: n.lower().endswith(value.lower()),
    }
    for op, expected in checks.items():
        db.create_view("fuzz", f"last_name {op} {quote(value)}", replace=True)
        got = {p.id for p in db.iter_persons("fuzz")}
        assert got == {i for i, n in names.items() if expected(n)}, op
