"""Issue 15 item 6: a contact typed with every Outlook field (here: created through raw Graph
requests, as Outlook stores it) survives import, a change in the CRM and export with none of its
values lost; what no Person field holds is named in the run report and stays in Outlook.

Real HTTP on loopback against the Graph test server, the real PersonsDB on SQLite, the engine
as the CLI runs it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from graph_support import USER

from personsync.fields import FIELDS
from personsync.graph.testserver import GraphTestServer
from personsync.model import Record
from personsync.persons.repo import PersonsDB
from personsync.sync import engine
from personsync.sync.options import RunOptions

FOLDER = "graph:Contacts"
USER_FIELD_1 = "String {00062004-0000-0000-C000-000000000046} Id 0x804F"

# Every phone Outlook has beyond the contact resource's own, by MAPI property.
EXT_PHONES = {
    "business_fax": "0x3A24",
    "other_phone": "0x3A1F",
    "home_fax": "0x3A25",
    "other_fax": "0x3A23",
    "primary_phone": "0x3A1A",
    "company_main_phone": "0x3A57",
    "assistant_phone": "0x3A2E",
    "callback_phone": "0x3A02",
    "car_phone": "0x3A1E",
    "isdn": "0x3A2D",
    "pager": "0x3A21",
    "radio_phone": "0x3A1D",
    "telex": "0x3A2C",
    "tty_phone": "0x3A4B",
}
PHONES = {name: f"+1 212 555 01{i:02d}" for i, name in enumerate(EXT_PHONES)}

OUTLOOK_CONTACT: dict[str, Any] = {
    "title": "Dr.",
    "givenName": "Ann",
    "middleName": "B.",
    "surname": "Lee",
    "generation": "Jr.",
    "initials": "A.B.L.",
    "nickName": "Annie",
    "displayName": "Ann B. Lee",
    "fileAs": "Lee, Ann",
    "yomiGivenName": "アン",
    "yomiSurname": "リー",
    "yomiCompanyName": "アクメ",
    "jobTitle": "CTO",
    "companyName": "Acme",
    "department": "R&D",
    "officeLocation": "Building 4, room 12",
    "profession": "Engineer",
    "manager": "Bo Chen",
    "assistantName": "Cy Diaz",
    "spouseName": "Dee Lee",
    "children": ["Eve", "Fay"],
    "personalNotes": "Met at the fair.\nPrefers tea.",
    "businessHomePage": "https://acme.example",
    "birthday": "1980-02-29T00:00:00Z",
    "categories": ["VIP", "Board"],
    "emailAddresses": [
        {"address": "ann@acme.example", "name": "Ann Lee (work)"},
        {"address": "ann@home.example", "name": "Ann at home"},
        {"address": "a.lee@x.example", "name": "a.lee@x.example"},
    ],
    "imAddresses": ["ann@im.example", "sip:ann@acme.example", "xmpp:ann@jabber.example"],
    "businessPhones": ["+1 212 555 0001", "+1 212 555 0002"],
    "homePhones": ["+1 212 555 0003", "+1 212 555 0004"],
    "mobilePhone": "+1 212 555 0005",
    "businessAddress": {
        "street": "1 Main St\nSuite 2",
        "city": "New York",
        "state": "NY",
        "postalCode": "10001",
        "countryOrRegion": "USA",
    },
    "homeAddress": {
        "street": "9 Elm St",
        "city": "Boston",
        "state": "MA",
        "postalCode": "02101",
        "countryOrRegion": "USA",
    },
    "otherAddress": {
        "street": "3 Rue X",
        "city": "Paris",
        "state": "IDF",
        "postalCode": "75001",
        "countryOrRegion": "France",
    },
    "singleValueExtendedProperties": [
        *({"id": f"String {tag}", "value": PHONES[name]} for name, tag in EXT_PHONES.items()),
        {"id": "SystemTime 0x3A41", "value": "2005-06-01T00:00:00Z"},  # anniversary
        # Fields no Person holds: reported as not synced, and left alone in Outlook.
        {"id": "String 0x3A43", "value": "Sailing"},  # hobbies
        {"id": USER_FIELD_1, "value": "Member #7"},
    ],
}

EXPECTED = Record(
    prefix="Dr.",
    first_name="Ann",
    middle_name="B.",
    last_name="Lee",
    suffix="Jr.",
    nickname="Annie",
    initials="A.B.L.",
    file_as="Lee, Ann",
    yomi_first_name="アン",
    yomi_last_name="リー",
    yomi_company="アクメ",
    job_title="CTO",
    company="Acme",
    department="R&D",
    office_location="Building 4, room 12",
    profession="Engineer",
    manager="Bo Chen",
    assistant_name="Cy Diaz",
    spouse_name="Dee Lee",
    children=("Eve", "Fay"),
    notes="Met at the fair.\nPrefers tea.",
    web_page="https://acme.example",
    birthday=date(1980, 2, 29),
    anniversary=date(2005, 6, 1),
    categories=("VIP", "Board"),
    email1="ann@acme.example",
    email2="ann@home.example",
    email3="a.lee@x.example",
    im_address="ann@im.example",
    im_address2="sip:ann@acme.example",
    im_address3="xmpp:ann@jabber.example",
    business_phone="+1 212 555 0001",
    business_phone2="+1 212 555 0002",
    home_phone="+1 212 555 0003",
    home_phone2="+1 212 555 0004",
    mobile_phone="+1 212 555 0005",
    business_street="1 Main St\nSuite 2",
    business_city="New York",
    business_state="NY",
    business_postal_code="10001",
    business_country="USA",
    home_street="9 Elm St",
    home_city="Boston",
    home_state="MA",
    home_postal_code="02101",
    home_country="USA",
    other_street="3 Rue X",
    other_city="Paris",
    other_state="IDF",
    other_postal_code="75001",
    other_country="France",
    **PHONES,
)


def _client(server: GraphTestServer) -> httpx.Client:
    token = server.token_for(USER)
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=server.graph_url, headers=headers, timeout=10)


def _read(c: httpx.Client, item_id: str) -> dict[str, Any]:
    r = c.get(f"/me/contacts/{item_id}", params={"$expand": "singleValueExtendedProperties"})
    assert r.status_code == 200, r.text
    item: dict[str, Any] = r.json()
    return item


def _ext(item: dict[str, Any]) -> dict[str, Any]:
    return {p["id"].casefold(): p["value"] for p in item["singleValueExtendedProperties"]}


def test_expected_record_fills_every_field() -> None:
    # The test below covers the whole table only while this holds.
    assert all(getattr(EXPECTED, spec.name) not in ("", None, ()) for spec in FIELDS)


def test_every_outlook_field_survives_import_a_crm_change_and_export(
    server: GraphTestServer, signed_in_db: PersonsDB
) -> None:
    db = signed_in_db
    with _client(server) as c:
        r = c.post("/me/contacts", json=OUTLOOK_CONTACT)
        assert r.status_code == 201, r.text
        item_id = r.json()["id"]
        typed = _read(c, item_id)

    imported = engine.run(db, FOLDER, "import", options=RunOptions(yes=True))
    (person,) = db.iter_persons()
    assert person.record == EXPECTED
    assert imported.report is not None
    warnings = imported.report.warnings
    assert any("Hobbies 'Sailing': not synced" in w for w in warnings), warnings
    assert any("User field 1 'Member #7': not synced" in w for w in warnings), warnings
    assert len(warnings) == 2, warnings  # everything else was synced

    # A change in the CRM: two fields Outlook has beyond the old table, one of them cleared.
    db.update(person.id, {"pager": "+1 646 555 0199", "manager": "", "children": ("Eve",)})
    exported = engine.run(db, FOLDER, "export", options=RunOptions(yes=True))
    assert exported.plan.counts().get("update-contact") == 1

    with _client(server) as c:
        after = _read(c, item_id)
    changed = {"manager", "children", "changeKey", "@odata.etag", "lastModifiedDateTime"}
    for key, value in typed.items():
        if key not in changed and key != "singleValueExtendedProperties":
            assert after[key] == value, key  # e-mail display names and all
    assert after["manager"] in (None, "") and after["children"] == ["Eve"]
    ext_before, ext_after = _ext(typed), _ext(after)
    assert ext_after.pop("string 0x3a21") == "+1 646 555 0199"
    ext_before.pop("string 0x3a21")
    customer_id = ext_after.pop("string 0x3a4a")
    assert customer_id == str(person.id)
    assert ext_after == ext_before  # the other phones, the anniversary, hobbies, user field 1

    # And back: a second import finds nothing to change, so nothing was lost on the way.
    again = engine.run(db, FOLDER, "import", options=RunOptions(yes=True))
    assert again.plan.changes() == 0
    assert db.get(person.id).record == EXPECTED.replace(
        {"pager": "+1 646 555 0199", "manager": "", "children": ("Eve",)}
    )
