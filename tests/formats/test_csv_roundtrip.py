"""Property: write → read gives back the same contacts, whatever the text holds."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personsync import fields
from personsync.formats import outlook_csv as codec
from personsync.model import Contact, Record

# The characters CSV, spreadsheets and Outlook trip over, plus any printable unicode.
TRICKY = st.sampled_from([*"=+-@'\t\r\n,;:\\\"", "\r\n", "é", "日", "€", "😀", " "])
TEXT = st.lists(
    st.one_of(TRICKY, st.text(st.characters(blacklist_categories=("Cs",)), max_size=4)),
    max_size=6,
).map("".join)
CATEGORY = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters=";,"), min_size=1
).filter(lambda c: c == c.strip() and c != "")
DATE = st.one_of(st.none(), st.dates())


def value_strategy(spec: fields.FieldSpec) -> st.SearchStrategy[Any]:
    if spec.kind == "date":
        return DATE
    if spec.kind == "list":
        return st.lists(CATEGORY, max_size=3).map(tuple)
    return TEXT


RECORDS = st.fixed_dictionaries({f.name: value_strategy(f) for f in fields.FIELDS}).map(
    lambda values: Record(**values)
)
IDS = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8).map(str.strip)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(RECORDS, min_size=1, max_size=3),
    customer_id=IDS,
    order=st.sampled_from(codec.DATE_ORDERS),
    encoding=st.sampled_from(["utf-8-sig", "utf-8"]),
)
def test_write_then_read_is_exact(
    records: list[Record], customer_id: str, order: codec.DateOrder, encoding: str
) -> None:
    contacts = [
        Contact(r, customer_id=customer_id, item_id=f"id{i}") for i, r in enumerate(records)
    ]
    data = codec.write(contacts, date_order=order, encoding=encoding)
    back = codec.read(data, date_order=order)
    assert all(isinstance(c, Contact) for c in back), back
    assert [c.record for c in back if isinstance(c, Contact)] == records
    assert [(c.customer_id, c.item_id) for c in back if isinstance(c, Contact)] == [
        (customer_id, f"id{i}") for i in range(len(records))
    ]


@settings(max_examples=100, deadline=None)
@given(extra=st.dictionaries(st.sampled_from(["Hobby", "Mileage", "Keywords", "User 1"]), TEXT))
def test_unknown_columns_round_trip(extra: dict[str, str]) -> None:
    kept = {k: v for k, v in extra.items() if v}
    data = codec.write([Contact(Record(first_name="Ann"), extra=kept)])
    (back,) = codec.read(data)
    assert isinstance(back, Contact) and back.extra == kept
