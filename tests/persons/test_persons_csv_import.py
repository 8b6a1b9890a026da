"""Reading Persons from CSV: header names, unknown columns, bad rows by line, good rows kept."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from personsync.errors import FormatError
from personsync.persons.csv_import import read_csv


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "people.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_good_rows_kept_bad_rows_reported_by_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "first_name,Last Name,E-mail Address,birthday,shoe_size\n"
        "Ann,Ó Súilleabháin,ann@example.org,1980-02-03,38\n"
        "Bob,Baker,bob@example.org,31/12/1999,44\n"  # line 3: bad date
        "Cy,Short\n"  # line 4: too few values
        '"Di","Multi\nLine",di@example.org,,40\n'  # lines 5-6: one record
        "\n"
        "Ed,Last,ed@example.org,,41\n",  # line 8
    )
    rows = read_csv(path)
    assert [r.first_name for r in rows.records] == ["Ann", "Di", "Ed"]
    assert rows.lines == [2, 5, 8]
    assert rows.records[0].last_name == "Ó Súilleabháin"
    assert rows.records[0].email1 == "ann@example.org"
    assert rows.records[0].birthday == date(1980, 2, 3)
    assert rows.records[1].last_name == "Multi\nLine"
    assert [(p.line, p.message.split(":")[0]) for p in rows.problems] == [
        (3, "birthday"),
        (4, "2 values but the header has 5 columns"),
    ]
    assert rows.unknown_columns == ["shoe_size"]


def test_labels_outlook_names_bom_and_categories(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffFirst name,Business City,Categories\nAnn,Köln,VIP;Board\n")
    (rec,) = read_csv(path).records
    assert rec.first_name == "Ann" and rec.business_city == "Köln"
    assert rec.categories == ("VIP", "Board")


def test_cp1252_file_from_outlook_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "First Name,Last Name\nJosé,Müller\n", encoding="cp1252")
    rows = read_csv(path)
    assert rows.encoding == "cp1252"
    assert rows.records[0].first_name == "José" and rows.records[0].last_name == "Müller"


def test_repeated_column_is_reported_and_first_kept(tmp_path: Path) -> None:
    rows = read_csv(write(tmp_path, "first_name,First Name\nAnn,Other\n"))
    assert rows.records[0].first_name == "Ann"
    assert rows.unknown_columns == ["First Name (repeated)"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("shoe,hat\n1,2\n", "no column names a Person field")],
)
def test_unusable_files_are_format_errors_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(FormatError, match=message) as info:
        read_csv(path)
    assert str(path) in info.value.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="cannot read"):
        read_csv(tmp_path / "nope.csv")
