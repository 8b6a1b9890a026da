"""docs/fields.md is generated from the mapping table, and the table covers the Record."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from personsync import fields
from personsync.model import Record

DOC = Path(__file__).resolve().parents[1] / "docs" / "fields.md"


def test_docs_match_the_table() -> None:
    assert DOC.read_text(encoding="utf-8").startswith(fields.markdown_table()), (
        "docs/fields.md is out of date: regenerate its table with "
        "`.venv/bin/python -m personsync.fields docs/fields.md`"
    )


def test_every_record_field_is_in_the_table_and_vice_versa() -> None:
    record_fields = [f.name for f in dataclasses.fields(Record)]
    assert set(record_fields) == set(fields.BY_NAME)
    assert len(fields.FIELDS) == len(fields.BY_NAME)  # no name twice


def test_every_field_is_listed_in_the_docs() -> None:
    text = DOC.read_text(encoding="utf-8")
    for spec in fields.FIELDS:
        assert f"| `{spec.name}` |" in text
        for column in (spec.csv, *spec.csv_aliases):
            assert f"`{column}`" in text
