"""A Customer ID put into a card in place (stores/card_files.py), directly and through the vCard
folder, in this process and in its helper: only the one line is new, every other byte stays."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from personsync.errors import ConflictError, ItemNotFound, StoreError
from personsync.formats.vcard import read_cards
from personsync.model import Contact
from personsync.stores import open_folder
from personsync.stores.base import ItemRef
from personsync.stores.card_files import customer_id_line, file_version, insert_line

CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\nEND:VCARD\r\n"


def _put(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return file_version(os.stat(path))


def _read_one(path: Path) -> Contact:
    (got,) = read_cards(path.read_bytes())
    assert isinstance(got, Contact)
    return got


@pytest.mark.parametrize("eol", ["\r\n", "\n", "\r"])
def test_the_line_goes_before_the_first_end_in_the_files_own_line_ends(tmp_path, eol):
    path = tmp_path / "a.vcf"
    card = CARD.replace("\r\n", eol)
    version = _put(path, card.encode())
    stat = insert_line(str(path), b"X-PERSONSYNC-CUSTOMER-ID:7", version, durable=True)
    expected = card.replace("END:VCARD", f"X-PERSONSYNC-CUSTOMER-ID:7{eol}END:VCARD")
    assert path.read_bytes() == expected.encode()
    assert file_version(stat) == file_version(os.stat(path))
    assert _read_one(path).customer_id == "7"


def test_an_empty_customer_id_already_in_the_card_gives_way(tmp_path):
    path = tmp_path / "a.vcf"
    version = _put(path, CARD.replace("END:", "X-PERSONSYNC-CUSTOMER-ID:\r\nEND:").encode())
    insert_line(str(path), b"X-PERSONSYNC-CUSTOMER-ID:8", version, durable=False)
    assert _read_one(path).customer_id == "8"


def test_a_file_in_the_windows_code_page_keeps_its_bytes(tmp_path):
    path = tmp_path / "a.vcf"
    data = CARD.replace("Ann Lee", "Zoë Lee").encode("cp1252")
    version = _put(path, data)
    insert_line(str(path), b"X-PERSONSYNC-CUSTOMER-ID:9", version, durable=False)
    assert path.read_bytes() == data.replace(b"END:", b"X-PERSONSYNC-CUSTOMER-ID:9\r\nEND:")
    assert _read_one(path).record.first_name == "Ann"  # N wins over FN
    assert _read_one(path).customer_id == "9"


def test_a_changed_missing_or_cardless_file_is_left_as_it_is(tmp_path):
    path = tmp_path / "a.vcf"
    version = _put(path, CARD.encode())
    path.write_bytes(CARD.replace("Ann", "Anne").encode())  # changed by someone else
    os.utime(path, ns=(1, 1))
    with pytest.raises(ConflictError, match=r"a\.vcf changed since it was read"):
        insert_line(str(path), b"X-PERSONSYNC-CUSTOMER-ID:1", version, durable=False)
    assert b"CUSTOMER-ID" not in path.read_bytes()
    with pytest.raises(ItemNotFound, match=r"gone\.vcf"):
        insert_line(str(tmp_path / "gone.vcf"), b"X:1", version, durable=False)
    junk = tmp_path / "junk.vcf"
    junk_version = _put(junk, b"END:VCARD\r\nnot a card\r\n")
    with pytest.raises(StoreError, match="no card"):
        insert_line(str(junk), b"X:1", junk_version, durable=False)
    assert junk.read_bytes() == b"END:VCARD\r\nnot a card\r\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.vcf", "junk.vcf"]  # no temp files


def test_only_plain_ids_are_put_in_as_they_are():
    assert customer_id_line("12") == b"X-PERSONSYNC-CUSTOMER-ID:12"
    assert customer_id_line("a,b;c") is None  # would need escaping
    assert customer_id_line("x" * 41) is None  # might need folding


@pytest.mark.parametrize("helper", [False, True], ids=["in-process", "helper"])
def test_the_folder_writes_links_back_in_place_and_renders_other_changes(
    tmp_path, monkeypatch, helper
):
    helper_from = {"write_helper_from": 1} if helper else {}
    originals = {}
    for n in range(3):
        data = CARD.replace("Ann", f"Ann{n}").replace("VERSION:3.0\r\n", "VERSION:3.0\r\nX-A:1\r\n")
        originals[f"c{n}"] = data.encode()
        (tmp_path / f"c{n}.vcf").write_bytes(data.encode())
    store = open_folder(f"vcf:{tmp_path}", **helper_from)
    old = {c.item_id: c for c in store.get_many(sorted(r.item_id for r in store.list_items()))}
    (tmp_path / "c2.vcf").write_bytes(originals["c2"] + b"\r\n")  # changed after it was read
    pairs = [
        (old["c0"], dataclasses.replace(old["c0"], customer_id="10")),
        (old["c1"], dataclasses.replace(old["c1"], customer_id="a,b")),  # not plain: rendered
        (old["c2"], dataclasses.replace(old["c2"], customer_id="12")),
    ]
    results = store.update_many(pairs)
    store.close()
    line = b"X-PERSONSYNC-CUSTOMER-ID:10\r\n"
    assert (tmp_path / "c0.vcf").read_bytes() == originals["c0"].replace(b"END:", line + b"END:")
    assert isinstance(results[0], ItemRef)
    assert results[0].version == file_version(os.stat(tmp_path / "c0.vcf"))
    rendered = _read_one(tmp_path / "c1.vcf")
    assert rendered.customer_id == "a,b" and rendered.record == old["c1"].record
    assert isinstance(results[2], StoreError) and "changed since it was read" in str(results[2])
    assert (tmp_path / "c2.vcf").read_bytes() == originals["c2"] + b"\r\n"


@pytest.mark.parametrize("version", [None, "2.1", "4.0"])
def test_new_cards_rendered_by_the_helper_are_the_bytes_this_process_renders(
    tmp_path, monkeypatch, version
):
    from personsync.persons.sample import generate
    from personsync.stores.vcf_folder import VcfFolderStore

    records = list(generate(60, 5))
    assert any(r.birthday for r in records) and any(r.categories for r in records)
    contacts = [Contact(r, item_id=f"c{n}", customer_id=str(n)) for n, r in enumerate(records)]
    files = {}
    for where, min_batch in (("here", 100000), ("helper", 1)):
        (tmp_path / where).mkdir()
        store = VcfFolderStore(
            tmp_path / where,
            f"vcf:{tmp_path / where}",
            version=version,
            write_helper_from=min_batch,
        )
        refs = store.create_many(contacts)
        store.close()
        assert all(isinstance(r, ItemRef) for r in refs)
        files[where] = {p.name: p.read_bytes() for p in (tmp_path / where).iterdir()}
    assert len(files["here"]) == 60 and files["helper"] == files["here"]


def test_the_pipe_to_the_helper_holds_two_chunks(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    if not hasattr(fcntl, "F_GETPIPE_SZ"):
        pytest.skip("no pipe sizes here")
    from personsync.stores.file_writer import PIPE_BYTES, FileWriter

    writer = FileWriter("test")
    try:
        writer.send([(str(tmp_path / "a.vcf"), b"A", True)])
        proc = writer._proc
        assert proc is not None and proc.stdin is not None
        assert fcntl.fcntl(proc.stdin.fileno(), fcntl.F_GETPIPE_SZ) == PIPE_BYTES
        assert writer.collect(writer.end_batch(sync=False))[0][1] == 1
    finally:
        writer.close()


# --- in place, and mended after a power cut -------------------------------------------------------

LINE = b"X-PERSONSYNC-CUSTOMER-ID:4711"


@pytest.mark.parametrize("eol", ["\r\n", "\n"])
def test_a_card_ending_the_file_gets_its_line_in_place(tmp_path, eol):
    path = tmp_path / "a.vcf"
    version = _put(path, CARD.replace("\r\n", eol).encode())
    inode = os.stat(path).st_ino
    stat = insert_line(str(path), LINE, version, durable=False)
    assert os.stat(path).st_ino == inode == stat.st_ino  # the same file, grown
    assert file_version(stat) != version  # and its version moved on
    assert (
        path.read_bytes()
        == CARD.replace("END:", "X-PERSONSYNC-CUSTOMER-ID:4711\r\nEND:")
        .replace("\r\n", eol)
        .encode()
    )


@pytest.mark.parametrize(
    "data",
    [
        CARD.replace("\r\n", "\r"),  # CR alone: not a line end mend_insert looks for
        CARD + CARD,  # more cards follow the first
        CARD + "\r\n",  # a blank line after the card
        CARD.replace("END:VCARD", "end:vcard"),  # not written as personsync writes it
        CARD.replace("N:Lee;Ann;;;\r\n", "N:Lee;Ann;;;\n"),  # another line end before END
        # The old end starts 6 bytes before a page ends: the new end would cross into the next.
        CARD.replace(
            "FN:Ann Lee", "NOTE:" + "x" * (4090 - len(CARD) + len("FN:Ann LeeEND:VCARD\r\n") - 5)
        ),
    ],
    ids=["cr", "two-cards", "blank-line", "lower-case", "lf-before-end", "page"],
)
def test_any_other_card_is_written_anew_atomically(tmp_path, data):
    path = tmp_path / "a.vcf"
    version = _put(path, data.encode())
    with open(path, "rb") as old:  # holds the old inode, so the new file cannot reuse its number
        insert_line(str(path), LINE, version, durable=False)
        assert os.stat(path).st_ino != os.fstat(old.fileno()).st_ino
        assert old.read() == data.encode()
    first = next(iter(read_cards(path.read_bytes())))
    assert isinstance(first, Contact) and first.customer_id == "4711"


def test_a_card_with_other_names_is_replaced_so_they_keep_the_old_bytes(tmp_path):
    path = tmp_path / "a.vcf"
    version = _put(path, CARD.encode())
    backup = tmp_path / "backup.vcf"  # a snapshot made of hard links (cp -al, rsnapshot)
    os.link(path, backup)
    insert_line(str(path), LINE, version, durable=False)
    assert backup.read_bytes() == CARD.encode()
    assert _read_one(path).customer_id == "4711"


def test_without_pwrite_the_card_is_replaced(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "pwrite")  # as on Windows
    path = tmp_path / "a.vcf"
    version = _put(path, CARD.encode())
    with open(path, "rb") as old:
        insert_line(str(path), LINE, version, durable=False)
        assert os.stat(path).st_ino != os.fstat(old.fileno()).st_ino
    assert _read_one(path).customer_id == "4711"


def _torn_states(whole_old: bytes, whole_new: bytes) -> list[bytes]:
    """What a power cut can leave of an in-place write: the size old or new, and from where the
    old end began, runs of bytes old, new or zero, as pages and disk sectors were written."""
    common = len(whole_old) - len(b"END:VCARD\r\n") + (b"\r\n" not in whole_old)
    old = whole_old[common:] + bytes(len(whole_new) - len(whole_old))
    new = whole_new[common:]
    zero = bytes(len(new))
    states = set()
    for size in (len(whole_old), len(whole_new)):
        for cut in range(len(new) + 1):
            for first, second in [(new, old), (old, new), (new, zero), (zero, new), (zero, old)]:
                states.add((whole_old[:common] + first[:cut] + second[cut:])[:size])
    return sorted(states - {whole_old, whole_new})


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"])
def test_every_state_a_power_cut_can_leave_is_mended_to_the_new_card(eol):
    from personsync.stores.card_files import mend_insert

    old = CARD.encode().replace(b"\r\n", eol)
    new = old.replace(b"END:", LINE + eol + b"END:")
    states = _torn_states(old, new)
    assert len(states) > 40
    for state in states:
        assert mend_insert(state, len(old), LINE) == new, state
    assert mend_insert(old, len(old), LINE) is None  # whole before the write
    assert mend_insert(new, len(old), LINE) is None  # whole after it


def test_a_card_changed_since_is_not_mended():
    from personsync.stores.card_files import mend_insert

    old = CARD.encode()
    edited = old.replace(b"Ann Lee", b"Ann Lea").replace(b"END:VCARD\r\n", b"END:VCARX\r\n")
    assert mend_insert(edited, len(old), LINE) is None  # same size, another last line
    assert mend_insert(old + b"NOTE:x\r\n", len(old), LINE) is None  # another size
    assert mend_insert(old[:-3], len(old), LINE) is None  # cut by someone else
    assert mend_insert(old, len(old), b"X-PERSONSYNC-CUSTOMER-ID:4712") is None


def test_the_folder_mends_only_what_an_interrupted_write_left_half_made(tmp_path):
    from personsync.stores.base import InterruptedWrite

    originals = {n: CARD.replace("Ann", f"Ann{n}").encode() for n in "abc"}
    versions = {n: _put(tmp_path / f"{n}.vcf", data) for n, data in originals.items()}
    cut = len(originals["a"]) - len(b"END:VCARD\r\n")
    torn = originals["a"][:cut] + LINE[:5] + originals["a"][cut + 5 :]  # a sector of it
    (tmp_path / "a.vcf").write_bytes(torn)
    (tmp_path / "c.vcf").write_bytes(originals["c"].replace(b"Ann", b"Bob"))  # edited since
    store = open_folder(f"vcf:{tmp_path}")
    writes = [InterruptedWrite(n, versions[n], "4711") for n in "abc"]
    writes.append(InterruptedWrite("gone", versions["a"], "4711"))
    mended = store.finish_interrupted(writes)
    store.close()
    assert len(mended) == 1 and mended[0].startswith("a.vcf: ")
    assert (tmp_path / "a.vcf").read_bytes() == originals["a"].replace(b"END:", LINE + b"\r\nEND:")
    assert _read_one(tmp_path / "a.vcf").customer_id == "4711"
    assert (tmp_path / "b.vcf").read_bytes() == originals["b"]  # never written: left alone
    assert (tmp_path / "c.vcf").read_bytes() == originals["c"].replace(b"Ann", b"Bob")
