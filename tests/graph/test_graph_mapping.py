"""Record ⇄ Graph JSON: shapes of the real service, whole lists and addresses, unmapped values."""

from __future__ import annotations

from datetime import date

from personsync.fields import FIELDS
from personsync.graph import mapping
from personsync.model import Contact, Record

FULL = Record(
    prefix="Dr.",
    first_name="Ann",
    middle_name="B.",
    last_name="Lee",
    suffix="Jr.",
    nickname="Annie",
    job_title="CTO",
    company="Acme",
    department="R&D",
    email1="ann@acme.org",
    email2="ann@home.org",
    email3="a.lee@x.org",
    business_phone="+1 212 555 0100",
    business_phone2="+1 212 555 0101",
    home_phone="+1 212 555 0102",
    mobile_phone="+1 212 555 0103",
    business_fax="+1 212 555 0104",
    other_phone="+1 212 555 0105",
    business_street="1 Main St\nSuite 2",
    business_city="New York",
    business_state="NY",
    business_postal_code="10001",
    business_country="USA",
    home_city="Boston",
    other_country="France",
    birthday=date(1980, 2, 29),
    anniversary=date(2005, 6, 1),
    web_page="https://acme.org",
    notes="line 1\nline 2",
    categories=("VIP", "Board"),
    initials="A.B.L.",
    file_as="Lee, Ann",
    yomi_first_name="アン",
    yomi_last_name="リー",
    yomi_company="アクメ",
    profession="Engineer",
    office_location="Building 4",
    manager="Bo Chen",
    assistant_name="Cy Diaz",
    im_address="ann@im.example",
    im_address2="sip:ann@acme.org",
    im_address3="xmpp:ann@jabber.example",
    home_phone2="+1 212 555 0106",
    home_fax="+1 212 555 0107",
    other_fax="+1 212 555 0108",
    primary_phone="+1 212 555 0109",
    company_main_phone="+1 212 555 0110",
    assistant_phone="+1 212 555 0111",
    callback_phone="+1 212 555 0112",
    car_phone="+1 212 555 0113",
    isdn="+1 212 555 0114",
    pager="+1 212 555 0115",
    radio_phone="+1 212 555 0116",
    telex="+1 212 555 0117",
    tty_phone="+1 212 555 0118",
    spouse_name="Dee Lee",
    children=("Eve", "Fay"),
)


def _lower_tag(prop_id: str) -> str:
    kind, _, tag = prop_id.partition(" ")
    return f"{kind} {tag.lower()}"


def _as_read_back(body: dict[str, object]) -> dict[str, object]:
    """What the service answers for a created contact: ids lower-cased, birthday at 11:59Z."""
    out = dict(body)
    props = body.get("singleValueExtendedProperties") or []
    out["singleValueExtendedProperties"] = [
        {"id": _lower_tag(p["id"]), "value": p["value"]}
        for p in props  # type: ignore[attr-defined]
    ]
    out.update(id="AAMk1", changeKey="ck1")
    return out


def test_every_field_survives_a_round_trip() -> None:
    body = mapping.create_body(Contact(FULL, customer_id="42"))
    back = mapping.contact_from_graph(_as_read_back(body))
    assert back.record == FULL
    assert back.customer_id == "42"
    assert back.version == "ck1"
    assert body["title"] == "Dr."  # the honorific, not the job title
    assert body["jobTitle"] == "CTO"
    assert body["birthday"] == "1980-02-29T11:59:00Z"


def test_every_mapped_field_is_covered_by_the_table() -> None:
    body = mapping.create_body(Contact(FULL))
    ext = {p["id"] for p in body["singleValueExtendedProperties"]}
    for spec in FIELDS:
        if spec.graph.startswith("ext:"):
            assert spec.graph[4:] in ext
        else:
            assert spec.graph.split("[")[0].split(".")[0] in body


def test_real_shapes_null_empty_string_and_empty_address_read_as_empty() -> None:
    item = {
        "id": "x",
        "changeKey": "c",
        "givenName": "",
        "surname": None,
        "businessAddress": {},
        "homeAddress": {"city": None},
        "emailAddresses": [],
        "categories": [],
        "birthday": None,
        "singleValueExtendedProperties": [{"id": "String 0x3a4a", "value": "7"}],
    }
    got = mapping.contact_from_graph(item)
    assert got.record == Record()
    assert got.customer_id == "7"  # the id came back lower-cased


def test_values_beyond_the_slots_are_reported_and_kept_on_update() -> None:
    item = {
        "id": "x",
        "changeKey": "c",
        "emailAddresses": [{"address": f"a{i}@x.org", "name": f"Name {i}"} for i in range(4)],
        "homePhones": ["1", "2", "3"],
    }
    got = mapping.contact_from_graph(item)
    assert got.record.email3 == "a2@x.org"
    assert (got.record.home_phone, got.record.home_phone2) == ("1", "2")
    assert any("a3@x.org" in m for m in got.unmapped)
    assert any("homePhones: 3" in m for m in got.unmapped)
    new = Contact(got.record.replace({"email1": "new@x.org"}), customer_id="")
    body = mapping.patch_body(got, new)
    emails = body["emailAddresses"]
    assert [e["address"] for e in emails] == ["new@x.org", "a1@x.org", "a2@x.org", "a3@x.org"]
    assert emails[1]["name"] == "Name 1"  # names of untouched addresses are kept
    assert set(body) == {"emailAddresses"}


def test_patch_sends_only_changed_properties_addresses_whole() -> None:
    old = mapping.contact_from_graph(
        _as_read_back(mapping.create_body(Contact(FULL, customer_id="42")))
    )
    new = Contact(old.record.replace({"business_city": "Albany", "business_fax": ""}), "", "", "42")
    body = mapping.patch_body(old, new)
    assert set(body) == {"businessAddress", "singleValueExtendedProperties"}
    assert body["businessAddress"] == {
        "street": "1 Main St\nSuite 2",
        "city": "Albany",
        "state": "NY",
        "postalCode": "10001",
        "countryOrRegion": "USA",
    }
    assert body["singleValueExtendedProperties"] == [{"id": "String 0x3A24", "value": ""}]


def test_no_change_means_empty_patch_even_when_formatting_differs() -> None:
    old = Contact(Record(email1="Ann@X.org", business_phone="(212) 555-0100"), "i", "v", "1")
    new = Contact(Record(email1="ann@x.org", business_phone="+1 212-555-0100"), "", "", "1")
    assert mapping.patch_body(old, new) == {}


def test_customer_id_change_is_sent_as_extended_property() -> None:
    old = Contact(Record(first_name="A"), "i", "v", "1")
    new = Contact(Record(first_name="A"), "", "", "2")
    assert mapping.patch_body(old, new) == {
        "singleValueExtendedProperties": [{"id": "String 0x3A4A", "value": "2"}]
    }


def test_customer_id_filter_quotes_apostrophes() -> None:
    text = mapping.customer_id_filter("o'neil")
    assert "ep/value eq 'o''neil'" in text


def test_a_contact_read_from_graph_keeps_only_its_set_values() -> None:
    # 100,000 contacts of a first sync held 400 bytes each of pointers to empty values.
    from held import assert_holds_its_set_values_only, held

    item = {
        "id": "x",
        "changeKey": "c",
        "givenName": "Ann",
        "surname": "Lee",
        "emailAddresses": [{"address": "ann@acme.org", "name": "Ann"}],
        "birthday": "1980-02-29T11:59:00Z",
        "categories": ["VIP"],
    }
    got = mapping.contact_from_graph(item).record
    assert got == Record(
        first_name="Ann",
        last_name="Lee",
        email1="ann@acme.org",
        birthday=date(1980, 2, 29),
        categories=("VIP",),
    )
    assert_holds_its_set_values_only(got)
    assert len(held(got)) == 6  # the 5 set values, then their fields
