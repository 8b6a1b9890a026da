"""Bad input never raises: mutated, truncated and random cards give Contacts or FormatErrors."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from mutations import mutate
from personsync.errors import FormatError
from personsync.formats.vcard import read_cards, write_card
from personsync.model import Contact, Record
from realworld import real_vcards

REAL = real_vcards()
INSERTS = [
    b"=",
    b";",
    b":",
    b"\r\n",
    b"\n",
    b"\r\n ",
    b"=\r\n",
    b"\\",
    b",",
    b'"',
    b"\x00",
    b"\xff",
]


def _seeds() -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted(REAL.glob("*.vcf"))]
    sample = Record(first_name="Zoë", last_name="O'Neil", notes="a\nb;c,d", email1="z@x.org")
    seeds += [write_card(Contact(sample, item_id="u1"), v) for v in ("2.1", "3.0", "4.0")]
    return seeds


def _mutate(data: bytes, rng: random.Random) -> bytes:
    return mutate(data, rng, INSERTS)


def _read_all(data: bytes) -> list[Contact | FormatError]:
    got = list(read_cards(data, "fuzz.vcf"))
    assert all(isinstance(g, Contact | FormatError) for g in got)
    for g in got:
        if isinstance(g, Contact):
            for version in ("2.1", "3.0", "4.0"):
                write_card(g, version)  # whatever was read can be written
    return got


def test_thousands_of_mutated_cards() -> None:
    rng = random.Random(20261124)
    seeds = _seeds()
    for _ in range(3000):
        _read_all(_mutate(rng.choice(seeds), rng))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    _read_all(data)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="BEGIN:VCARDENDTEL;=\r\n ,QUOTED-PRINTABLE0A", max_size=200))
def test_random_card_like_text(text: str) -> None:
    _read_all(text.encode())


def test_truncated_at_every_byte() -> None:
    data = (REAL / "outlook-2003.vcf").read_bytes()
    for cut in range(0, len(data), 7):
        got = _read_all(data[:cut])
        if b"END:VCARD" not in data[:cut] and b"BEGIN:VCARD" in data[:cut]:
            assert any(isinstance(g, FormatError) and "END:VCARD" in g.reason for g in got)
