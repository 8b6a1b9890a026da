"""`vcf:` defects found by fault tests: symbolic links, files of several cards."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from personsync.cli import app
from personsync.errors import StoreError
from personsync.model import Contact
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.stores.base import ItemRef, read_all
from personsync.stores.card_files import file_version, insert_line
from personsync.sync import engine
from personsync.sync.options import RunOptions

CARD = (
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Lena Voss\r\nN:Voss;Lena;;;\r\n"
    b"EMAIL:lena@example.org\r\nEND:VCARD\r\n"
)


def _beside_a_card(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A folder `outside` holding a card `target.vcf`, and an empty contact folder `f`."""
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "target.vcf"
    target.write_bytes(CARD)
    folder = tmp_path / "f"
    folder.mkdir()
    return outside, target, folder


@pytest.mark.parametrize("helper", [False, True])
def test_a_symlinked_card_is_read_but_never_written_through(
    tmp_path: Path, sqlite_url: str, helper: bool
) -> None:
    # With the helper, the batch goes to the file-writing helper process.
    hooks = RunOptions(folder_options={"write_helper_from": 1} if helper else {})
    outside, target, folder = _beside_a_card(tmp_path)
    (folder / "link.vcf").symlink_to(Path("..") / "outside" / "target.vcf")
    url = f"vcf:{folder}"
    db = PersonsDB(sqlite_url)
    try:
        for _ in range(2):  # the in-place path (a Customer ID), then again: no second Person
            out = engine.run(db, url, "import", options=hooks)
            assert target.read_bytes() == CARD
            assert (folder / "link.vcf").is_symlink()
            assert db.count() == 1
            assert out.report is not None
            assert any("symbolic link" in str(e) for e in out.report.problems()), out.report
        # The replace path: an export that changes the card.
        (person,) = db.iter_persons()
        db.update(person.id, {"job_title": "Archivist"})
        out = engine.run(db, url, "export", options=replace(hooks, yes=True))
        assert target.read_bytes() == CARD and (folder / "link.vcf").is_symlink()
        assert out.report is not None and out.report.exit_code != 0
    finally:
        db.close()
    # Read like any other card.
    store = open_folder(url, create=False)
    try:
        (lena,) = [c for c in read_all(store) if isinstance(c, Contact)]
    finally:
        store.close()
    assert lena.record.first_name == "Lena"
    assert sorted(os.listdir(outside)) == ["target.vcf"]


def test_a_file_of_two_cards_is_reported_with_both_named(tmp_path: Path) -> None:
    # `both.vcf` listed as one contact, exit 0, and its second card was never named.
    bob = CARD.replace(b"Lena Voss", b"Bob Marsh").replace(b"Voss;Lena", b"Marsh;Bob")
    (tmp_path / "both.vcf").write_bytes(CARD + bob)
    (tmp_path / "one.vcf").write_bytes(CARD.replace(b"Lena", b"Ruth"))
    result = CliRunner().invoke(app, ["contacts", "list", f"vcf:{tmp_path}", "--json"])
    assert result.exit_code == 1
    listed = json.loads(result.stdout)
    assert [c["display_name"] for c in listed["contacts"]] == ["Ruth Voss"]
    (problem,) = listed["problems"]
    assert problem["source"].endswith("both.vcf") and "holds 2 cards" in problem["reason"]
    assert "Lena Voss" in problem["reason"] and "Bob Marsh" in problem["reason"]


def test_insert_line_never_follows_a_symbolic_link(tmp_path: Path) -> None:
    # A link made after the listing: the in-place write refuses it rather than follow it.
    target = tmp_path / "target.vcf"
    target.write_bytes(CARD)
    link = tmp_path / "link.vcf"
    link.symlink_to(target)
    with pytest.raises(StoreError, match="symbolic link"):
        insert_line(
            str(link), b"X-PERSONSYNC-CUSTOMER-ID:1", file_version(link.stat()), durable=False
        )
    assert target.read_bytes() == CARD


@pytest.mark.parametrize("chunk", [2, 1024])
def test_the_change_mark_counts_cards_and_links_to_cards_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    # The folder's stat pass goes `_CHUNK` files at a time; with 2, every odd entry below is
    # in a chunk of its own or beside a card, and a chunk's fallback (a broken link, a
    # directory) must drop it alone.
    from personsync.stores import vcf_folder

    monkeypatch.setattr(vcf_folder, "_CHUNK", chunk)
    outside, target, folder = _beside_a_card(tmp_path)
    for name in ("a.vcf", "B.VCF", "c d.vcf"):
        (folder / name).write_bytes(CARD.replace(b"Lena", name[0].encode()))
    (folder / "notes.txt").write_bytes(b"not a card")
    (folder / "dir.vcf").mkdir()
    (folder / "broken.vcf").symlink_to(outside / "missing.vcf")
    (folder / "to-dir.vcf").symlink_to(outside)
    (folder / "link.vcf").symlink_to(target)
    store = open_folder(f"vcf:{folder}", racy_ms=1)
    time.sleep(0.01)  # every file past the 1 ms racy margin
    marked = store.change_mark()
    assert marked is not None and marked.startswith("4-")  # a, B, c and the link
    contacts = [c for c in read_all(store) if isinstance(c, Contact)]
    assert sorted(c.record.first_name for c in contacts) == ["B", "Lena", "a", "c"]
    lena = next(c for c in contacts if c.record.first_name == "Lena")
    with pytest.raises(StoreError, match="symbolic link"):  # known as a link: never written
        store.delete(ItemRef(lena.item_id, lena.version))
    # The link's target rewritten in place, at its own mtime: its ctime changes the mark.
    mtime = target.stat().st_mtime_ns
    target.write_bytes(CARD.replace(b"Lena", b"Lina"))
    os.utime(target, ns=(mtime, mtime))
    time.sleep(0.01)
    again = store.change_mark()
    assert again is not None and again != marked
    # A broken link mended: one card more.
    (outside / "missing.vcf").write_bytes(CARD.replace(b"Lena", b"Mia"))
    time.sleep(0.01)
    assert (store.change_mark() or "").startswith("5-")
