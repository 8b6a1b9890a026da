"""Real vCards written by Outlook (2003, 2007, a later version) and the RFC examples."""

from __future__ import annotations

from datetime import date

import pytest

from personsync.errors import FormatError
from personsync.formats.vcard import VCardExtra, read_cards, write_card
from personsync.model import Contact
from realworld import real_vcards

REAL = real_vcards()


def read(name: str) -> list[Contact]:
    got = list(read_cards((REAL / name).read_bytes(), name))
    assert all(isinstance(c, Contact) for c in got), got
    return [c for c in got if isinstance(c, Contact)]


def kept(contact: Contact) -> list[str]:
    assert isinstance(contact.extra, VCardExtra)
    return [p.name for p in contact.extra.properties]


def test_outlook_2003() -> None:
    (c,) = read("outlook-2003.vcf")
    r = c.record
    assert (r.prefix, r.first_name, r.middle_name, r.last_name, r.suffix) == (
        "Mr.", "John", "", "Doe", "III",
    )  # fmt: skip
    assert r.nickname == "Joey" and r.job_title == "The Job Title"
    assert (r.company, r.department) == ("Company, The", "TheDepartment")  # 2.1 comma is text
    assert r.notes == "This is the note field!!\nSecond line\n\nThird line is empty\n"
    assert r.business_phone == "BusinessPhone" and r.home_phone == "HomePhone"
    assert r.mobile_phone == "MobilePhone" and r.business_fax == "BusinessFaxPhone"
    assert r.business_street == "123 Main St" and r.business_city == "Austin"
    assert (r.business_state, r.business_postal_code) == ("TX", "12345")
    assert r.business_country == "United States of America"
    assert r.web_page == "http://web-page-address.com"
    assert r.birthday == date(1980, 3, 21)
    assert r.email1 == "jdoe@hotmail.com" and not r.email2
    assert c.item_id == "" and c.customer_id == ""
    # Outlook's "Office" is the extended address: no field, reported and kept.
    assert any("TheOffice" in m for m in c.unmapped)
    assert r.profession == "TheProfession"  # Outlook writes the profession as ROLE
    assert {"KEY", "LABEL", "FBURL"} <= set(kept(c)) and "ROLE" not in kept(c)


def test_outlook_2007() -> None:
    (c,) = read("outlook-2007.vcf")
    r = c.record
    assert (r.prefix, r.first_name, r.last_name, r.suffix) == ("Mr.", "Michael", "Angstadt", "Jr.")
    assert (r.company, r.department, r.job_title) == ("TheCompany", "TheDepartment", "TheJobTitle")
    assert r.notes.startswith("This is the NOTE field\t\nI assume it encodes this text")
    assert r.notes.endswith("It does not preserve the formatting")
    assert r.business_phone == "(111) 555-1111" and r.home_phone == "(111) 555-2222"
    assert r.mobile_phone == "(111) 555-4444" and r.business_fax == "(111) 555-3333"
    assert (r.business_street, r.business_city, r.business_state) == (
        "222 Broadway",
        "New York",
        "NY",
    )
    assert (r.business_postal_code, r.business_country) == ("99999", "USA")
    assert r.birthday == date(1922, 3, 10) and r.anniversary == date(2012, 8, 1)
    assert r.email1 == "mike.angstadt@gmail.com"
    assert r.web_page == "http://mikeangstadt.name"
    assert any("2nd web page" in m for m in c.unmapped)
    # Outlook's own properties for the fields vCard lacks go to those fields.
    assert (r.profession, r.im_address) == ("TheProfession", "im@aim.com")
    assert (r.manager, r.assistant_name, r.spouse_name) == (
        "TheManagerName",
        "TheAssistantName",
        "TheSpouse",
    )
    assert r.callback_phone == "(111) 555-4444"  # X-MS-TEL;VOICE;CALLBACK
    assert {"PHOTO", "KEY", "X-MS-OL-DESIGN"} <= set(kept(c))
    assert not {"X-MS-TEL", "X-MS-SPOUSE", "X-MS-MANAGER", "ROLE"} & set(kept(c))


def test_outlook_john_doe() -> None:
    (c,) = read("John_Doe_MS_OUTLOOK.vcf")
    r = c.record
    assert (r.prefix, r.first_name, r.middle_name, r.last_name, r.suffix) == (
        "Mr.", "John", "Richter,James", "Doe", "Sr.",
    )  # fmt: skip
    assert (r.company, r.department, r.job_title) == ("IBM", "Accounting", "Money Counter")
    assert r.business_phone == "(905) 555-1234" and r.home_phone == "(905) 666-1234"
    assert (r.business_street, r.business_city) == ("Cresent moon drive", "Albaney")
    assert (r.home_street, r.home_city, r.home_state) == (
        "Silicon Alley 5,",
        "New York",
        "New York",
    )
    assert r.home_country == "United States of America"
    assert r.birthday == date(1980, 3, 22) and r.anniversary == date(2011, 1, 13)
    assert r.email1 == "john.doe@ibm.cm" and r.web_page == "http://www.ibm.com"
    assert r.notes.startswith("THIS SOFTWARE IS PROVIDED BY GEORGE EL-HADDAD ''AS IS''")
    assert (r.im_address, r.manager, r.assistant_name) == ("johny5@aol.com", "Big Blue", "Jenny")
    assert r.profession == "Counting Money"
    assert "PHOTO" in kept(c)
    assert not {"X-MS-IMADDRESS", "X-MS-MANAGER", "X-MS-ASSISTANT"} & set(kept(c))


def test_rfc2426_two_cards_without_n() -> None:
    frank, tim = read("rfc2426-example.vcf")
    # No N: names come from FN (last word → last name).
    assert (frank.record.first_name, frank.record.last_name) == ("Frank", "Dawson")
    assert frank.record.company == "Lotus Development Corporation"
    assert frank.record.business_street == "6544 Battleford Drive"
    assert (frank.record.business_city, frank.record.business_postal_code) == (
        "Raleigh", "27613-3502",
    )  # fmt: skip
    assert frank.record.business_phone == "+1-919-676-9515"
    assert frank.record.business_fax == "+1-919-676-9564"
    assert (frank.record.email1, frank.record.email2) == (
        "Frank_Dawson@Lotus.com", "fdawson@earthlink.net",
    )  # fmt: skip
    assert frank.record.web_page == "http://home.earthlink.net/~fdawson"
    assert (tim.record.first_name, tim.record.last_name) == ("Tim", "Howes")
    assert tim.record.business_state == "CA" and tim.record.business_postal_code == "94043"
    assert tim.record.email1 == "howes@netscape.com"


def test_rfc6350_example() -> None:
    (c,) = read("rfc6350-example.vcf")
    r = c.record
    assert (r.first_name, r.last_name, r.suffix) == ("Simon", "Perreault", "ing. jr,M.Sc.")
    assert r.company == "Viagenie" and r.email1 == "simon.perreault@viagenie.ca"
    assert r.business_phone == "+1-418-656-9254;ext=102"  # tel: URI, work+voice
    assert r.mobile_phone == "+1-418-262-6501"  # work,cell,voice,video,text → the mobile
    assert (r.business_street, r.business_city, r.business_state) == (
        "2875 Laurier",
        "Quebec",
        "QC",
    )
    assert (r.business_postal_code, r.business_country) == ("G1V 2M2", "Canada")
    assert r.anniversary == date(2009, 8, 8)
    assert r.birthday is None  # --0203 has no year: reported, kept in the card
    assert any("--0203" in m for m in c.unmapped)
    assert {"BDAY", "GENDER", "LANG", "GEO", "KEY", "TZ"} <= set(kept(c))


@pytest.mark.parametrize("name", sorted(p.name for p in REAL.glob("*.vcf")))
@pytest.mark.parametrize("version", ["2.1", "3.0", "4.0"])
def test_real_cards_survive_a_rewrite(name: str, version: str) -> None:
    for contact in read(name):
        written = write_card(contact, version)
        (again,) = read_cards(written, name)
        assert isinstance(again, Contact) and again.record == contact.record
        assert kept(again) == kept(contact)
        assert again.unmapped == contact.unmapped
        # Binary lines come back bit for bit, whatever the version.
        assert isinstance(again.extra, VCardExtra) and isinstance(contact.extra, VCardExtra)
        for a, b in zip(again.extra.properties, contact.extra.properties, strict=True):
            if b.binary:
                assert a.value == b.value


def test_cp1252_file_is_read() -> None:
    data = (REAL / "outlook-2003.vcf").read_bytes().replace(b"Joey", "Jöé €".encode("cp1252"))
    (c,) = read_cards(data, "x.vcf")
    assert isinstance(c, Contact) and c.record.nickname == "Jöé €"


def test_missing_file_gives_no_format_error_type_confusion() -> None:
    assert not [c for c in read_cards(b"", "empty.vcf") if not isinstance(c, FormatError)]
