"""Bad files: a clear message naming file, line and card; the other cards are read."""

from __future__ import annotations

import time

from personsync.errors import FormatError
from personsync.formats.vcard import read_cards, write_card
from personsync.model import Contact, Record

GOOD = b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Good;Gil;;;\r\nFN:Gil Good\r\nEND:VCARD\r\n"


def test_a_broken_card_does_not_stop_the_others() -> None:
    bad = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bad Bob\r\nthis line has no colon\r\nEND:VCARD\r\n"
    got = list(read_cards(GOOD + bad + GOOD, "people.vcf"))
    assert [type(g) for g in got] == [Contact, FormatError, Contact]
    error = got[1]
    assert isinstance(error, FormatError)
    assert (error.source, error.line, error.name) == ("people.vcf", 9, "Bad Bob")
    assert str(error).startswith("people.vcf, line 9 (Bad Bob): no ':'")


def test_truncated_file() -> None:
    got = list(read_cards(GOOD + GOOD[:40], "cut.vcf"))
    assert isinstance(got[0], Contact)
    assert isinstance(got[1], FormatError) and got[1].line == 6
    assert "END:VCARD" in str(got[1]) and "cut.vcf" in str(got[1])


def test_binary_garbage_and_empty_file() -> None:
    (error,) = read_cards(bytes(range(256)) * 20, "photo.jpg")
    assert isinstance(error, FormatError) and "photo.jpg" in str(error)
    assert list(read_cards(b"", "empty.vcf")) == []
    (stray,) = read_cards(b"hello\r\nworld\r\n", "notes.txt")
    assert isinstance(stray, FormatError) and "outside" in stray.reason and stray.line == 1


def test_unknown_encoding_and_charset() -> None:
    card = b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:A;B\r\nNOTE;ENCODING=UUENCODE:xx\r\nEND:VCARD\r\n"
    (error,) = read_cards(card, "a.vcf")
    assert isinstance(error, FormatError) and "UUENCODE" in error.reason and error.line == 4
    card = card.replace(b"ENCODING=UUENCODE", b"CHARSET=klingon;ENCODING=QUOTED-PRINTABLE")
    (error,) = read_cards(card, "a.vcf")
    assert isinstance(error, FormatError) and "klingon" in error.reason
    card = b"BEGIN:VCARD\r\nVERSION:5.0\r\nFN:X\r\nEND:VCARD\r\n"
    (error,) = read_cards(card, "a.vcf")
    assert isinstance(error, FormatError) and "5.0" in error.reason


def test_card_without_any_usable_value() -> None:
    card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nPHOTO;VALUE=uri:http://x/y.jpg\r\nEND:VCARD\r\n"
    (error,) = read_cards(card, "a.vcf")
    assert isinstance(error, FormatError) and "no name" in error.reason
    # A card with only a phone is a contact without a name.
    (c,) = read_cards(card.replace(b"PHOTO;VALUE=uri:http://x/y.jpg", b"TEL:123"), "a.vcf")
    assert isinstance(c, Contact) and c.record.other_phone == "123"


def test_ten_megabyte_note_is_read_quickly() -> None:
    note = ("lorem ipsum, dolor; sit\n" * 440_000)[:10_000_000]
    data = write_card(Contact(Record(first_name="Big", notes=note)), "3.0")
    assert len(data) > 10_000_000
    start = time.perf_counter()
    (c,) = read_cards(data, "big.vcf")
    assert time.perf_counter() - start < 10
    assert isinstance(c, Contact) and c.record.notes == note


def test_qp_soft_break_inside_an_escape_and_windows_1252() -> None:
    card = (
        b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:M\xfcller;J\xfcrgen\r\n"
        b"NOTE;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:Gr=FC=DFe=0D=\r\n=0Aend=\r\n"
        b" with space\r\nEND:VCARD\r\n"
    )
    (c,) = read_cards(card, "a.vcf")
    assert isinstance(c, Contact)
    assert (c.record.last_name, c.record.first_name) == ("Müller", "Jürgen")
    assert c.record.notes == "Grüße\nend with space"


def test_fn_without_n() -> None:
    for fn, first, last in (("Doe, John", "John", "Doe"), ("Anna Maria Lee", "Anna Maria", "Lee")):
        card = f"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:{fn}\r\nEND:VCARD\r\n".encode()
        (c,) = read_cards(card, "a.vcf")
        assert isinstance(c, Contact) and (c.record.first_name, c.record.last_name) == (first, last)


def test_unicode_digits_in_pref_and_dates_are_not_numbers() -> None:
    # "²".isdigit() is true but int("²") fails: such values must read as bad values, not crash.
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nN:;Ann;;;\r\n"
        "EMAIL;PREF=²:ann@example.org\r\nBDAY:²²²²²²²²\r\nEND:VCARD\r\n"
    ).encode()
    (got,) = list(read_cards(card, "odd.vcf"))
    assert isinstance(got, Contact)
    assert got.record.email1 == "ann@example.org"
    assert got.record.birthday is None
    assert any("is not a date" in note for note in got.unmapped)


def test_each_card_is_decoded_on_its_own() -> None:
    # One card's cp1252 byte once made the whole file cp1252, garbling the UTF-8 cards.
    utf8 = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zoë Müller\r\nN:Müller;Zoë;;;\r\nEND:VCARD\r\n"
    guessed = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Caf\r\nNOTE:caf\xe9\r\nEND:VCARD\r\n"
    declared = b"BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=ISO-8859-15:Gr\xfcn;Eva\r\nEND:VCARD\r\n"
    got = list(read_cards(utf8.encode() + guessed + declared, "m.vcf"))
    zoe, ann, eva = got
    assert isinstance(zoe, Contact) and isinstance(ann, Contact) and isinstance(eva, Contact)
    assert (zoe.record.first_name, zoe.record.last_name) == ("Zoë", "Müller")
    assert not zoe.unmapped
    assert ann.record.notes == "café" and any("not UTF-8" in m for m in ann.unmapped)
    assert eva.record.last_name == "Grün" and not eva.unmapped  # its charset, not a guess


def test_a_line_repeated_10000_times_is_one_warning_with_its_count() -> None:
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Rae Tan\r\nN:Tan;Rae;;;\r\n"
    card += "TEL;TYPE=cell:+1 555 0100\r\n" * 10_001
    card += "".join(f"EMAIL:r{i}@example.org\r\n" for i in range(500)) + "END:VCARD\r\n"
    (rae,) = read_cards(card.encode())
    assert isinstance(rae, Contact) and rae.record.mobile_phone == "+1 555 0100"
    assert len(rae.unmapped) <= 20
    assert rae.unmapped[0].endswith("(10,000 times)") and "+1 555 0100" in rae.unmapped[0]
    assert rae.unmapped[-1] == "and 479 more values that are not synced (kept in the card)"


def test_a_charset_that_is_no_text_encoding_is_a_format_error() -> None:
    # Found by fuzzing: CHARSET=quopri (a codec of bytes to bytes) raised LookupError.
    for line in (b"N;CHARSET=quopri;ENCODING=QUOTED-PRINTABLE:a=E9", b"N;CHARSET=base64:Gr\xfcn"):
        data = b"BEGIN:VCARD\r\nVERSION:2.1\r\n" + line + b"\r\nFN:Eva\r\nEND:VCARD\r\n"
        got = list(read_cards(data, "q.vcf"))
        assert len(got) == 1 and isinstance(got[0], Contact | FormatError)
