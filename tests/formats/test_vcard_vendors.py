"""Each vendor's way of labelling what Outlook has a field for (issue 16 item 15): mapped to the
Person's field when it has one, reported when it has not, and written back without loss.

The cards are in tests/fixtures/vcard-vendors/ (written for these tests, one per quirk).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from personsync.formats.vcard import read_cards, write_card
from personsync.model import Contact, Record

CARDS = Path(__file__).parent.parent / "fixtures" / "vcard-vendors"


def read(name: str) -> Contact:
    (contact,) = read_cards((CARDS / name).read_bytes(), name)
    assert isinstance(contact, Contact), contact
    return contact


def written_back(contact: Contact, version: str = "3.0") -> Contact:
    """The card as personsync writes it (its kept lines too), read again."""
    (again,) = read_cards(write_card(contact, version), "again.vcf")
    assert isinstance(again, Contact), again
    return again


def test_apple_assistant_label_goes_to_the_assistant_phone() -> None:
    c = read("apple-assistant-label.vcf")
    assert c.record.assistant_phone == "+1 212 555 0111"
    assert c.record.mobile_phone == "+1 212 555 0103"
    assert c.record.other_phone == ""  # not the slot of a phone without a type
    assert c.unmapped == ()
    out = write_card(c)
    assert b"item1.TEL;TYPE=x-assistant:+1 212 555 0111" in out  # beside its label again
    assert b"item1.X-ABLABEL:_$!<Assistant>!$_" in out  # names are case-insensitive
    assert written_back(c).record == c.record


def test_apple_custom_label_is_synced_as_other_phone_and_reported() -> None:
    c = read("apple-custom-label.vcf")
    r = c.record
    assert (r.other_phone, r.business_phone) == ("+1 212 555 0140", "+1 212 555 0100")
    assert c.unmapped == (
        "phone +1 212 555 0140 labelled 'boat': Outlook has no such field, synced as other phone",
        "phone +1 212 555 0141 (other): its slot is taken, kept in the card",
    )
    again = written_back(c)
    assert again.record == r
    out = write_card(c)
    assert b"item2.TEL:+1 212 555 0141" in out and b"item2.X-ABLABEL:Studio" in out


def test_apple_repeated_type_parameters_pager_and_faxes() -> None:
    c = read("apple-pager-and-fax-types.vcf")
    r = c.record
    assert r.pager == "+1 212 555 0115"
    assert (r.home_fax, r.business_fax, r.other_fax) == (
        "+1 212 555 0107",
        "+1 212 555 0104",
        "+1 212 555 0108",
    )
    assert r.other_phone == "+1 212 555 0109"  # MAIN: no Outlook field of its own
    assert c.unmapped == ()
    for version in ("2.1", "3.0", "4.0"):
        assert written_back(c, version).record == r


def test_apple_related_names_go_to_spouse_assistant_manager_children() -> None:
    c = read("apple-related-names.vcf")
    r = c.record
    assert (r.spouse_name, r.assistant_name, r.manager) == ("Dee Lee", "Cy Diaz", "Bo Chen")
    assert r.children == ("Eve", "Fay")
    assert c.unmapped == ("related name 'Gus' (friend): no field, kept",)
    again = written_back(c)
    assert again.record == r
    assert again.unmapped == c.unmapped  # the friend is still in the card, still reported


def test_phonetic_names_are_the_yomi_fields() -> None:
    r = read("apple-phonetic-names.vcf").record
    assert (r.yomi_first_name, r.yomi_last_name) == ("はなこ", "やまだ")
    assert r.yomi_company == "かぶしきがいしゃさんぷる"


def test_google_plain_custom_labels() -> None:
    c = read("google-custom-labels.vcf")
    r = c.record
    assert (r.assistant_phone, r.car_phone, r.callback_phone, r.pager) == (
        "+1 212 555 0111",
        "+1 212 555 0113",
        "+1 212 555 0112",
        "+1 212 555 0115",
    )
    # "Grandma" is no Outlook field: it takes the other phone, and the other phone typed
    # after it has no slot left: both said, neither lost.
    assert r.other_phone == "+1 212 555 0142"
    assert c.unmapped == (
        "phone +1 212 555 0142 labelled 'grandma': Outlook has no such field, "
        "synced as other phone",
        "phone +1 212 555 0105 (other): its slot is taken, kept in the card",
    )
    assert written_back(c).record == r


def test_evolution_types_and_properties() -> None:
    c = read("evolution-types.vcf")
    r = c.record
    assert (r.file_as, r.manager, r.assistant_name, r.spouse_name) == (
        "Lee, Ann",
        "Bo Chen",
        "Cy Diaz",
        "Dee Lee",
    )
    phones = (r.assistant_phone, r.callback_phone, r.company_main_phone, r.radio_phone)
    assert phones == ("+1 212 555 0111", "+1 212 555 0112", "+1 212 555 0110", "+1 212 555 0116")
    assert (r.telex, r.tty_phone, r.car_phone, r.isdn) == (
        "+1 212 555 0117",
        "+1 212 555 0118",
        "+1 212 555 0113",
        "+1 212 555 0114",
    )
    assert c.unmapped == ()
    assert written_back(c).record == r


@pytest.mark.parametrize("version", ["2.1", "3.0", "4.0"])
def test_outlook_x_ms_properties(version: str) -> None:
    c = read("outlook-x-ms-properties.vcf")
    r = c.record
    assert (r.home_phone, r.home_phone2, r.home_fax) == (
        "+1 212 555 0003",
        "+1 212 555 0004",
        "+1 212 555 0107",
    )
    assert (r.pager, r.car_phone, r.isdn) == (
        "+1 212 555 0115",
        "+1 212 555 0113",
        "+1 212 555 0114",
    )
    assert (r.callback_phone, r.company_main_phone, r.tty_phone) == (
        "+1 212 555 0112",
        "+1 212 555 0110",
        "+1 212 555 0118",
    )
    assert (r.im_address, r.profession) == ("ann@im.example", "Engineer")
    assert (r.manager, r.assistant_name, r.spouse_name) == ("Bo Chen", "Cy Diaz", "Dee Lee")
    assert c.unmapped == ()
    out = write_card(c, version)
    if version == "2.1":  # written back as Outlook writes them
        assert b"X-MS-TEL;VOICE;CALLBACK:+1 212 555 0112" in out
        assert b"X-MS-MANAGER:Bo Chen" in out and b"ROLE:Engineer" in out
    assert written_back(c, version).record == r


def test_kaddressbook_x_fields() -> None:
    r = read("kaddressbook-x-fields.vcf").record
    assert r == Record(
        first_name="Ann",
        last_name="Lee",
        manager="Bo Chen",
        assistant_name="Cy Diaz",
        spouse_name="Dee Lee",
        profession="Engineer",
        office_location="Building 4",
    )


def test_vcard4_textphone_uri_and_more_im_addresses_than_outlook_holds() -> None:
    c = read("rfc6350-textphone-and-impp.vcf")
    r = c.record
    assert r.tty_phone == "+1-212-555-0118"
    assert (r.im_address, r.im_address2, r.im_address3) == (
        "xmpp:ann@jabber.example",
        "sip:ann@acme.example",
        "aim:ann",
    )
    assert c.unmapped == ("IM address skype:ann.lee: Outlook holds 3",)
    again = written_back(c, "4.0")
    assert again.record == r and b"skype:ann.lee" in write_card(c, "4.0")
