"""The JSON the engine writes for every record (link baselines, journal entries) is made
without the encoder (`record_json`, `written_json`): the same text as the encoder's, whatever
the values hold."""

from __future__ import annotations

import json
from datetime import date

import pytest

from personsync.model import Contact, Record
from personsync.persons.sample import generate
from personsync.sync.apply import contact_before, customer_id_before
from personsync.sync.values import (
    RawJson,
    dumps,
    loads,
    record_from_dict,
    record_json,
    record_to_dict,
    written_json,
)

ODD = [
    Record(),
    Record(
        first_name='Zoë "Z" \\ O\'Brien',
        last_name="tab\there\x00nul\x1f\u2028\u2029",
        notes="line 1\r\nline 2\n😀 \udcff lone surrogate",
        birthday=date(1999, 12, 31),
        anniversary=date(2001, 2, 3),
        children=("Ann", 'B"b'),
        categories=("VIP", "Ünïcode, with comma"),
        web_page="https://example.org/a?b=c&d=é",
    ),
    Record(categories=("only",)),  # the last field alone
    Record(prefix="first field alone"),
]


@pytest.mark.parametrize("record", [*ODD, *generate(300, 11)])
def test_a_records_json_is_the_encoders_text_and_reads_back(record: Record) -> None:
    text = record_json(record)
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    assert text == encoder.encode(record_to_dict(record))
    assert type(text) is str  # plain text: see RawJson
    assert record_from_dict(loads(text)) == record


def test_journal_befores_and_outcomes_are_the_encoders_text() -> None:
    record = ODD[1]
    contact = Contact(record, item_id='i"d\udcff', version="1-2-3", customer_id="42")
    full = {"record": record_to_dict(record), "version": "1-2-3", "customer_id": "42"}
    assert loads(dumps(contact_before(contact))) == full
    assert dumps(contact_before(contact)) == json.dumps(
        full, ensure_ascii=False, separators=(",", ":")
    )
    assert loads(dumps(contact_before(contact, "deleted"))) == {**full, "why": "deleted"}
    assert loads(dumps(customer_id_before(contact))) == {"version": "1-2-3", "customer_id": "42"}
    written = written_json('i"d\udcff', "9-8-7")
    assert isinstance(written, RawJson)
    assert dumps(written) == json.dumps(
        {"item_id": 'i"d\udcff', "version": "9-8-7"}, ensure_ascii=False, separators=(",", ":")
    )
    assert type(dumps(written)) is str
