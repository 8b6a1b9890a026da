"""The sample generator: deterministic, varied, international, with near-duplicates."""

from __future__ import annotations

import unicodedata
from collections import Counter

from personsync.fields import FIELDS
from personsync.model import Record, normalise
from personsync.persons.sample import generate


def test_same_seed_same_records_other_seed_other_records() -> None:
    assert list(generate(300, seed=5)) == list(generate(300, seed=5))
    assert list(generate(300, seed=5)) != list(generate(300, seed=6))
    assert len(list(generate(0))) == 0


def test_records_are_valid_and_varied() -> None:
    records = list(generate(2000, seed=1))
    assert all(isinstance(r, Record) and r.display_name != "(no name)" for r in records)
    emails = Counter(len(r.emails) for r in records)
    assert set(emails) == {0, 1, 2, 3}
    for spec in FIELDS:  # every field is filled somewhere and missing somewhere
        filled = sum(1 for r in records if getattr(r, spec.name) not in ("", None, ()))
        assert 0 < filled < len(records), spec.name
    countries = {r.business_country for r in records} | {r.home_country for r in records}
    assert len(countries) >= 6
    assert len({r.mobile_phone[:3] for r in records if r.mobile_phone}) >= 5
    for r in records:
        for e in r.emails:
            assert e.count("@") == 1 and " " not in e


def test_names_have_diacritics() -> None:
    names = [r.last_name + r.first_name for r in generate(500, seed=2)]
    accented = [n for n in names if unicodedata.normalize("NFKD", n) != n or not n.isascii()]
    assert len(accented) > 50


def test_near_duplicates_exist() -> None:
    records = list(generate(3000, seed=3))
    exact = len(records) - len(set(records))
    by_email = Counter(normalise("email1", r.email1) for r in records if r.email1)
    # same address apart from case → same normalised e-mail on two different records
    case_twins = sum(1 for n in by_email.values() if n > 1)
    by_name = Counter((r.first_name, r.last_name, r.email1) for r in records)
    typo_twins = sum(
        1
        for r in records
        if r.email1
        and by_email[normalise("email1", r.email1)] > 1
        and by_name[(r.first_name, r.last_name, r.email1)] == 1
    )
    assert case_twins >= 20
    assert typo_twins >= 20
    assert exact < case_twins  # most duplicates differ a little, as real ones do
