"""`vcf-file:` store: many cards in one file, batched atomic rewrites, external changes."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

import pytest

from personsync.errors import ConflictError
from personsync.formats.vcard import read_cards
from personsync.model import Contact, Record
from personsync.stores import open_folder
from personsync.stores.base import ReadProblem, get_one
from personsync.stores.vcf_file import VcfFileStore
from realworld import real_vcards

REAL = real_vcards()


def cards_in(path: Path) -> list[Contact]:
    return [c for c in read_cards(path.read_bytes()) if isinstance(c, Contact)]


def test_creates_are_batched_and_flushed(tmp_path: Path) -> None:
    path = tmp_path / "cards.vcf"
    store = open_folder(f"vcf-file:{path}")
    refs = [store.create(Contact(Record(first_name=f"P{i}"))) for i in range(50)]
    store.close()
    assert [c.record.first_name for c in cards_in(path)] == [f"P{i}" for i in range(50)]
    assert [c.item_id for c in cards_in(path)] == [r.item_id for r in refs]
    again = open_folder(f"vcf-file:{path}")
    assert list(again.list_items()) == refs  # ids and versions survive a reload


def test_many_single_creates_are_not_quadratic(tmp_path: Path) -> None:
    store = open_folder(f"vcf-file:{tmp_path / 'big.vcf'}")
    start = time.perf_counter()
    for i in range(5000):
        store.create(Contact(Record(first_name="N", last_name=str(i))))
    store.close()
    assert time.perf_counter() - start < 10
    assert len(cards_in(tmp_path / "big.vcf")) == 5000


def test_versions_conflicts_and_external_edits(tmp_path: Path) -> None:
    path = tmp_path / "cards.vcf"
    store = open_folder(f"vcf-file:{path}")
    a, b = store.create_many([Contact(Record(first_name="A")), Contact(Record(first_name="B"))])
    assert not isinstance(a, Exception) and not isinstance(b, Exception)
    old = get_one(store, a.item_id)
    assert old is not None and old.version == a.version
    new = store.update(old, dataclasses.replace(old, record=Record(first_name="A2")))
    assert new.version != a.version
    with pytest.raises(ConflictError):
        store.update(old, old)
    store.close()
    # Another program edits card B; this store sees the file changed and reloads it.
    path.write_bytes(path.read_bytes().replace(b"FN:B", b"FN:Bee").replace(b"N:;B;", b"N:;Bee;"))
    versions = {r.item_id: r.version for r in store.list_items()}
    assert versions[a.item_id] == new.version and versions[b.item_id] != b.version
    got_b = get_one(store, b.item_id)
    assert got_b is not None and got_b.record.first_name == "Bee"
    with pytest.raises(ConflictError):
        store.delete(b)
    store.delete(dataclasses.replace(b, version=got_b.version))
    store.close()
    assert [c.record.first_name for c in cards_in(path)] == ["A2"]


def test_unsaved_changes_are_refused_when_the_file_changed(tmp_path: Path) -> None:
    path = tmp_path / "cards.vcf"
    store = VcfFileStore(path, "vcf-file:x")
    store.create(Contact(Record(first_name="Mine")))
    path.write_bytes(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Theirs\r\nEND:VCARD\r\n")
    with pytest.raises(ConflictError):
        store.flush()
    assert b"Theirs" in path.read_bytes() and b"Mine" not in path.read_bytes()


def test_foreign_file_keeps_bad_cards_and_gets_utf8(tmp_path: Path) -> None:
    path = tmp_path / "outlook.vcf"
    junk = b"BEGIN:VCARD\r\nVERSION:3.0\r\nno colon here\r\nEND:VCARD\r\n"
    data = (REAL / "outlook-2003.vcf").read_bytes().replace(b"Joey", "Jö".encode("cp1252"))
    path.write_bytes(
        b"preamble text\r\n" + data + junk + (REAL / "rfc2426-example.vcf").read_bytes()
    )
    store = open_folder(f"vcf-file:{path}")
    refs = list(store.list_items())
    assert len(refs) == 4 and refs[0].item_id.startswith("vcard-")  # no UID: content hash
    got = list(store.get_many([r.item_id for r in refs]))
    problems = [g for g in got if isinstance(g, ReadProblem)]
    assert len(problems) == 1 and "outlook.vcf, line" in str(problems[0].error)
    assert "no ':'" in str(problems[0].error)
    first = got[0]
    assert isinstance(first, Contact) and first.record.nickname == "Jö"
    store.update(first, dataclasses.replace(first, customer_id="9"))
    store.close()
    text = path.read_bytes()
    text.decode("utf-8")  # rewritten as UTF-8
    assert text.startswith(b"preamble text") and b"no colon here" in text  # nothing lost
    assert f"UID:{first.item_id}".encode() in text  # its id is now permanent
    again = {r.item_id for r in open_folder(f"vcf-file:{path}").list_items()}
    assert again == {r.item_id for r in refs}
    (found,) = open_folder(f"vcf-file:{path}").find_by_customer_id("9")
    assert found.record.last_name == "Doe"


def test_flush_leaves_no_temp_files(tmp_path: Path) -> None:
    shutil.copy(REAL / "outlook-2007.vcf", tmp_path / "c.vcf")
    store = open_folder(f"vcf-file:{tmp_path / 'c.vcf'}")
    store.create(Contact(Record(first_name="New")))
    store.close()
    assert os.listdir(tmp_path) == ["c.vcf"]
    assert len(cards_in(tmp_path / "c.vcf")) == 2


def test_a_text_file_with_no_card_is_refused_not_listed_as_empty(tmp_path: Path) -> None:
    from personsync.errors import FormatError
    from personsync.stores import open_folder

    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\nmilk\n", encoding="utf-8")
    with pytest.raises(FormatError, match="no vCard"):
        open_folder(f"vcf-file:{notes}").list_items()
    assert notes.read_text(encoding="utf-8") == "shopping list\nmilk\n"
