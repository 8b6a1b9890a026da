"""Fuzzing the file stores (`vcf:`, `vcf-file:`, `csv:`) with thousands of mutated records
among good ones, seeded: no exception escapes, nothing hangs, every good record is read with
its exact values, and every bad record is named (read as a contact, or reported by a problem or
a warning that points at it). The codec alone is fuzzed in tests/formats."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mutations import mutate
from personsync.formats.vcard import card_starts, write_card
from personsync.model import Contact, Record
from personsync.stores import open_folder
from personsync.stores.base import ReadProblem

SEED = 20261205
INSERTS = [b"=", b";", b":", b"\r\n", b"\n", b"\r", b"\r\n ", b"=\r\n", b"\\", b",", b"\x00"]
INSERTS += [b"\xff", b"\xe9", b"BEGIN:VCARD\r\n", b"END:VCARD\r\n", b"VERSION:9.9\r\n"]
pytestmark = pytest.mark.timeout(120)  # a hang fails, rather than stalling the suite


def _good(i: int) -> Record:
    return Record(
        first_name=f"Zoë{i}",
        last_name="Müller-Good",
        email1=f"good{i}@example.org",
        business_phone=f"+1 212 555 {i:04d}",
        company="Acme; Sons, Ltd",
        notes=f"line one\nline two: {i}",
    )


def _bad_seed(k: int, rng: random.Random) -> bytes:
    record = Record(
        first_name=f"Bad{k}",
        last_name="Card",
        email1=f"bad{k}@example.org",
        mobile_phone="+44 20 7946 0000",
        notes="a;b,c\\d",
        home_street="1 Main St\nFlat 2",
    )
    return write_card(Contact(record, item_id=f"bad-{k}"), rng.choice(("2.1", "3.0", "4.0")))


def _read(url: str) -> list[Contact | ReadProblem]:
    store = open_folder(url, create=False)
    try:
        ids = [ref.item_id for ref in store.list_items()]
        got = list(store.get_many(ids))
    finally:
        store.close()
    assert len(got) == len(ids)  # one answer per item listed: none dropped
    assert [g.item_id for g in got] == ids
    return got


def _assert_good(contact: Contact | ReadProblem, expected: Record) -> None:
    assert isinstance(contact, Contact), contact
    for name in ("first_name", "last_name", "email1", "business_phone", "company", "notes"):
        assert getattr(contact.record, name) == getattr(expected, name), name


def test_vcf_file_of_mutated_and_good_cards(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    records: list[tuple[int, bytes, int]] = []  # (good index or -1 - bad index, bytes, offset)
    offset = 0
    order = [("good", 0)] + [("good", i) for i in range(1, 500)] + [("bad", k) for k in range(2500)]
    rng.shuffle(order[1:])  # the first record is a good card: text before a file's first card
    order = [order[0], *rng.sample(order[1:], len(order) - 1)]  # is its preamble, kept as is
    for kind, n in order:
        if kind == "good":
            data = write_card(Contact(_good(n), item_id=f"good-{n}"), "3.0")
            records.append((n, data, offset))
        else:
            data = mutate(_bad_seed(n, rng), rng, INSERTS, rounds=6) + b"\r\n"
            records.append((-1 - n, data, offset))
        offset += len(data)
    path = tmp_path / "fuzz.vcf"
    whole = b"".join(data for _, data, _ in records)
    path.write_bytes(whole)
    got = _read(f"vcf-file:{path}")
    starts = card_starts(whole)
    assert len(got) == len(starts)
    # The record each card (item) starts in; items are listed in file order.
    owner_of_start: dict[int, int] = {}
    r = 0
    for j, start in enumerate(starts):
        while r + 1 < len(records) and records[r + 1][2] <= start:
            r += 1
        owner_of_start[r] = j
    item = -1
    for r, (n, data, _) in enumerate(records):
        if r in owner_of_start:
            item = owner_of_start[r]
            if n >= 0:
                _assert_good(got[item], _good(n))
            continue
        # A bad card that lost its BEGIN line lies in the card before it, which names it: as
        # text after its end (`line N: …`), or, read as more of its lines when that card lost
        # its END, as values the record cannot hold; or the card is reported.
        assert n < 0 and item >= 0
        if data.strip(b" \t\r\n\x1a"):
            holder = got[item]
            assert isinstance(holder, ReadProblem) or holder.unmapped, (data, holder)


def test_vcf_folder_of_mutated_and_good_cards(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    folder = tmp_path / "cards"
    folder.mkdir()
    for i in range(150):
        (folder / f"good-{i}.vcf").write_bytes(write_card(Contact(_good(i)), "3.0"))
    for k in range(1500):
        (folder / f"bad-{k}.vcf").write_bytes(mutate(_bad_seed(k, rng), rng, INSERTS, rounds=6))
    got = {g.item_id: g for g in _read(f"vcf:{folder}")}
    assert len(got) == 1650
    for i in range(150):
        _assert_good(got[f"good-{i}"], _good(i))
    for k in range(1500):
        bad = got[f"bad-{k}"]
        if isinstance(bad, ReadProblem):
            assert bad.error.source.endswith(f"bad-{k}.vcf")  # named by its file


CSV_HEADER = (
    "First Name,Last Name,E-mail Address,Business Phone,Company,Notes,Birthday,"
    "personsync Item ID\r\n"
)
CSV_INSERTS = [b",", b"\r\n", b"\n", b"\r", b";", b"\xff", b"\xe9", b"\x00", b"'", b"=1+1"]


def _good_row(i: int) -> bytes:
    r = _good(i)
    return (
        f"{r.first_name},{r.last_name},{r.email1},{r.business_phone},Acme Sons Ltd,note {i},,\r\n"
    ).encode()


def test_csv_of_mutated_and_good_rows(tmp_path: Path) -> None:
    rng = random.Random(SEED + 2)
    rows: list[tuple[int, bytes]] = []
    for i in range(500):
        rows.append((i, _good_row(i)))
    for k in range(2500):
        seed = f"Bad{k},Row,bad{k}@example.org,555 {k},Co,a note,3/22/1980,\r\n".encode()
        # No quote characters: a quote opened by a mutation rightly holds every line after it.
        data = mutate(seed, rng, CSV_INSERTS, rounds=6).replace(b'"', b"")
        if k % 50 == 0:
            data = b",,,,,,,\r\n"  # an all-empty row
        rows.append((-1 - k, data if data.endswith((b"\n", b"\r")) else data + b"\r\n"))
    rows = [rows[0], *rng.sample(rows[1:], len(rows) - 1)]
    path = tmp_path / "fuzz.csv"
    path.write_bytes(CSV_HEADER.encode() + b"".join(data for _, data in rows))
    got = _read(f"csv:{path}")
    good = {g.record.email1: g for g in got if isinstance(g, Contact)}
    for i in range(500):
        expected = _good(i).replace({"company": "Acme Sons Ltd", "notes": f"note {i}"})
        _assert_good(good[f"good{i}@example.org"], expected)
    # Every line with something in it is one item: a contact or a problem naming its line.
    text = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = [n for n, line in enumerate(text.split(b"\n")[1:], 2) if line.strip()]
    assert len(got) == len(lines)
    named = {g.error.line for g in got if isinstance(g, ReadProblem)}
    assert named <= set(lines)
    assert sum("empty row" in str(g.error) for g in got if isinstance(g, ReadProblem)) >= 50
