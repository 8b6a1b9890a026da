"""The codec's fast paths give what the general code gives.

Reading: most cards are read in one pass (`vcard._simple_card`), the rest line by line; both must
read every card alike, line numbers included. Writing: lines are folded and escaped a card or a
value at a time (`card_bytes`, `escape_components`, `unescape`, `split_components`); each must
equal doing it line by line or component by component.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from personsync.errors import FormatError
from personsync.formats import vcard
from personsync.formats import vcard_text as vt
from personsync.formats.vcard import VCardExtra, read_cards, write_card, write_cards
from personsync.model import Contact, Record
from personsync.persons.sample import generate
from realworld import real_vcards

REAL = real_vcards()
SAMPLE = [Contact(r, item_id=f"u{i}", customer_id=str(i)) for i, r in enumerate(generate(60, 7))]
TRICKY = Record(
    first_name="Zoë",
    last_name="O'Neil; Jr",
    company="Acme, Inc.",
    department="R&D; Lab\\2",
    business_street="1 Long Street with a long name\nBuilding 2, floor 3",
    notes="a\r\nb;c,d\\e " + "long " * 30,
    email2="z@x.org",
    categories=("a,b", "c"),
)
# Text inserted after a card's VERSION line (or replacing it) that the one-pass reading must
# leave to the line-by-line reading, or read alike.
INSERTS = [
    "VERSION:3.0\r\n x",
    "VERS\r\n ION:2.1",
    "VERSION:3.0\r\nNOTE;ENCODING=QUOTED-PRINTABLE:a=\r\nVERSION:2.1",
    "VERSION:3.0\r\nX-Q;ENCODING=QUOTED-PRINTABLE:a=\r\n =\r\n\r\nb",
    "VERSION:3.0\r\nX-Q;X-Y=QUOTED-PRINTABLE:a=\r\nb",
    "VERSION:2.1\r\nX-B;ENCODING=BASE64:QUJD\r\nREVG\r\n",
    "VERSION:3.0\r\nend:vcard",
    "VERSION:3.0\r\nend:x\r\nbegin:y\r\nN:a\r\nend:vcard\r\nBEGIN:VCARD",
    "VERSION:3.0\r\nBegin:VCard",
    "VERSION:3.0\r\n\r\n\tx\r\n",
    "VERSION:3.0\r\nFN:a\r\n\r\n b",
    "VERSION:3.0\r\nPHOTO;VALUE=uri:data:image/png;base64,QUJD",
    'VERSION:3.0\r\nX;P="a:b":c',
    "VERSION:2.1\r\nX;CHARSET=latin-1;ENCODING=QUOTED-PRINTABLE:=E9",
    "VERSION:3.0\r\nitem1.TEL;TYPE=work:1\r\nitem1.X-ABLabel:x",
    "VERSION:3.0\r\nTEL",
    "VERSION:9.9",
]


def _seeds() -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted(REAL.glob("*.vcf"))]
    contacts = [*SAMPLE[:6], Contact(TRICKY, item_id="t1")]
    for version in ("2.1", "3.0", "4.0"):
        seeds.append(write_cards(contacts, version))
        for insert in INSERTS:
            seeds.append(seeds[-1].replace(f"VERSION:{version}".encode(), insert.encode(), 2))
    return seeds


def _as_data(item: Contact | FormatError) -> tuple[Any, ...]:
    if isinstance(item, FormatError):
        return ("error", str(item), item.line, item.name)
    extra = item.extra
    assert isinstance(extra, VCardExtra)
    kept = [
        (p.name, p.value, p.params, p.group, p.style, p.binary, p.line) for p in extra.properties
    ]
    return (item, item.unmapped, extra, kept, extra.read_record)


@pytest.mark.parametrize("seed", range(len(_seeds())))
def test_one_pass_reads_as_line_by_line(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _seeds()[seed]
    list(read_cards(data))  # every head parsed once, so that the one pass reads what it can
    fast = [_as_data(item) for item in read_cards(data, "x.vcf")]
    monkeypatch.setattr(vcard, "_simple_card", lambda *args: None)
    assert [_as_data(item) for item in read_cards(data, "x.vcf")] == fast


def test_one_pass_reads_most_cards() -> None:
    data = write_cards(SAMPLE, "3.0")
    list(read_cards(data))
    text = data.decode()
    lines = vcard.split_lines(text)
    begins = [i for i, line in enumerate(lines) if line == "BEGIN:VCARD"]
    ends = [i for i, line in enumerate(lines) if line == "END:VCARD"]
    read = [vcard._simple_card(lines, b, e, 1, "utf-8") for b, e in zip(begins, ends, strict=True)]
    assert all(card is not None for card in read)


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r", "\r\r\n"])
def test_split_lines(newline: str) -> None:
    # Every kind of line end is one line end: a CR doubled before the LF too (a CR LF file
    # converted once more), which was read as a line ending in CR.
    lines = ["a", "", "b", " c", "d"]
    assert vcard.split_lines(newline.join(lines)) == lines
    assert vcard.split_lines(newline.join(lines) + newline) == [*lines, ""]


def test_split_lines_mixed_ends() -> None:
    assert vcard.split_lines("a\r\nb\rc\nd\r\r\ne\r") == ["a", "b", "c", "d", "e"]


def test_card_bytes_folds_each_line_as_fold() -> None:
    rng = random.Random(5)
    alphabet = "ab ;,:é€😀\\"
    for _ in range(2000):
        lines = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90))) for _ in range(5)]
        verbatim = [i for i in range(5) if rng.random() < 0.2]
        expected = b"".join(
            (line if i in verbatim else vt.fold(line)).encode() + b"\r\n"
            for i, line in enumerate(lines)
        )
        assert vt.card_bytes(lines, verbatim) == expected


def _unescape(value: str, style: str) -> str:  # the definition: one escape at a time
    if style == "2.1":
        return re.sub(r"\\([\\;])", r"\1", value)
    return re.sub(r"\\([\\,;nN])", lambda m: {"n": "\n", "N": "\n"}.get(m[1], m[1]), value)


def _split(value: str, sep: str) -> list[str]:
    parts, current = [], ""
    for token in re.split(rf"(\\.|{sep})", value, flags=re.S):
        if token == sep:
            parts.append(current)
            current = ""
        else:
            current += token
    return [*parts, current]


def test_escaping_at_once_is_escaping_each() -> None:
    rng = random.Random(6)
    for _ in range(20000):
        value = "".join(rng.choice("ab\\;,nN\x00\r\n") for _ in range(rng.randint(0, 12)))
        parts = value.split("|") if rng.random() < 0.5 else [value, value[::-1], ""]
        for version in ("2.1", "3.0", "4.0"):
            expected = ";".join(vt.escape(p, version) for p in parts)
            assert vt.escape_components(parts, version) == expected
        for style in ("2.1", "3.0"):
            assert vt.unescape(value, style) == _unescape(value, style)
            assert vt.split_components(value, style) == [
                _unescape(p, style) for p in _split(value, ";")
            ]
        assert vt.split_list(value, "3.0") == [_unescape(p, "3.0") for p in _split(value, ",")]


def test_written_cards_are_read_back() -> None:
    for version in ("2.1", "3.0", "4.0"):
        for contact in [*SAMPLE, Contact(TRICKY, item_id="t1")]:
            (again,) = read_cards(write_card(contact, version))
            assert isinstance(again, Contact)
            assert again.record.first_name == contact.record.first_name
            assert again.record.business_city == contact.record.business_city
