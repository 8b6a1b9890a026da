"""The canonical record: field coverage, coercion and normalisation for comparison."""

from __future__ import annotations

import dataclasses
import gc
from datetime import date, datetime

import pytest

from personsync import fields
from personsync.fields import FIELD_NAMES
from personsync.model import (
    Record,
    coerce,
    diff,
    display_name,
    field_values,
    join_categories,
    normalise,
    normalise_phone,
    same,
    split_categories,
)


def test_record_has_exactly_the_mapped_fields() -> None:
    assert [f.name for f in dataclasses.fields(Record)] == list(fields.FIELD_NAMES)


def test_every_field_has_a_name_in_every_store() -> None:
    for spec in fields.FIELDS:
        assert spec.graph and spec.vcard and spec.csv, spec.name
    # No two fields may claim the same slot of a store.
    for column in ("graph", "vcard", "csv"):
        values = [getattr(f, column) for f in fields.FIELDS]
        assert len(values) == len(set(values)), column


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("+1 212-555-0100", "(212) 555-0100"),
        ("+44 20 7946 0958", "+442079460958"),
        ("212.555.0100", "+12125550100"),
    ],
)
def test_phones_compare_by_e164(a: str, b: str) -> None:
    assert same("business_phone", a, b)


def test_phone_that_does_not_parse_is_compared_as_typed() -> None:
    assert normalise_phone("ext. 42") == "ext.42"
    assert not same("home_phone", "ext. 42", "ext. 43")


def test_region_changes_how_national_numbers_read() -> None:
    assert normalise_phone("030 1234567", "DE") == "+49301234567"
    assert normalise_phone("030 1234567", "DE") != normalise_phone("030 1234567", "US")


def test_normalising_numbers_keeps_nothing_in_the_process() -> None:
    """Many runs share a server process: comparing phones must not leave the numbers behind
    (a process-wide cache kept a first sync's 160,000 after the run, 30 MB)."""
    import gc
    import tracemalloc

    normalise_phone("+1 212 555 0100")  # the numbering plan's metadata, loaded once
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(5000):
            assert normalise_phone(f"(212) 555-{i:04d}") == f"+1212555{i:04d}"
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 100_000, f"{kept} bytes kept after normalising 5,000 numbers"


def test_emails_compare_case_insensitively_but_not_loosely() -> None:
    assert same("email1", "Ann.Lee@Example.ORG", " ann.lee@example.org ")
    assert not same("email1", "ann.lee@example.org", "ann_lee@example.org")


def test_text_is_trimmed_and_line_ends_unified() -> None:
    assert same("notes", "line one\r\nline two  ", "line one\nline two")
    assert not same("notes", "line one\nline two", "line one line two")
    assert same("last_name", "  Müller ", "Müller")
    assert not same("last_name", "Müller", "Muller")


def test_categories_compare_as_sets() -> None:
    assert normalise("categories", ("VIP", "Board")) == normalise("categories", ("board", "vip"))


def test_diff_names_changed_fields_with_old_and_new() -> None:
    old = Record(first_name="Ann", email1="ann@x.org", birthday=date(1980, 3, 22))
    new = old.replace({"email1": "ANN@x.org", "birthday": date(1980, 3, 23), "company": "Acme"})
    assert diff(old, new) == {
        "company": ("", "Acme"),
        "birthday": (date(1980, 3, 22), date(1980, 3, 23)),
    }
    assert diff(new, new) == {}


def test_coerce_accepts_loose_input() -> None:
    assert coerce("birthday", "1980-03-22") == date(1980, 3, 22)
    assert coerce("birthday", datetime(1980, 3, 22, 11, 59)) == date(1980, 3, 22)
    assert coerce("birthday", "") is None
    assert coerce("categories", "VIP; Board,Press") == ("VIP", "Board", "Press")
    assert coerce("first_name", None) == ""


def test_from_values_rejects_unknown_fields() -> None:
    with pytest.raises(KeyError, match="nope"):
        Record.from_values({"nope": "x"})


def test_categories_join_and_split_round_trip() -> None:
    cats = ("VIP", "Board Members")
    assert split_categories(join_categories(cats)) == cats


def test_display_name_falls_back_in_order() -> None:
    assert display_name(Record(first_name="Ann", last_name="Lee")) == "Ann Lee"
    assert display_name(Record(company="Acme")) == "Acme"
    assert display_name(Record(email1="a@x.org")) == "a@x.org"
    assert display_name(Record()) == "(no name)"


def test_a_record_of_the_wrong_number_of_values_is_refused() -> None:
    from personsync.model import FIELD_NAMES, field_values, record_of

    values = field_values(Record(first_name="Ann"))
    assert record_of(values) == Record(first_name="Ann")
    with pytest.raises(TypeError, match=f"{len(FIELD_NAMES)} values"):
        record_of((*values, "one too many"))
    with pytest.raises(TypeError):
        record_of(values[:-1])


def test_the_collector_sees_one_untracked_tuple_per_record_not_its_fields() -> None:
    # A run holds 100,000s of Records while the collector's full collections walk every
    # object it tracks: a Record must be one reference to walk, to a tuple the collector
    # stops tracking once it has seen it (its items are text, dates, None, tuples of text).
    records = [
        Record(first_name=f"Ann {i}", birthday=date(1990, 1, 2), categories=("A", "B")).replace(
            {"company": "ACME"}
        )
        for i in range(50)
    ]
    # Twice: a tuple whose inner tuple (categories) comes later in the collector's list is
    # let go at the next collection, once that inner one was.
    gc.collect()
    gc.collect()
    for record in records:
        walked = [ref for ref in gc.get_referents(record) if not isinstance(ref, type)]
        assert walked == [field_values(record)]
        assert walked[0][FIELD_NAMES.index("company")] == "ACME"
        assert not gc.is_tracked(walked[0])
