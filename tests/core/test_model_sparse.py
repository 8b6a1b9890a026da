"""Records read from contact folders keep only their set values (`model._Sparse`), and behave in
every other way as Records: equal values are equal Records with equal hashes, either way round."""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
import sys
from datetime import date
from typing import Any

import pytest

from held import held
from personsync.fields import FIELD_NAMES
from personsync.model import (
    Record,
    diff,
    field_values,
    record_from,
    record_of,
    share_unpickled,
)

# A contact as Outlook holds one: 12 of the 65 fields set, a date and categories among them.
ANN: dict[str, Any] = {
    "first_name": "Ann",
    "last_name": "Lee",
    "job_title": "CEO",
    "company": "Acme",
    "email1": "ann@acme.example",
    "mobile_phone": "+44 7700 900001",
    "business_street": "2 High St\nFloor 3",
    "business_city": "Berlin",
    "business_country": "Germany",
    "birthday": date(1980, 3, 22),
    "web_page": "https://acme.example/ann",
    "categories": ("Customer", "Berlin"),
}
SET_AT = bytes(i for i, name in enumerate(FIELD_NAMES) if name in ANN)


def test_a_record_read_from_a_folder_keeps_only_its_set_values() -> None:
    read = record_from(ANN)
    full = record_of(field_values(read))
    assert field_values(read) == field_values(full)
    # One tuple: the set values as given (ANN's are in field order), then their fields.
    stored = held(read)
    assert stored == (*(ANN[n] for n in FIELD_NAMES if n in ANN), SET_AT)
    # 13 pointers and 12 bytes, not 65 pointers: 100,000 such contacts hold 35 MB less.
    size = sys.getsizeof(read) + sys.getsizeof(stored) + sys.getsizeof(SET_AT)
    assert size + 350 < sys.getsizeof(full) + sys.getsizeof(field_values(full))
    assert held(record_from({"first_name": "Cy"})) == (
        "Cy",
        bytes([FIELD_NAMES.index("first_name")]),
    )
    # A name that is no field is ignored, as ever.
    assert record_from({"first_name": "Cy", "no such field": "x"}) == Record(first_name="Cy")
    # Mostly full: a plain Record (as small, and read faster).
    most = {n: "x" for n in FIELD_NAMES[:40]}
    assert held(record_from(most)) == field_values(Record(**most))


def test_each_field_reads_as_it_was_given_set_or_not() -> None:
    read = record_from(ANN)
    for name in FIELD_NAMES:
        assert getattr(read, name) == ANN.get(name, getattr(Record(), name)), name
    assert read.birthday == date(1980, 3, 22) and read.anniversary is None
    assert read.children == () and read.notes == "" and read.categories == ("Customer", "Berlin")
    assert read.display_name == "Ann Lee" and read.emails == ("ann@acme.example",)
    assert read.non_empty() == ANN and read.values() == Record(**ANN).values()
    # An empty value, whichever object it is, is not kept: equal Records are held alike.
    empty = "Ann"[3:] + "".join([])
    assert record_from({"first_name": "Ann", "nickname": empty}).nickname == ""
    assert record_from({"first_name": "Ann", "nickname": empty}) == Record(first_name="Ann")
    assert held(record_from({"first_name": "Ann", "nickname": empty})) == held(
        record_from({"first_name": "Ann"})
    )


def test_equal_values_are_equal_records_with_equal_hashes_in_either_representation() -> None:
    read, full = record_from(ANN), Record(**ANN)
    assert type(read) is not type(full)  # two representations, one meaning
    assert read == full and full == read
    assert not read != full and not full != read  # noqa: SIM202 (both operators)
    assert hash(read) == hash(full)
    assert read == record_from(dict(ANN)) and hash(read) == hash(record_from(dict(ANN)))
    # The same values given in another order (a card's lines in another order).
    backwards = record_from(dict(reversed(ANN.items())))
    assert held(backwards) != held(read)
    assert backwards == read and read == backwards and hash(backwards) == hash(read)
    assert backwards != record_from({**dict(reversed(ANN.items())), "company": "X"})
    assert {read: "a"}[full] == "a" and {full: "b"}[read] == "b"
    assert len({read, full, record_from(ANN)}) == 1
    # Unequal: another value in a set field, another field set, a field emptied.
    for changed in ({"company": "Umbrella"}, {"department": "Sales"}, {"company": ""}):
        other = record_from({**ANN, **changed})
        assert other != read and read != other and other != full and full != other
        assert hash(other) != hash(read)
        assert other == full.replace(changed) and hash(other) == hash(full.replace(changed))
    assert read != "Ann" and read != field_values(full)


def test_a_sparse_record_works_wherever_a_record_does() -> None:
    read = record_from(ANN)
    assert diff(read, read) == {} and diff(read, Record(**ANN)) == {}
    assert diff(read, Record(**{**ANN, "company": "X"})) == {"company": ("Acme", "X")}
    assert read.replace({"company": "X"}) == Record(**{**ANN, "company": "X"})
    assert record_of(field_values(read)) == read
    assert repr(read) == repr(Record(**ANN))
    assert dataclasses.asdict(read) == dataclasses.asdict(Record(**ANN))
    assert [f.name for f in dataclasses.fields(read)] == list(FIELD_NAMES)
    changed = dataclasses.replace(read, company="X")
    assert changed == Record(**{**ANN, "company": "X"}) and changed.first_name == "Ann"
    assert copy.copy(read) == read and copy.deepcopy(read) == read
    with pytest.raises(dataclasses.FrozenInstanceError):
        read.company = "X"  # type: ignore[misc]
    assert read.company == "Acme"


def test_a_sparse_record_crosses_a_pipe_as_it_is_and_its_values_are_shared_again() -> None:
    # The vCard helper process pickles its contacts' Records (stores/card_reader.py).
    sent = [record_from({**ANN, "first_name": f"Ann {i}"}) for i in range(3)]
    data = pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL)
    # The set values only: smaller than the same Records in full.
    full = [record_of(field_values(r)) for r in sent]
    assert len(data) + 3 * 60 < len(pickle.dumps(full, protocol=pickle.HIGHEST_PROTOCOL))
    back = pickle.loads(data)
    assert back == sent and [hash(r) for r in back] == [hash(r) for r in sent]
    assert [held(r) for r in back] == [held(r) for r in sent]
    seen: dict[Any, Any] = {}
    for r in back:
        share_unpickled(r, seen)
    assert back == sent
    assert all(r.company is seen["Acme"] and r.categories[0] is seen["Customer"] for r in back)
    assert len({id(r.first_name) for r in back}) == 3


def test_the_collector_walks_a_sparse_record_s_values_as_one_untracked_tuple() -> None:
    records = [record_from({**ANN, "first_name": f"Ann {i}"}) for i in range(50)]
    # Twice: a tuple whose inner tuple (categories) comes later in the collector's list is
    # let go at the next collection, once that inner one was.
    gc.collect()
    gc.collect()
    for record in records:
        stored = held(record)
        assert type(stored) is tuple and len(stored) == len(ANN) + 1
        assert not gc.is_tracked(stored)
