"""Files laid out as Outlook writes them (built by tests/fixtures/csv/make_csv_fixtures.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from personsync.errors import FormatError
from personsync.formats import outlook_csv as codec
from personsync.model import Contact

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "csv"


def read(name: str) -> tuple[codec.Table, list[Contact]]:
    data = (FIXTURES / name).read_bytes()
    got = codec.read(data, source=name)
    assert not [g for g in got if isinstance(g, FormatError)]
    return codec.parse(data), [g for g in got if isinstance(g, Contact)]


def test_classic_cp1252_export() -> None:
    raw = (FIXTURES / "outlook_classic_cp1252.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and "Müller".encode("cp1252") in raw
    table, (jurgen, chris, zoe) = read("outlook_classic_cp1252.csv")
    assert table.encoding == "cp1252"
    assert table.layout is not None and table.layout.name == "classic"
    assert len(table.layout.header) == 92
    r = jurgen.record
    assert (r.prefix, r.first_name, r.last_name) == ("Dr.", "Jürgen", "Müller")
    assert r.company == "Café Zürich GmbH" and r.job_title == "Geschäftsführer"
    assert r.business_street == "Bahnhofstraße 1\nGebäude C"
    assert (r.business_city, r.business_postal_code, r.business_country) == (
        "Zürich",
        "8001",
        "Switzerland",
    )
    assert r.business_phone == "+41 44 123 45 67" and r.mobile_phone == "+41 79 555 01 02"
    assert r.birthday == date(1980, 3, 22) and r.anniversary is None  # 0/0/00
    assert r.categories == ("Customers", "VIP")
    assert r.notes == "Met at the fair.\r\nPrefers “tea”, not coffee — costs 5 €."
    assert r.web_page == "http://www.example.ch/"
    assert r.pager == "555-0199" and r.spouse_name == "Anna"
    assert "Pager" not in jurgen.extra and "Spouse" not in jurgen.extra
    assert jurgen.extra["Priority"] == "Normal" and "Birthday" not in jurgen.extra
    assert jurgen.customer_id == "" and jurgen.item_id == ""

    assert chris.record.email1 == "" and chris.record.email2 == "chris@contoso.example"
    assert chris.extra["E-mail Address"].startswith("/o=ExchangeLabs/")
    assert len(chris.unmapped) == 1 and "Exchange" in chris.unmapped[0]
    assert chris.record.anniversary == date(2004, 6, 1) and chris.record.birthday is None
    assert chris.record.home_phone == "(212) 555-0100"

    assert zoe.record.notes == '=HYPERLINK("http://evil.example")'
    assert zoe.record.home_street == "12 Rue de l'Église"


def test_classic_export_survives_a_rewrite() -> None:
    _, contacts = read("outlook_classic_cp1252.csv")
    again = codec.read(codec.write(contacts))
    assert [c.record for c in again if isinstance(c, Contact)] == [c.record for c in contacts]
    assert [c.extra for c in again if isinstance(c, Contact)] == [c.extra for c in contacts]


def test_outlook_com_61_columns_with_bom() -> None:
    table, (hanako, sam) = read("outlook_com_61_bom.csv")
    assert table.encoding == "utf-8-sig"
    assert table.layout is not None and table.layout.name == "Outlook.com"
    assert len(table.layout.header) == 61
    r = hanako.record
    assert (r.first_name, r.last_name, r.nickname) == ("Hanako", "山田", "Hana")
    assert r.company == "株式会社サンプル" and r.mobile_phone == "+81 90-1234-5678"
    assert r.business_street == "1-2-3 Marunouchi\nChiyoda-ku"
    assert r.web_page == "https://www.sample.example.jp/"
    assert r.birthday == date(1975, 12, 31)
    assert r.notes == "First line\nsecond line, with a comma"
    assert r.yomi_first_name == "はなこ"
    assert hanako.extra == {"Personal Web Page": "https://hanako.example.jp/"}
    assert sam.record.other_phone == "+1 206 555 0142"
    assert sam.extra == {"Personal Web Page": "https://sam.example.com/"}


def test_outlook_2003_business_country() -> None:
    table, (marta,) = read("outlook_2003_country.csv")
    assert table.layout is not None and table.layout.name == "classic (Outlook 2003)"
    assert marta.record.last_name == "Nuñez"
    assert marta.record.business_country == "Spain" and marta.record.home_country == "Spain"
    assert "Business Country" not in marta.extra
    # Written back into the same layout, the country stays in the old column.
    data = codec.write([marta], layout=table.layout)
    header = data.decode("utf-8-sig").split("\r\n")[0]
    assert '"Business Country"' in header and "Country/Region" not in header


def test_writing_into_an_outlook_layout_adds_the_columns_values_need() -> None:
    table, (marta,) = read("outlook_2003_country.csv")
    assert table.layout is not None
    linked = Contact(marta.record.replace({"nickname": "Mar"}), customer_id="12", extra=marta.extra)
    data = codec.write([linked], layout=table.layout)
    (again,) = codec.read(data)
    assert isinstance(again, Contact)
    assert again.customer_id == "12" and again.record.nickname == "Mar"
    assert again.record == linked.record
