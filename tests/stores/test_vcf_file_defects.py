"""`vcf-file:` defects found by fuzzing: repeated UIDs, mixed encodings, line ends."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from personsync.model import Contact
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.stores.base import ReadProblem, read_all
from personsync.sync import engine


def _card(name: str, uid: str, extra: str = "") -> bytes:
    first, last = name.split()
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{last};{first};;;\r\n"
        f"EMAIL:{first.lower()}@example.org\r\n{extra}END:VCARD\r\n"
    ).encode()


def _listed(url: str) -> dict[str, str]:
    store = open_folder(url, create=False)
    try:
        return {c.item_id: c.record.first_name for c in read_all(store) if isinstance(c, Contact)}
    finally:
        store.close()


def test_repeated_uid_never_drops_a_card_nor_moves_a_person(
    tmp_path: Path, sqlite_url: str
) -> None:
    # Three cards with one UID, the third with a Customer ID no Person has: made-up ids once
    # collided with the ids personsync wrote back (Bob's card vanished from the listing, the
    # next import turned Person 2 from Bob into Carl and dropped Bob's card from the file).
    path = tmp_path / "book.vcf"
    path.write_bytes(
        _card("Anna Lee", "x")
        + _card("Bob Ray", "x")
        + _card("Carl Ode", "x", "X-MS-CUSTOMERID:999\r\n")
    )
    url = f"vcf-file:{path}"
    assert sorted(_listed(url).values()) == ["Anna", "Bob", "Carl"]
    db = PersonsDB(sqlite_url)
    try:
        first = engine.run(db, url, "import")
        assert first.plan.counts()["create-person"] == 2
        assert sorted(_listed(url).values()) == ["Anna", "Bob", "Carl"]
        names = {p.id: p.record.first_name for p in db.iter_persons()}
        second = engine.run(db, url, "import")
        assert second.plan.counts().get("update-person", 0) == 0
        assert second.plan.counts().get("create-person", 0) == 0
        assert {p.id: p.record.first_name for p in db.iter_persons()} == names
        assert sorted(names.values()) == ["Anna", "Bob"]
        listed = _listed(url)
        assert sorted(listed.values()) == ["Anna", "Bob", "Carl"] and len(listed) == 3
        assert path.read_bytes().count(b"BEGIN:VCARD") == 3
    finally:
        db.close()


def test_made_up_ids_avoid_every_uid_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "book.vcf"
    path.write_bytes(_card("Anna Lee", "x") + _card("Bob Ray", "x") + _card("Carl Ode", "x-2"))
    assert _listed(f"vcf-file:{path}") == {"x": "Anna", "x-3": "Bob", "x-2": "Carl"}


def test_one_bad_byte_never_garbles_the_other_cards(tmp_path: Path) -> None:
    # One card in UTF-8, one with a cp1252 byte: the whole file was read as cp1252 (Zoë
    # became ZoÃ«) and written back double-encoded, without a word.
    path = tmp_path / "mixed.vcf"
    zoe = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zoë Müller\r\nN:Müller;Zoë;;;\r\nEND:VCARD\r\n"
    cafe = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Caf\r\nNOTE:caf\xe9\r\nEND:VCARD\r\n"
    original = zoe.encode() + cafe
    path.write_bytes(original)
    store = open_folder(f"vcf-file:{path}")
    try:
        got = {c.record.first_name: c for c in read_all(store) if isinstance(c, Contact)}
        assert got["Zoë"].record.last_name == "Müller" and not got["Zoë"].unmapped
        # The guessed card is read as cp1252 and says so.
        assert got["Ann"].record.notes == "café"
        assert any("not UTF-8" in m and "cp1252" in m for m in got["Ann"].unmapped)
        # Rewriting one card leaves the other's bytes as they were.
        zoe_card = got["Zoë"]
        store.update(
            zoe_card, replace(zoe_card, record=zoe_card.record.replace({"job_title": "Chef"}))
        )
        store.flush()
    finally:
        store.close()
    data = path.read_bytes()
    assert cafe in data and "Zoë Müller".encode() in data and b"\xc3\x83" not in data


def test_crcrlf_and_lone_cr_files_are_read(tmp_path: Path) -> None:
    cards = _card("Anna Lee", "a") + _card("Bob Ray", "b")
    for name, newline in (("crcrlf", b"\r\r\n"), ("cr", b"\r")):
        path = tmp_path / f"{name}.vcf"
        path.write_bytes(cards.replace(b"\r\n", newline))
        store = open_folder(f"vcf-file:{path}")
        try:
            got = list(read_all(store))
        finally:
            store.close()
        assert not [g for g in got if isinstance(g, ReadProblem)], name
        assert {c.item_id: c.record.first_name for c in got if isinstance(c, Contact)} == {
            "a": "Anna",
            "b": "Bob",
        }, name
