"""Write → read gives the same record, in 2.1, 3.0 and 4.0, whatever the text holds.

"Same" after the normalisation a vCard implies: line breaks come back as LF, single-line values
lose outer whitespace, a value of only whitespace is empty, categories are stripped and
de-duplicated. Everything else — commas, semicolons, colons, backslashes, line breaks inside
values, unicode — must come back exactly, slot by slot.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personsync.errors import FormatError
from personsync.fields import FIELDS
from personsync.formats.vcard import read_cards, write_card
from personsync.model import Contact, Record, Value

TRICKY = ',;:\\\n\r\t "=é€😀'
text = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs", "Cc")),
        st.sampled_from(list(TRICKY)),
    ),
    max_size=30,
)
dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
category = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=",;"),
    min_size=1,
    max_size=12,
)


def _strategy(kind: str) -> st.SearchStrategy[Any]:
    if kind == "date":
        return st.none() | dates
    if kind == "list":
        return st.lists(category, max_size=4).map(tuple)
    return st.just("") | text


records = st.fixed_dictionaries({f.name: _strategy(f.kind) for f in FIELDS}).map(
    lambda values: Record(**values)
)


def _lf(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n")


def expected(record: Record) -> Record:
    out: dict[str, Value] = {}
    for spec in FIELDS:
        value = getattr(record, spec.name)
        if isinstance(value, str):
            value = _lf(value)
            value = (value if value.strip() else "") if spec.kind == "multiline" else value.strip()
        elif isinstance(value, tuple):
            value = tuple(dict.fromkeys(c for c in (_lf(c).strip() for c in value) if c))
        out[spec.name] = value
    return Record(**out)  # type: ignore[arg-type]


def roundtrip(contact: Contact, version: str) -> Contact | FormatError:
    (got,) = read_cards(write_card(contact, version), "test.vcf")
    return got


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=records, customer_id=st.just("") | text, uid=st.just("") | text)
def test_every_version_round_trips(record: Record, customer_id: str, uid: str) -> None:
    want = expected(record)
    for version in ("2.1", "3.0", "4.0"):
        contact = Contact(record, item_id=uid, customer_id=customer_id)
        got = roundtrip(contact, version)
        if want == Record() and not customer_id.strip():
            assert isinstance(got, FormatError)  # nothing personsync could use
            continue
        assert isinstance(got, Contact), got
        assert got.record == want, (version, write_card(contact, version))
        assert got.customer_id == _lf(customer_id).strip()
        assert got.item_id == _lf(uid).strip()
        # Reading back what was read and writing it again changes nothing.
        again = roundtrip(got, version)
        assert isinstance(again, Contact) and again.record == want


def test_slots_keep_their_place_with_gaps() -> None:
    record = Record(first_name="A", email2="two@x.org", email3="three@x.org", business_phone2="2")
    for version in ("2.1", "3.0", "4.0"):
        got = roundtrip(Contact(record), version)
        assert isinstance(got, Contact) and got.record == record


def test_values_beyond_the_slots_are_reported_and_kept() -> None:
    card = (
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;Ann;;;\r\nFN:Ann Doe\r\n"
        b"EMAIL;TYPE=internet:a@x.org\r\nEMAIL;TYPE=internet:b@x.org\r\n"
        b"EMAIL;TYPE=internet,pref:p@x.org\r\nEMAIL:d@x.org\r\n"
        b"TEL;TYPE=cell:111\r\nTEL;TYPE=cell:222\r\nTEL;TYPE=home:333\r\nTEL;TYPE=home:444\r\n"
        b"TEL;TYPE=x-unknown:555\r\nTEL;TYPE=car:666\r\nTEL;TYPE=car:777\r\n"
        b"ADR;TYPE=work:;;1 Main;X;;;\r\nADR;TYPE=work:;;2 Side;Y;;;\r\n"
        b"ADR:;;3 Other;Z;;;\r\nADR;TYPE=home:;;4 Home;W;;;\r\n"
        b"X-CUSTOM;X-PARAM=1:keep me\\, please\r\nEND:VCARD\r\n"
    )
    (c,) = read_cards(card, "x.vcf")
    assert isinstance(c, Contact)
    r = c.record
    assert (r.email1, r.email2, r.email3) == ("p@x.org", "a@x.org", "b@x.org")  # PREF first
    assert (r.mobile_phone, r.home_phone, r.home_phone2) == ("111", "333", "444")
    assert (r.other_phone, r.car_phone) == ("555", "666")
    assert (r.business_street, r.other_street, r.home_street) == ("1 Main", "2 Side", "4 Home")
    assert "4th e-mail d@x.org: Outlook holds 3" in c.unmapped
    assert any("222" in m for m in c.unmapped) and any("777" in m for m in c.unmapped)
    assert any("3 Other" in m for m in c.unmapped)
    for version in ("2.1", "3.0", "4.0"):
        out = write_card(c, version)
        (back,) = read_cards(out, "y.vcf")
        assert isinstance(back, Contact) and back.record == r
        assert back.unmapped == c.unmapped, version
        assert b"d@x.org" in out and b"222" in out and b"777" in out and b"3 Other" in out
        assert (b"keep me, please" if version == "2.1" else b"keep me\\, please") in out


def test_derived_lines_follow_their_source() -> None:
    card = (
        b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:Doe;John;;Mr.;\r\nFN:Mr. John Doe\r\n"
        b"ADR;WORK:;;1 Main St;Austin;TX;;\r\n"
        b"LABEL;WORK;ENCODING=QUOTED-PRINTABLE:1 Main St=0D=0AAustin, TX\r\nEND:VCARD\r\n"
    )
    (c,) = read_cards(card, "x.vcf")
    assert isinstance(c, Contact)
    assert b"FN:Mr. John Doe" in write_card(c, "2.1") and b"LABEL" in write_card(c, "2.1")
    moved = dataclasses.replace(c, record=c.record.replace({"business_city": "Dallas"}))
    assert b"LABEL" not in write_card(moved, "3.0")  # stale label dropped
    renamed = dataclasses.replace(c, record=c.record.replace({"first_name": "Jon"}))
    assert b"FN:Jon Doe" in write_card(renamed, "3.0")


def test_writer_rules_per_version() -> None:
    record = Record(
        first_name="Zoë",
        last_name="Doe, Jr; \\x",
        company="Company, The",
        notes="line 1\nline 2 " + "long " * 30,
        categories=("Blue", "Red"),
        birthday=date(1980, 3, 22),
        anniversary=date(2011, 1, 13),
    )
    c = Contact(record, item_id="uid-1", customer_id="42")
    v3 = write_card(c, "3.0")
    assert v3.startswith(b"BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:")
    assert b"N:Doe\\, Jr\\; \\\\x;Zo\xc3\xab;;;" in v3 and b"ORG:Company\\, The" in v3
    assert b"BDAY:1980-03-22" in v3 and b"X-ANNIVERSARY:2011-01-13" in v3
    assert b"UID:uid-1" in v3 and b"X-PERSONSYNC-CUSTOMER-ID:42" in v3
    assert b"CATEGORIES:Blue,Red" in v3
    assert all(len(line) <= 75 for line in v3.split(b"\r\n"))
    assert b"\n" not in v3.replace(b"\r\n", b"")
    v4 = write_card(c, "4.0")
    assert b"ANNIVERSARY:20110113" in v4 and b"BDAY:19800322" in v4
    v21 = write_card(c, "2.1")
    assert b"PRODID" not in v21 and b"ORG:Company, The" in v21  # no backslash before commas
    assert b"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Doe, Jr\\; \\\\x;Zo=C3=AB;;;" in v21
    assert b"X-MS-ANNIVERSARY:20110113" in v21 and b"=0D=0A" in v21
    assert all(len(line) <= 76 for line in v21.split(b"\r\n"))


def test_folding_never_splits_a_character() -> None:
    record = Record(first_name="€" * 100, notes="😀" * 60)
    data = write_card(Contact(record), "3.0")
    for line in data.split(b"\r\n"):
        assert len(line) <= 75
        line.decode("utf-8")  # each physical line is whole UTF-8
    (c,) = read_cards(data, "x")
    assert isinstance(c, Contact) and c.record == record


def test_groups_and_lowercase_and_lf() -> None:
    card = (
        b"begin:vcard\nversion:3.0\nn:Doe;Ann;;;\nfn:Ann Doe\n"
        b"item1.email;type=internet:ann@x.org\nitem1.X-ABLabel:Private\n"
        b"tel;type=work;type=voice:1\n\tx\nend:vcard\n"
    )
    (c,) = read_cards(card, "x")
    assert isinstance(c, Contact)
    assert c.record.email1 == "ann@x.org" and c.record.business_phone == "1x"
    out = write_card(c, "3.0")
    assert b"item1.EMAIL" in out and b"item1.X-ABLABEL:Private" in out
