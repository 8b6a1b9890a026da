"""Outlook CSV codec: cells, dates, encodings, layouts and bad input."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from held import assert_holds_its_set_values_only, held
from personsync import fields
from personsync.errors import FormatError
from personsync.formats import outlook_csv as codec
from personsync.formats.outlook_csv_layout import (
    CLASSIC_HEADER,
    ITEM_ID_COLUMN,
    WRITE_HEADER,
    Layout,
)
from personsync.model import Contact, Record


def csv_bytes(header: list[str], *rows: list[str], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def only(items: list[Contact | FormatError]) -> Contact:
    assert len(items) == 1
    got = items[0]
    assert isinstance(got, Contact), got
    return got


# --- formula neutralisation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1 212 555 0100", "'+1 212 555 0100"),
        ("-5", "'-5"),
        ("@home", "'@home"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=x", "''=x"),
        ("''+1", "'''+1"),
        ("'plain", "'plain"),
        ("'", "'"),
        ("''", "''"),
        ("plain", "plain"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_neutralise_and_back(value: str, cell: str) -> None:
    assert codec.neutralise(value) == cell
    assert codec.unneutralise(cell) == value


def test_unneutralise_keeps_an_apostrophe_people_typed() -> None:
    assert codec.unneutralise("'80s music") == "'80s music"
    assert codec.unneutralise("=1+1") == "=1+1"  # an Outlook file without our prefix


def test_written_cells_cannot_run_as_formulas() -> None:
    record = Record(first_name="=cmd|' /C calc'!A0", mobile_phone="+1 212 555 0100", notes="@x")
    data = codec.write([Contact(record)])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert all(cell[:1] not in "=+-@\t\r" or cell == "" for cell in rows[1])
    assert only(codec.read(data)).record == record


# --- dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("3/22/1980", "MDY", date(1980, 3, 22)),
        ("22/3/1980", "DMY", date(1980, 3, 22)),
        ("22.03.1980", "DMY", date(1980, 3, 22)),
        ("1980/03/22", "YMD", date(1980, 3, 22)),
        ("1980-03-22", "MDY", date(1980, 3, 22)),  # ISO whatever the order
        ("3/22/1980 12:00:00 AM", "MDY", date(1980, 3, 22)),
        ("0/0/00", "MDY", None),
        ("0/0/0000", "DMY", None),
        ("", "MDY", None),
        ("1/2/0005", "MDY", date(5, 1, 2)),
    ],
)
def test_parse_date(text: str, order: codec.DateOrder, expected: date | None) -> None:
    assert codec.parse_date(text, order) == expected


@pytest.mark.parametrize("text", ["13/13/1980", "yesterday", "2/30/1999", "1/2"])
def test_bad_dates_raise(text: str) -> None:
    with pytest.raises(ValueError):
        codec.parse_date(text, "MDY")


def test_two_digit_years_land_in_the_sensible_century() -> None:
    assert codec.parse_date("3/22/80") == date(1980, 3, 22)
    assert codec.parse_date("3/22/05") == date(2005, 3, 22)


@pytest.mark.parametrize("order", codec.DATE_ORDERS)
def test_dates_round_trip_in_every_order(order: codec.DateOrder) -> None:
    for value in (date(1980, 3, 22), date(2001, 12, 1), date(9, 1, 31)):
        assert codec.parse_date(codec.format_date(value, order), order) == value


def test_date_order_is_used_when_reading_a_file() -> None:
    data = csv_bytes(["First Name", "Birthday"], ["Ann", "4/3/1990"])
    assert only(codec.read(data)).record.birthday == date(1990, 4, 3)
    assert only(codec.read(data, date_order="DMY")).record.birthday == date(1990, 3, 4)


# --- encodings -----------------------------------------------------------------------------------


def test_encodings_bom_utf8_cp1252_and_explicit() -> None:
    header, row = ["First Name", "Last Name"], ["Zoë", "Müller €"]
    bom = b"\xef\xbb\xbf" + csv_bytes(header, row)
    assert codec.parse(bom).encoding == "utf-8-sig"
    assert codec.parse(csv_bytes(header, row)).encoding == "utf-8"
    ansi = csv_bytes(header, row, encoding="cp1252")
    assert codec.parse(ansi).encoding == "cp1252"
    for data in (bom, csv_bytes(header, row), ansi):
        assert only(codec.read(data)).record.last_name == "Müller €"
    latin = csv_bytes(header, ["Zoë", "Ærø"], encoding="latin-1")
    assert only(codec.read(latin, encoding="latin-1")).record.last_name == "Ærø"


def test_undecodable_bytes_and_unknown_encoding_are_clear_errors() -> None:
    # Bytes neither UTF-8 nor cp1252 in one row leave the other rows as they are (each line is
    # decoded on its own); a file that is not a CSV export at all is refused by its header.
    got = codec.read(
        "First Name,Last Name\r\nZoë,Müller\r\n".encode() + b"\x81\x8d,\x8f\x90\x9d\r\n",
        source="contacts.csv",
    )
    assert next(c.record.first_name for c in got if isinstance(c, Contact)) == "Zoë"
    with pytest.raises(FormatError, match=r"contacts\.csv.*does not look like an Outlook CSV"):
        codec.read(b"\x81\x8d\x8f\x90\x9d\r\n\x00\x01", source="contacts.csv")
    with pytest.raises(FormatError, match="unknown encoding"):
        codec.read(b"First Name\r\n", encoding="no-such-codec")


def test_cp1252_output_refuses_characters_it_cannot_hold_naming_the_person() -> None:
    contacts = [
        Contact(Record(first_name="Ann")),
        Contact(Record(first_name="Hanako", last_name="山田")),
    ]
    with pytest.raises(FormatError, match="Hanako 山田") as info:
        codec.write(contacts, encoding="cp1252")
    assert "cp1252" in str(info.value)
    ok = codec.write([Contact(Record(first_name="Zoë", notes="5 €"))], encoding="cp1252")
    assert "Zoë".encode("cp1252") in ok and not ok.startswith(b"\xef\xbb\xbf")
    assert only(codec.read(ok)).record.notes == "5 €"


# --- layouts and columns -------------------------------------------------------------------------


def test_written_file_is_classic_outlook_plus_our_columns() -> None:
    data = codec.write([Contact(Record(first_name="Ann"), customer_id="7", item_id="x1")])
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[0] == ",".join(f'"{h}"' for h in WRITE_HEADER)
    assert list(WRITE_HEADER[: len(CLASSIC_HEADER)]) == list(CLASSIC_HEADER)
    assert len(CLASSIC_HEADER) == 92
    ours = ("Nickname", "File As", "Given Yomi", "Surname Yomi", "Company Yomi", "IMAddress")
    assert WRITE_HEADER[92:98] == ours
    assert WRITE_HEADER[-2:] == (fields.CUSTOMER_ID_CSV, ITEM_ID_COLUMN)
    assert lines[1].startswith('"","Ann",""') and lines[1].endswith('"7","x1"')
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")


def test_every_mapped_field_has_a_column_in_the_written_layout() -> None:
    layout = Layout.of(WRITE_HEADER)
    assert set(layout.columns) == set(fields.FIELD_NAMES)
    assert set(layout.streets) == {"business_street", "home_street", "other_street"}


def test_columns_are_found_by_name_in_any_order_and_case() -> None:
    header = ["e-mail address", "Notes", "LAST NAME", "pager", "Hobby"]
    data = csv_bytes(header, ["a@x.org", "n", "Ng", "5", "golf"])
    got = only(codec.read(data))
    assert got.record == Record(email1="a@x.org", notes="n", last_name="Ng", pager="5")
    assert got.extra == {"Hobby": "golf"}


def test_streets_join_three_columns_and_split_back() -> None:
    header = ["First Name", "Business Street", "Business Street 2", "Business Street 3"]
    data = csv_bytes(header, ["Ann", "Main St 1", "", "Floor 3"])
    assert only(codec.read(data)).record.business_street == "Main St 1\nFloor 3"
    record = Record(first_name="Ann", business_street="a\nb\nc\nd")
    rows = list(csv.reader(io.StringIO(codec.write([Contact(record)]).decode("utf-8-sig"))))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["Business Street"], row["Business Street 2"], row["Business Street 3"]) == (
        "a",
        "b",
        "c\nd",
    )
    for street in ("a\n\nb", "a\n", "\nb", "a\r\nb"):
        written = codec.write([Contact(Record(business_street=street))])
        assert only(codec.read(written)).record.business_street == street


def test_unknown_columns_are_kept_and_written_back() -> None:
    header = ["First Name", "User 1", "Hobby", "Personal Web Page", "Web Page", "Priority"]
    data = csv_bytes(header, ["Ann", "-555", "Bob", "http://ann", "http://acme", "Normal"])
    got = only(codec.read(data))
    assert got.record.web_page == "http://acme"
    assert got.extra == {
        "User 1": "-555",
        "Hobby": "Bob",
        "Personal Web Page": "http://ann",
        "Priority": "Normal",
    }
    # What no Person field holds is said, except Outlook's value for "unset" (Priority Normal).
    assert got.unmapped == (
        "User 1 '-555': not synced (no Person field; kept in the file)",
        "Hobby 'Bob': not synced (no Person field; kept in the file)",
        "Personal Web Page 'http://ann': not synced (no Person field; kept in the file)",
    )
    again = only(codec.read(codec.write([got])))
    assert again.extra == got.extra and again.record == got.record


def test_exchange_address_is_kept_but_not_used_as_email() -> None:
    x500 = "/o=Contoso/ou=First Administrative Group/cn=Recipients/cn=ann"
    header = ["First Name", "E-mail Address", "E-mail Type", "E-mail 2 Address"]
    got = only(codec.read(csv_bytes(header, ["Ann", x500, "EX", "ann@x.org"])))
    assert got.record.email1 == "" and got.record.email2 == "ann@x.org"
    assert any("Exchange" in m and x500 in m for m in got.unmapped)
    back = only(codec.read(codec.write([got])))
    assert back.extra["E-mail Address"] == x500 and back.extra["E-mail Type"] == "EX"
    # Once a real address is set, it replaces the Exchange path and the type says so.
    changed = Contact(got.record.replace({"email1": "ann@contoso.org"}), extra=got.extra)
    final = only(codec.read(codec.write([changed])))
    assert final.record.email1 == "ann@contoso.org"
    assert final.extra["E-mail Type"] == "SMTP" and not final.unmapped


def test_categories_are_split_on_semicolons() -> None:
    data = csv_bytes(["First Name", "Categories"], ["Ann", "Customers; VIP;;Golf "])
    assert only(codec.read(data)).record.categories == ("Customers", "VIP", "Golf")


def test_customer_id_and_item_id_columns() -> None:
    header = ["First Name", fields.CUSTOMER_ID_CSV, ITEM_ID_COLUMN]
    got = only(codec.read(csv_bytes(header, ["Ann", " 42 ", "abc"])))
    assert (got.customer_id, got.item_id) == ("42", "abc")


# --- bad input -----------------------------------------------------------------------------------


def test_not_an_outlook_export() -> None:
    with pytest.raises(FormatError) as info:
        codec.read(b"id,amount\r\n1,2\r\n", source="sales.csv")
    assert "sales.csv, line 1" in str(info.value)
    assert "does not look like an Outlook CSV export" in str(info.value)
    assert "First Name/Last Name/E-mail" in str(info.value)


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"\xef\xbb\xbf"])
def test_empty_file_has_no_contacts(data: bytes) -> None:
    assert codec.read(data) == []
    assert codec.parse(data).layout is None


def test_header_only_file_has_no_contacts() -> None:
    table = codec.parse(csv_bytes(list(CLASSIC_HEADER)))
    assert table.rows == [] and table.layout is not None and table.layout.name == "classic"


def test_bad_rows_are_reported_with_line_and_name_and_the_rest_is_read() -> None:
    header = ["First Name", "Last Name", "Birthday", "Notes"]
    text = (
        '"First Name","Last Name","Birthday","Notes"\r\n'
        '"Ann","Ng","","two\r\nlines"\r\n'  # lines 2-3
        '"Bob","Roe","31/31/1999",""\r\n'  # line 4: bad date
        '"Cy","Lu","","","surplus"\r\n'  # line 5: more cells than the header
        '"Di"x,"Ko","",""\r\n'  # line 6: stray character after a quote
        '"Eve","Ma","",""\r\n'  # line 7
        '"Fay","unterminated,"",""\r\n'  # line 8: the quote never closes
    )
    got = codec.read(text.encode(), source="c.csv")
    assert len(header) == 4
    names = [g.record.first_name for g in got if isinstance(g, Contact)]
    assert names == ["Ann", "Eve"]
    errors = [g for g in got if isinstance(g, FormatError)]
    assert [(e.line, e.name) for e in errors] == [(4, "Bob Roe"), (5, "Cy Lu"), (6, ""), (8, "")]
    assert all(e.source == "c.csv" for e in errors)
    assert "31/31/1999" in errors[0].reason and "Birthday" in errors[0].reason
    assert "5 cells" in errors[1].reason
    assert str(errors[0]).startswith("c.csv, line 4 (Bob Roe): ")


def test_trailing_empty_cells_and_short_rows_are_fine() -> None:
    text = '"First Name","Last Name"\r\n"Ann","Ng",""\r\n"Bob"\r\n'
    got = codec.read(text.encode())
    assert [g.record for g in got if isinstance(g, Contact)] == [
        Record(first_name="Ann", last_name="Ng"),
        Record(first_name="Bob"),
    ]


def test_ten_megabyte_note_is_read() -> None:
    note = "x" * 10_000_000 + "\nend"
    data = codec.write([Contact(Record(first_name="Big", notes=note))])
    assert only(codec.read(data)).record.notes == note
    assert csv.field_size_limit() == 131072  # the process-wide limit is put back


def test_repeated_and_unnamed_columns_keep_their_values() -> None:
    header = ["First Name", "Notes", "Hobby", "Notes", "Hobby", ""]
    data = csv_bytes(header, ["Ann", "first", "p1", "second", "p2", "loose"])
    got = only(codec.read(data))
    assert got.record.notes == "first"
    assert got.extra == {
        "Hobby": "p1",
        "Notes #2": "second",
        "Hobby #2": "p2",
        "(column 6)": "loose",
    }
    layout = codec.parse(data).layout
    assert layout is not None
    rows = list(csv.reader(io.StringIO(codec.write([got], layout=layout).decode("utf-8-sig"))))
    assert rows[0][:6] == header
    assert rows[1][:6] == ["Ann", "first", "p1", "second", "p2", "loose"]
    assert only(codec.read(codec.write([got]))).extra == got.extra  # into the classic layout too


def test_a_row_read_keeps_only_its_set_values() -> None:
    # A first sync holds 100,000 contacts: 400 bytes each were pointers to empty values.
    data = csv_bytes(
        ["First Name", "Last Name", "E-mail Address", "Birthday", "Categories"],
        ["Ann", "Lee", "ann@acme.org", "2/29/1980", "VIP;Board"],
    )
    (got,) = codec.read(data)
    assert isinstance(got, Contact)
    expected = Record(
        first_name="Ann",
        last_name="Lee",
        email1="ann@acme.org",
        birthday=date(1980, 2, 29),
        categories=("VIP", "Board"),
    )
    assert got.record == expected and hash(got.record) == hash(expected)
    assert_holds_its_set_values_only(got.record)
    assert len(held(got.record)) == 6  # the 5 set values, then their fields
