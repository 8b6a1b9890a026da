"""`vcf:` folder store: safe file names, atomic writes, versions, conflicts, foreign files."""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import uuid
from pathlib import Path

import pytest

from personsync.errors import ConflictError, FolderNotFound, StoreError
from personsync.formats.vcard import read_cards
from personsync.model import Contact, Record
from personsync.stores import atomic, list_folders, open_folder, vcf_folder
from personsync.stores.base import ItemRef, ReadProblem, get_one
from personsync.stores.card_files import file_version
from personsync.stores.vcf_names import decode_stem, encode_uid, suffix_of
from realworld import real_vcards

REAL = real_vcards()
NASTY_UIDS = [
    "../../etc/passwd",
    "a/b\\c",
    "nul\0byte",
    "..",
    ".hidden",
    "CON",
    "con.txt",
    "Abc",
    "abc",
    "x" * 400,
    "ü😀 space",
    "",
]


@pytest.mark.parametrize("uid", NASTY_UIDS[:-1])
def test_file_names_stay_inside_and_decode_back(uid: str, tmp_path: Path) -> None:
    stem = encode_uid(uid)
    assert "/" not in stem and "\\" not in stem and "\0" not in stem
    assert not stem.startswith(".") and len(stem.encode()) <= 200
    assert stem.lower().partition(".")[0] not in {"con", "nul"}
    if len(uid) < 100:
        assert decode_stem(stem) == uid
    store = open_folder(f"vcf:{tmp_path / 'f'}")
    ref = store.create(Contact(Record(first_name="A"), item_id=uid))
    (written,) = os.listdir(tmp_path / "f")
    assert (tmp_path / "f" / written).is_file() and written == stem + ".vcf"
    contact = get_one(store, ref.item_id)
    assert contact is not None and contact.item_id == ref.item_id
    assert dataclasses.replace(contact.extra, read_record=contact.record).uid == uid


def test_case_only_difference_gives_different_names() -> None:
    assert encode_uid("Abc").lower() != encode_uid("abc").lower()
    uuid_like = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
    assert encode_uid(uuid_like) == uuid_like  # readable when already safe


def test_crud_versions_and_conflicts(tmp_path: Path) -> None:
    store = open_folder(f"vcf:{tmp_path}")
    ref = store.create(Contact(Record(first_name="Ann", notes="x"), customer_id="5"))
    (listed,) = store.list_items()
    assert listed == ref
    old = get_one(store, ref.item_id)
    assert old is not None and old.version == ref.version and old.customer_id == "5"
    new_ref = store.update(old, dataclasses.replace(old, record=old.record.replace({"notes": "y"})))
    assert new_ref.version != ref.version
    with pytest.raises(ConflictError):
        store.update(old, old)  # stale version
    # An edit by another program changes the version (same size, new mtime).
    path = tmp_path / f"Ann-{ref.item_id}.vcf"  # a new file's readable name (vcf_names)
    data = path.read_bytes().replace(b"NOTE:y", b"NOTE:z")
    path.write_bytes(data)
    os.utime(path, ns=(1, 1))
    (after,) = store.list_items()
    assert after.version != new_ref.version
    with pytest.raises(ConflictError):
        store.delete(new_ref)
    store.delete(after)
    assert list(store.list_items()) == [] and os.listdir(tmp_path) == []


def test_listing_does_not_parse_and_bad_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "garbage.vcf").write_bytes(os.urandom(3000))
    (tmp_path / "empty.vcf").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a card")
    store = open_folder(f"vcf:{tmp_path}")
    good = store.create(Contact(Record(first_name="Good")))
    ids = sorted(ref.item_id for ref in store.list_items())
    assert ids == sorted(["garbage", "empty", good.item_id])
    got = {g.item_id: g for g in store.get_many(ids)}
    assert isinstance(got[good.item_id], Contact)
    for bad in ("garbage", "empty"):
        problem = got[bad]
        assert isinstance(problem, ReadProblem) and f"{bad}.vcf" in str(problem.error)


def test_atomic_write_failure_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_folder(f"vcf:{tmp_path}")
    ref = store.create(Contact(Record(first_name="Ann")))
    before = (tmp_path / f"Ann-{ref.item_id}.vcf").read_bytes()
    old = get_one(store, ref.item_id)
    assert old is not None

    def disk_full(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", disk_full)
    with pytest.raises(StoreError, match="No space left"):
        store.update(old, dataclasses.replace(old, record=Record(first_name="Bob")))
    monkeypatch.undo()
    assert (tmp_path / f"Ann-{ref.item_id}.vcf").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [f"Ann-{ref.item_id}.vcf"]  # no temp file left
    assert get_one(store, ref.item_id) == old


def test_outlook_files_keep_their_lines_and_other_cards(tmp_path: Path) -> None:
    for f in REAL.glob("*.vcf"):
        shutil.copy(f, tmp_path / f.name)
    store = open_folder(f"vcf:{tmp_path}")
    ids = {ref.item_id for ref in store.list_items()}
    assert "John_Doe_MS_OUTLOOK" in ids and "outlook-2007" in ids
    got = {c.item_id: c for c in store.get_many(sorted(ids))}
    contacts = {i: c for i, c in got.items() if isinstance(c, Contact)}
    assert len(contacts) == 4
    # A file of two cards is one contact here: reported, both cards named, neither synced.
    two = got["rfc2426-example"]
    assert isinstance(two, ReadProblem) and "holds 2 cards" in str(two.error)
    assert "Frank Dawson" in str(two.error) and "Tim Howes" in str(two.error)
    outlook = contacts["outlook-2007"]
    inode = os.stat(tmp_path / "outlook-2007.vcf").st_ino
    store.update(outlook, dataclasses.replace(outlook, customer_id="12"))
    text = (tmp_path / "outlook-2007.vcf").read_bytes()
    # Outlook's card ends its file with END:VCARD: the line went in in place (card_files).
    assert os.stat(tmp_path / "outlook-2007.vcf").st_ino == inode
    # A link written back changes nothing but the Customer ID: Outlook's bytes all stay.
    original = (REAL / "outlook-2007.vcf").read_bytes()
    at = original.rindex(b"END:VCARD")
    assert text == original[:at] + b"X-PERSONSYNC-CUSTOMER-ID:12\r\n" + original[at:]
    # Any other change renders the card again, in its own version, keeping what it does not map.
    (found,) = store.find_by_customer_id("12")
    store.update(found, dataclasses.replace(found, record=found.record.replace({"suffix": "Sr."})))
    text = (tmp_path / "outlook-2007.vcf").read_bytes()
    assert text.startswith(b"BEGIN:VCARD\r\nVERSION:2.1\r\n")  # rewritten in its own version
    assert b"X-PERSONSYNC-CUSTOMER-ID:12" in text and b"X-MS-SPOUSE:TheSpouse" in text
    assert b"PHOTO" in text and b"UID:outlook-2007" in text and b"Sr." in text
    outlook = dataclasses.replace(outlook, record=outlook.record.replace({"suffix": "Sr."}))
    (found,) = store.find_by_customer_id("12")
    assert found.item_id == "outlook-2007" and found.record == outlook.record


def test_open_and_list_folders(tmp_path: Path) -> None:
    with pytest.raises(FolderNotFound):
        open_folder(f"vcf:{tmp_path / 'missing'}", create=False)
    open_folder(f"vcf:{tmp_path / 'made' / 'deep'}", create=True)
    assert (tmp_path / "made" / "deep").is_dir()
    (tmp_path / "made" / "sub").mkdir()
    (tmp_path / "made" / "sub" / "a.vcf").write_bytes(b"")
    assert list_folders(f"vcf:{tmp_path / 'made'}") == [
        f"vcf:{tmp_path / 'made'}",
        f"vcf:{tmp_path / 'made' / 'sub'}",
    ]
    (tmp_path / "file.vcf").write_bytes(b"")
    with pytest.raises(StoreError) as info:
        open_folder(f"vcf:{tmp_path / 'file.vcf'}")
    assert "vcf-file:" in info.value.hint


def test_foreign_file_and_uid_never_share_an_id(tmp_path: Path) -> None:
    (tmp_path / "Foo.vcf").write_bytes(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Foreign\r\nEND:VCARD\r\n")
    store = open_folder(f"vcf:{tmp_path}")
    ref = store.create(Contact(Record(first_name="Mine"), item_id="Foo"))
    assert ref.item_id != "Foo"  # the wish is taken by the foreign file: a new uid instead
    (tmp_path / "%46oo.vcf").write_bytes(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Made\r\nEND:VCARD\r\n")
    for _ in range(3):
        ids = {r.item_id for r in store.list_items()}
        assert {"Foo", "Foo.vcf", ref.item_id} == ids
    made, foreign = get_one(store, "Foo"), get_one(store, "Foo.vcf")
    assert made is not None and foreign is not None
    assert (made.record.first_name, foreign.record.first_name) == ("Made", "Foreign")


def test_update_without_re_read_still_keeps_cards_added_since(tmp_path: Path) -> None:
    # Updates of a file read here as one card skip re-reading it: a card appended by another
    # program since must turn that into a conflict, and a re-read update must keep both cards.
    store = open_folder(f"vcf:{tmp_path}")
    ref = store.create(Contact(Record(first_name="Ann")))
    old = get_one(store, ref.item_id)
    assert old is not None
    path = tmp_path / f"Ann-{ref.item_id}.vcf"
    with path.open("ab") as handle:
        handle.write(
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Other;Olga;;;\r\nFN:Olga Other\r\nEND:VCARD\r\n"
        )
    with pytest.raises(ConflictError):
        store.update(old, dataclasses.replace(old, customer_id="7"))
    # Read again, the file is reported (a file of a vcf: folder is one contact); a write
    # that re-reads the file keeps the card added since.
    (again,) = open_folder(f"vcf:{tmp_path}").get_many([ref.item_id])
    assert isinstance(again, ReadProblem) and "Olga Other" in str(again.error)
    fresh = open_folder(f"vcf:{tmp_path}")
    fresh.list_items()
    newer = dataclasses.replace(old, version=file_version(path.stat()))
    fresh.update(newer, dataclasses.replace(newer, record=Record(first_name="Anna")))
    cards = [c for c in read_cards(path.read_bytes()) if isinstance(c, Contact)]
    assert [c.record.first_name for c in cards] == ["Anna", "Olga"]


def test_new_cards_get_readable_names_and_ids_in_creation_order(tmp_path: Path) -> None:
    # A new file is named after its person plus a suffix, the item id: in creation order (the
    # database indexes it), the time-ordered start of the card's UUIDv7.
    store = open_folder(f"vcf:{tmp_path}")
    refs = [store.create(Contact(Record(first_name=f"P{i}", last_name="Lee"))) for i in range(3)]
    refs += store.create_many([Contact(Record(first_name=f"Q{i}")) for i in range(100)])
    ids = [r.item_id for r in refs if not isinstance(r, Exception)]
    assert len(ids) == 103 and ids == sorted(ids) and len(set(ids)) == 103
    names = [f"Lee P{i}-{ids[i]}.vcf" for i in range(3)]
    names += [f"Q{i}-{ids[3 + i]}.vcf" for i in range(100)]
    assert sorted(os.listdir(tmp_path)) == sorted(names)
    for name, item_id in zip(names, ids, strict=True):
        (card,) = read_cards((tmp_path / name).read_bytes())
        assert isinstance(card, Contact)
        assert uuid.UUID(card.item_id).version == 7 and suffix_of(card.item_id) == item_id
    # Listed again, by a new store (another run), each file has the id it was made with.
    listed = {ref.item_id for ref in open_folder(f"vcf:{tmp_path}").list_items()}
    assert listed == set(ids)


def test_a_new_file_made_by_the_helper_is_found_by_its_id_in_the_same_run(tmp_path: Path) -> None:
    # The helper's big batches are not remembered name by name (memory): the store finds a
    # new file by its suffix when it is asked for, without a listing in between.
    store = open_folder(f"vcf:{tmp_path}")
    refs = store.create_many([Contact(Record(first_name=f"Q{i}")) for i in range(100)])
    made = [r for r in refs if not isinstance(r, Exception)]
    assert len(made) == 100
    old = get_one(store, made[42].item_id)
    assert old is not None and old.record.first_name == "Q42"
    store.update(old, dataclasses.replace(old, record=Record(first_name="Changed")))
    assert (tmp_path / f"Changed-{made[42].item_id}.vcf").exists() is False  # never renamed
    (again,) = store.get_many([made[42].item_id])
    assert isinstance(again, Contact) and again.record.first_name == "Changed"
    store.close()


class _Listed:
    """os.scandir's entries in a chosen order (a directory lists in an order of its own)."""

    def __init__(self, entries: list[os.DirEntry[str]]) -> None:
        self.entries = entries

    def __enter__(self) -> list[os.DirEntry[str]]:
        return self.entries

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize("backwards", [False, True])
def test_a_renamed_or_copied_new_file_keeps_or_gets_ids_that_do_not_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backwards: bool
) -> None:
    scandir = os.scandir

    def ordered(path: str) -> _Listed:
        with scandir(path) as entries:
            return _Listed(sorted(entries, key=lambda e: e.name, reverse=backwards))

    monkeypatch.setattr(vcf_folder.os, "scandir", ordered)
    store = open_folder(f"vcf:{tmp_path}")
    ref = store.create(Contact(Record(first_name="Ann", last_name="Lee")))
    original = tmp_path / f"Lee Ann-{ref.item_id}.vcf"
    # Copied as "Copy of ..." (and changed): the original keeps the id, whatever order the
    # folder lists them in (the copy's name sorts first); the copy is a file of its own.
    copy = tmp_path / f"Copy of Lee Ann-{ref.item_id}.vcf"
    copy.write_bytes(original.read_bytes().replace(b"Ann", b"Anne"))
    listed = open_folder(f"vcf:{tmp_path}")
    ids = {r.item_id for r in listed.list_items()}
    assert ids == {ref.item_id, copy.name}
    # Read after a listing, and by a store that has not listed the folder (a file is then
    # looked for by its suffix): the same answer.
    for reader in (listed, open_folder(f"vcf:{tmp_path}")):
        got = {c.item_id: c for c in reader.get_many(sorted(ids)) if isinstance(c, Contact)}
        assert got[ref.item_id].record.first_name == "Ann"
        assert got[copy.name].record.first_name == "Anne"
    # Renamed by hand, the suffix kept: the same contact, the same id.
    copy.unlink()
    original.rename(tmp_path / f"Ann Lee (work)-{ref.item_id}.vcf")
    (listed,) = open_folder(f"vcf:{tmp_path}").list_items()
    assert listed.item_id == ref.item_id


def test_an_edit_in_place_of_the_same_size_in_the_same_second_is_seen(tmp_path: Path) -> None:
    # A version is the file's mtime in nanoseconds, size and inode: an edit in place by
    # another program that keeps the size and lands in the same second still changes it.
    store = open_folder(f"vcf:{tmp_path}")
    ref = store.create(Contact(Record(first_name="Ann", notes="abc")))
    path = tmp_path / f"Ann-{ref.item_id}.vcf"
    before = path.stat()
    with path.open("r+b") as handle:  # in place: same inode, same size
        data = handle.read()
        handle.seek(0)
        handle.write(data.replace(b"NOTE:abc", b"NOTE:abd"))
    second = before.st_mtime_ns // 1_000_000_000 * 1_000_000_000
    os.utime(path, ns=(second + 1, second + (before.st_mtime_ns + 1) % 1_000_000_000))
    after = path.stat()
    assert (after.st_size, after.st_ino) == (before.st_size, before.st_ino)
    assert after.st_mtime_ns // 10**9 == before.st_mtime_ns // 10**9
    (listed,) = open_folder(f"vcf:{tmp_path}").list_items()
    assert listed.version != ref.version


@pytest.mark.parametrize("name", ["c.Vcf", "c.VCF", "Ann.vCard.vCF"])
def test_a_card_whose_extension_is_not_lower_case_is_read(tmp_path: Path, name: str) -> None:
    # `c.Vcf` read as an encoded UID was looked for as `c.vcf`: listed, never read, and no
    # error said so.
    (tmp_path / name).write_bytes(
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cee Dee\r\nN:Dee;Cee;;;\r\nEND:VCARD\r\n"
    )
    store = open_folder(f"vcf:{tmp_path}")
    refs = list(store.list_items())
    assert len(refs) == 1
    got = get_one(store, refs[0].item_id)
    assert isinstance(got, Contact) and got.record.first_name == "Cee", got
    updated = store.update(got, dataclasses.replace(got, record=got.record.replace({"notes": "x"})))
    assert [p.name for p in tmp_path.iterdir()] == [name] and updated.item_id == refs[0].item_id
    store.close()


def test_listed_ids_and_their_single_cards_are_one_index(tmp_path: Path) -> None:
    # A first sync lists and reads 100,000 files named after their ids: the store keeps one
    # dict of them (listed id → the version at which its file held one card), not a set of
    # the ids listed beside a dict of the same ids read. A file of another name has its own.
    store = vcf_folder.VcfFolderStore(tmp_path, f"vcf:{tmp_path}")
    store.create_many([Contact(Record(first_name=f"P{i}"), item_id=f"p{i}") for i in range(3)])
    (tmp_path / "John Doe.vcf").write_bytes(
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\nEND:VCARD\r\n"
    )
    listing = {ref.item_id: ref.version for ref in store.list_items()}
    assert set(listing) == {"p0", "p1", "p2", "John Doe"}
    read = {c.item_id: c for c in store.get_many(list(listing)) if isinstance(c, Contact)}
    listed = store._listed
    assert listed.ours == {f"p{i}": listing[f"p{i}"] for i in range(3)}
    assert listed.others == {"John Doe": listing["John Doe"]}
    # Listed again (another pass of the same run): what was learnt of single cards stays, and
    # an update at the version read needs no re-read (a stat only).
    store.list_items()
    assert listed.singles() == listing
    new = dataclasses.replace(read["p1"], record=Record(first_name="Q1"))
    reads: list[str] = []
    real_read = store._read

    def counted(path: Path) -> tuple[bytes, str] | None:
        reads.append(path.name)
        return real_read(path)

    store._read = counted  # type: ignore[method-assign]
    store.update(read["p1"], new)
    assert reads == []
    assert get_one(store, "p1").record.first_name == "Q1"  # type: ignore[union-attr]
    # A deleted file's card is forgotten.
    store.delete(ItemRef("p0", listing["p0"]))
    assert listed.single("p0") is None and "p0" not in listed.singles()
