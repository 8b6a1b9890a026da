"""Other implementations read what personsync writes: vobject parses it with the same values, and
Radicale (a real CardDAV server) accepts it by PUT."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
import radicale
import radicale.config
import vobject

from personsync.formats.vcard import read_cards, write_card
from personsync.model import Contact, Record

TRICKY = [
    Record(
        prefix="Dr.",
        first_name="Zoë",
        middle_name="Ann, Marie",
        last_name="O'Neil; Smith",
        suffix="Jr.",
        nickname="Z\\Z",
        company="Company, The",
        department="R&D; Labs",
        job_title="Head: Research",
        email1="zoe@example.org",
        email2="z.oneil@example.com",
        business_phone="+1 212 555 0100",
        mobile_phone="+44 7700 900123",
        home_phone="(020) 7946 0000",
        business_street="1 Main St\nFloor 2",
        business_city="New York",
        business_state="NY",
        business_postal_code="10001",
        business_country="USA",
        home_street="Straße 5",
        home_city="München",
        birthday=date(1980, 3, 22),
        web_page="https://example.org/zoe",
        notes="Line one, with comma; and semicolon\nLine two: colon \\ backslash\n" + "€" * 80,
        categories=("VIP", "Kunden"),
    ),
    Record(first_name="李", last_name="小龍", notes="😀" * 40, email1="li@example.cn"),
    Record(company="Only A Company, Inc.", business_fax="+1 212 555 0199"),
]


def _vobject_values(card: bytes) -> dict[str, object]:
    (v,) = list(vobject.readComponents(card.decode("utf-8")))
    n = v.n.value
    out: dict[str, object] = {
        "last_name": n.family,
        "first_name": n.given,
        "fn": v.fn.value,
        "emails": [e.value for e in v.contents.get("email", [])],
        "tels": sorted(t.value for t in v.contents.get("tel", [])),
    }
    if "note" in v.contents:
        out["notes"] = v.note.value
    if "org" in v.contents:
        out["org"] = v.org.value
    if "categories" in v.contents:
        out["categories"] = v.categories.value
    if "adr" in v.contents:
        out["streets"] = sorted(a.value.street for a in v.contents["adr"])
    return out


def _joined(value: object) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)


@pytest.mark.parametrize("version", ["3.0", "4.0"])
@pytest.mark.parametrize("record", TRICKY, ids=["tricky", "cjk", "company"])
def test_vobject_reads_the_same_values(record: Record, version: str) -> None:
    card = write_card(Contact(record, item_id="uid-1", customer_id="7"), version)
    got = _vobject_values(card)
    assert _joined(got["last_name"]) == record.last_name
    assert _joined(got["first_name"]) == record.first_name
    assert got["fn"] == record.display_name
    assert got["emails"] == list(record.emails)
    phones = [record.business_phone, record.mobile_phone, record.home_phone, record.business_fax]
    assert got["tels"] == sorted(p for p in phones if p)
    assert got.get("notes", "") == record.notes
    if record.company:
        assert got["org"] == [p for p in (record.company, record.department) if p]
    assert list(got.get("categories", [])) == list(record.categories)
    streets = [record.business_street, record.home_street, record.other_street]
    assert got.get("streets", []) == sorted(s for s in streets if s)
    # …and personsync reads its own card back to the same record.
    (again,) = read_cards(card, "x.vcf")
    assert isinstance(again, Contact) and again.record == record


@pytest.fixture
def carddav(tmp_path: Path) -> Iterator[httpx.Client]:
    conf = radicale.config.load()
    collections = {"contacts": {"tag": "VADDRESSBOOK", "D:displayname": "Contacts"}}
    conf.update(
        {
            "auth": {"type": "none"},
            "rights": {"type": "owner_only"},
            "storage": {
                "filesystem_folder": str(tmp_path / "radicale"),
                "predefined_collections": json.dumps(collections),
            },
        },
        "test",
        privileged=True,
    )
    app = radicale.Application(conf)
    with httpx.Client(
        transport=httpx.WSGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://radicale.test",
        auth=("alice", "x"),
    ) as client:
        client.request("PROPFIND", "/alice/", headers={"Depth": "1"})  # creates the principal
        yield client


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_radicale_accepts_personsync_cards(carddav: httpx.Client, version: str) -> None:
    books = carddav.request("PROPFIND", "/alice/", headers={"Depth": "1"}).text
    assert "contacts" in books
    for i, record in enumerate(TRICKY):
        uid = f"card-{version}-{i}"
        card = write_card(Contact(record, item_id=uid), version)
        put = carddav.put(
            f"/alice/contacts/{uid}.vcf",
            content=card,
            headers={"Content-Type": "text/vcard; charset=utf-8", "If-None-Match": "*"},
        )
        assert put.status_code in (201, 204), put.text
        stored = carddav.get(f"/alice/contacts/{uid}.vcf")
        assert stored.status_code == 200
        (back,) = read_cards(stored.content, uid)  # Radicale may rewrite it; values stay
        assert isinstance(back, Contact) and back.record == record and back.item_id == uid


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_list_fields_of_x_properties_survive_vobject(version: str) -> None:
    # vobject (and so Radicale) keeps only the first of comma-separated values in an X-
    # property: each value is written on a line of its own.
    record = Record(first_name="A", children=("Kundé", "VIP: gold", "a,b"), categories=("x,y", "z"))
    again = vobject.readOne(write_card(Contact(record), version, uid="u1").decode()).serialize()
    (back,) = read_cards(again.encode(), "again.vcf")
    assert back.record.children == record.children
    assert back.record.categories == record.categories
