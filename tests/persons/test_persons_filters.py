"""The view filter language on real SQLite and PostgreSQL: operators, case, escaping, errors."""

from __future__ import annotations

from datetime import date

import pytest

from personsync.errors import FilterSyntaxError, ViewError
from personsync.model import Record
from personsync.persons.filter_lexer import quote
from personsync.persons.filters import compile_filter
from personsync.persons.repo import ALL_PERSONS, PersonsDB

PEOPLE = {
    "ann": Record(
        first_name="Ann",
        last_name="Adams",
        company="First Bank",
        business_state="NY",
        email1="ann@example.org",
        birthday=date(1980, 5, 1),
        categories=("VIP", "Board"),
    ),
    "zoe": Record(
        first_name="Zoë",
        last_name="Ékström",
        company="100% Pure_Co",
        home_state="ny",
        email2="ZOE@Example.ORG",
        mobile_phone="+46 70 123 45 67",
        categories=("VIPs",),
    ),
    "bob": Record(
        first_name="Bob",
        last_name="Baker",
        company="Bakery a\\b",
        business_state="CA",
        birthday=date(1990, 1, 1),
    ),
    "cem": Record(first_name="Çem", last_name="Şahin", company="ACME"),
}


@pytest.fixture
def db(persons_db: PersonsDB) -> tuple[PersonsDB, dict[int, str]]:
    ids = persons_db.add_many(list(PEOPLE.values()))
    return persons_db, dict(zip(ids, PEOPLE, strict=True))


def names(db: tuple[PersonsDB, dict[int, str]], expression: str, sort: str = "") -> list[str]:
    pdb, who = db
    pdb.create_view("t", expression, sort, replace=True)
    found = [who[p.id] for p in pdb.iter_persons("t")]
    assert pdb.count("t") == len(found)
    assert set(pdb.versions("t")) == {i for i, n in who.items() if n in found}
    return found if sort else sorted(found)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('first_name = "ann"', ["ann"]),
        ('first_name == "ANN"', ["ann"]),
        ('first_name != "ann"', ["bob", "cem", "zoe"]),
        ('last_name < "b"', ["ann"]),
        ('last_name <= "baker"', ["ann", "bob"]),
        ('last_name > "baker"', ["cem", "zoe"]),
        ('last_name >= "BAKER"', ["bob", "cem", "zoe"]),
        ('company contains "bank"', ["ann"]),
        ('company startswith "bak"', ["bob"]),
        ('company endswith "acme"', ["cem"]),
        ('first_name in ["ann", "BOB", "nobody"]', ["ann", "bob"]),
        ('first_name not in ["ann", "bob"]', ["cem", "zoe"]),
        ("email is empty", ["bob", "cem"]),
        ("email is not empty", ["ann", "zoe"]),
        ("birthday is empty", ["cem", "zoe"]),
        ('not company contains "bank"', ["bob", "cem", "zoe"]),
        ('state = "NY" and (last_name startswith "A" or company contains "pure")', ["ann", "zoe"]),
        ('state = "ny" or state = "ca"', ["ann", "bob", "zoe"]),
        ('NOT (state = "ny") AND first_name != "ÇEM"', ["bob"]),
        ('phone contains "123"', ["zoe"]),
        ('email = "zoe@example.org"', ["zoe"]),
        ('email != "zoe@example.org"', ["ann", "bob", "cem"]),
        ('categories = "vip"', ["ann"]),
        ('categories = "Board"', ["ann"]),
        ('categories contains "vip"', ["ann", "zoe"]),
        ('birthday < "1985-01-01"', ["ann"]),
        ('birthday >= "1985-01-01"', ["bob"]),
        ('birthday != "1980-05-01"', ["bob", "cem", "zoe"]),
        ("id = 1 or id > 3", None),
        ('created_at > "2000-01-01"', ["ann", "bob", "cem", "zoe"]),
        ('created_at < "2000-01-01"', []),
        ("", ["ann", "bob", "cem", "zoe"]),
    ],
)
def test_operators(
    db: tuple[PersonsDB, dict[int, str]], expression: str, expected: list[str] | None
) -> None:
    if expected is None:  # ids depend on the database: compute from what add_many returned
        _, who = db
        ids = sorted(who)
        expected = sorted(who[i] for i in ids if i == 1 or i > 3)
    assert names(db, expression) == expected


def test_case_insensitive_beyond_ascii(db: tuple[PersonsDB, dict[int, str]]) -> None:
    # SQLite's own lower() folds ASCII only; both databases must agree here.
    assert names(db, 'last_name = "ÉKSTRÖM"') == ["zoe"]
    assert names(db, 'first_name startswith "ç"') == ["cem"]
    assert names(db, 'last_name contains "ŞAH"') == ["cem"]


def test_like_wildcards_are_literal(db: tuple[PersonsDB, dict[int, str]]) -> None:
    assert names(db, 'company contains "%"') == ["zoe"]
    assert names(db, 'company contains "_"') == ["zoe"]
    assert names(db, 'company contains "0% p"') == ["zoe"]
    assert names(db, 'company contains "e_C"') == ["zoe"]
    assert names(db, 'company contains "a_b"') == []
    assert names(db, 'company contains "a\\\\b"') == ["bob"]
    assert names(db, 'company startswith "%"') == []
    assert names(db, 'company contains "/"') == []


def test_string_escapes_and_single_quotes(db: tuple[PersonsDB, dict[int, str]]) -> None:
    assert names(db, "first_name = 'ann'") == ["ann"]
    assert names(db, 'first_name = "a\\"nn"') == []
    assert names(db, "first_name = " + quote("Ann")) == ["ann"]


@pytest.mark.parametrize(
    "literal",
    ['x" or 1=1 --', "x' or '1'='1", "%", "_", "\\", "'; drop table persons; --", "ann' --"],
)
def test_injection_attempts_match_nothing(
    db: tuple[PersonsDB, dict[int, str]], literal: str
) -> None:
    assert names(db, f"last_name = {quote(literal)}") == []
    assert names(db, f"company contains {quote(literal)}") == (
        ["zoe"] if literal in ("%", "_") else ["bob"] if literal == "\\" else []
    )
    pdb, _ = db
    assert pdb.count() == 4  # nothing was dropped


def test_raw_injection_text_is_a_syntax_error(db: tuple[PersonsDB, dict[int, str]]) -> None:
    pdb, _ = db
    with pytest.raises(FilterSyntaxError):
        pdb.create_view("x", 'last_name = "x" or 1=1 --')
    with pytest.raises(ViewError):
        pdb.get_view("x")


def test_sort(db: tuple[PersonsDB, dict[int, str]]) -> None:
    assert names(db, "", "last_name") == ["ann", "bob", "zoe", "cem"]
    assert names(db, "", "last_name desc") == ["cem", "zoe", "bob", "ann"]
    # dates sort as dates; an empty date sorts by the database's NULL rule, so only the two known
    assert [n for n in names(db, "", "birthday desc, first_name") if n in ("ann", "bob")] == [
        "bob",
        "ann",
    ]
    assert names(db, 'state = "ny"', "first_name DESC") == ["zoe", "ann"]


@pytest.mark.parametrize(
    ("expression", "position", "message"),
    [
        ('last_nme = "x"', 0, "unknown field 'last_nme'"),
        ('first_name = "x" and', 20, "expected a field name"),
        ('first_name = "x', 13, "not closed"),
        ("first_name = x", 13, "expected a value"),
        ('first_name ~ "x"', 11, "unexpected character"),
        ('(first_name = "x"', 17, "expected ')'"),
        ('first_name = "x")', 16, "expected 'and', 'or'"),
        ('first_name is "x"', 14, "expected 'empty'"),
        ('birthday = "next week"', 11, "not a date"),
        ('birthday contains "1"', 9, "works on text fields"),
        ('id = "abc"', 5, "whole number"),
        ('first_name in ["a",]', 19, "expected a value"),
        ('first_name = "a\\q"', 15, "unknown escape"),
        ('categories < "x"', 11, "cannot be ordered"),
        ("first_name", 10, "expected an operator"),
    ],
)
def test_malformed_filters_name_the_position(
    persons_db: PersonsDB, expression: str, position: int, message: str
) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        persons_db.create_view("bad", expression)
    assert info.value.position == position
    assert message in info.value.message
    assert info.value.expression == expression
    assert [v.name for v in persons_db.views()] == [ALL_PERSONS]  # nothing saved


def test_unknown_field_suggests_close_names(persons_db: PersonsDB) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        persons_db.create_view("bad", 'emial1 = "x"')
    assert "email1" in info.value.hint


@pytest.mark.parametrize(
    ("sort", "position"),
    [("last_name,", 10), ("nmae", 0), ("email", 0), ("last_name first_name", 10), ('"x"', 0)],
)
def test_malformed_sort(persons_db: PersonsDB, sort: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        persons_db.create_view("bad", "", sort)
    assert info.value.position == position


@pytest.mark.parametrize(
    "nesting", ["(" * 500 + 'last_name = "A"' + ")" * 500, "not " * 500 + 'last_name = "A"']
)
def test_over_deep_nesting_is_refused_with_a_one_line_error(nesting: str) -> None:
    # 500 nested parentheses once ended the parse with thousands of lines of RecursionError.
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter(nesting)
    assert "nested too deeply" in str(info.value) and "\n" not in str(info.value).strip()
    # Nesting a person could write still works.
    compile_filter("(" * 40 + 'last_name = "A"' + ")" * 40)
