"""Cards as other address books write them (`tests/fixtures/vcard_quirks`, one file per quirk),
read by the codec and by both vCard stores."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from personsync.formats.vcard import read_cards, write_card
from personsync.model import Contact
from personsync.stores import open_folder
from personsync.stores.base import ReadProblem, read_all

QUIRKS = Path(__file__).resolve().parents[1] / "fixtures" / "vcard_quirks"


def _read(name: str) -> list[Contact]:
    data = (QUIRKS / name).read_bytes()
    got = list(read_cards(data, name))
    assert all(isinstance(c, Contact) for c in got), got
    return [c for c in got if isinstance(c, Contact)]


def test_apple_escaped_colon_in_url() -> None:
    (grace,) = _read("apple-url-escaped-colon.vcf")
    assert grace.record.web_page == "https://harbour.example/team/grace"
    # Written back without the vendor's escape, and read again the same.
    (again,) = [c for c in read_cards(write_card(grace)) if isinstance(c, Contact)]
    assert again.record.web_page == grace.record.web_page
    assert b"https://harbour.example" in write_card(grace)


def test_google_escaped_colon_in_url() -> None:
    (tomas,) = _read("google-url-escaped-colon.vcf")
    assert tomas.record.web_page == "http://www.ferreira.example/portfolio"
    assert tomas.record.first_name == "Tomás"


def test_escaped_quotes_in_note() -> None:
    (ines,) = _read("note-escaped-quotes.vcf")
    assert ines.record.notes == 'Prefers to be called "Nes", not "Ines"\nSee "Board minutes"'


@pytest.mark.parametrize(
    ("name", "people"),
    [
        ("line-ends-cr-cr-lf.vcf", {"Priya": "Raman", "Jonas": "Berg"}),
        ("line-ends-lone-cr.vcf", {"Aiko": "Nakamura", "Bruno": "Silva"}),
    ],
)
def test_line_ends_of_any_kind(name: str, people: dict[str, str], tmp_path: Path) -> None:
    contacts = _read(name)
    assert {c.record.first_name: c.record.last_name for c in contacts} == people
    if name.startswith("line-ends-cr-cr"):
        priya = contacts[0]
        assert priya.record.notes.endswith("of the file")  # the folded line, unfolded
        assert priya.record.business_phone == "+1 415 555 0142"
    # As a `vcf-file:` (once "holds no vCard") and as a file of a `vcf:` folder.
    store = open_folder(f"vcf-file:{QUIRKS / name}", create=False)
    try:
        names = sorted(c.record.first_name for c in read_all(store) if isinstance(c, Contact))
    finally:
        store.close()
    assert names == sorted(people)
    folder = tmp_path / "f"
    folder.mkdir()
    shutil.copy(QUIRKS / name, folder / "one.vcf")
    store = open_folder(f"vcf:{folder}", create=False)
    try:
        (both,) = read_all(store)
    finally:
        store.close()
    # A file of a vcf: folder is one contact: this one is reported, both its cards named.
    assert isinstance(both, ReadProblem) and "holds 2 cards" in str(both.error)
    assert all(f"{first} {last}" in str(both.error) for first, last in people.items())
