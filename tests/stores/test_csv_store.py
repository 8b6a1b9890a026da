"""The `csv:` store beyond the shared contract: ids, versions, reloads, bad files, buffering."""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import shutil
from pathlib import Path

import pytest

from personsync.errors import (
    CapabilityError,
    ConflictError,
    FolderNotFound,
    FormatError,
    StoreError,
)
from personsync.formats.outlook_csv_layout import ITEM_ID_COLUMN
from personsync.model import Contact, Record
from personsync.stores import list_folders, open_folder
from personsync.stores.base import GuardedStore, ReadProblem, get_one, read_all

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "csv"


def export(tmp_path: Path, name: str = "outlook_classic_cp1252.csv") -> Path:
    path = tmp_path / "contacts.csv"
    shutil.copy(FIXTURES / name, path)
    return path


def contacts(store: GuardedStore) -> list[Contact]:
    return [c for c in read_all(store) if isinstance(c, Contact)]


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def touch_later(path: Path) -> None:
    """Make sure the next write is seen as a change even on coarse-mtime file systems."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def edit_cell(path: Path, row: int, column: str, value: str, encoding: str = "cp1252") -> None:
    """Change one cell like a person in a spreadsheet would (file rewritten, every cell quoted)."""
    text = path.read_bytes().decode(encoding)
    table = list(csv.reader(io.StringIO(text, newline="")))
    table[row + 1][table[0].index(column)] = value
    buffer = io.StringIO(newline="")
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(table)
    path.write_bytes(buffer.getvalue().encode(encoding))
    touch_later(path)


def test_ids_of_a_fresh_export_are_stable_and_survive_edits(tmp_path: Path) -> None:
    path = export(tmp_path)
    first = {c.record.last_name: c for c in contacts(open_folder(f"csv:{path}"))}
    again = {c.record.last_name: c for c in contacts(open_folder(f"csv:{path}"))}
    assert {k: (c.item_id, c.version) for k, c in first.items()} == {
        k: (c.item_id, c.version) for k, c in again.items()
    }
    assert len({c.item_id for c in first.values()}) == 3
    edit_cell(path, 0, "Mobile Phone", "+41 79 000 00 00")
    edited = {c.record.last_name: c for c in contacts(open_folder(f"csv:{path}"))}
    assert edited["Müller"].item_id == first["Müller"].item_id
    assert edited["Müller"].version != first["Müller"].version
    assert edited["Æsir"].version == first["Æsir"].version


def test_duplicate_rows_get_distinct_ids(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text('"First Name","E-mail Address"\r\n"Ann","a@x"\r\n"Ann","a@x"\r\n')
    refs = list(open_folder(f"csv:{path}").list_items())
    assert len({r.item_id for r in refs}) == 2


def test_first_write_stores_ids_and_keeps_every_outlook_column(tmp_path: Path) -> None:
    path = export(tmp_path)
    store = open_folder(f"csv:{path}")
    before = {c.item_id: c for c in contacts(store)}
    chris = next(c for c in before.values() if c.record.first_name == "Chris")
    store.update(chris, dataclasses.replace(chris, record=chris.record.replace({"suffix": "Jr."})))
    store.close()
    written = rows(path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert {r[ITEM_ID_COLUMN] for r in written} == set(before)
    by_name = {r["First Name"]: r for r in written}
    assert by_name["Jürgen"]["Pager"] == "555-0199" and by_name["Jürgen"]["Priority"] == "Normal"
    assert by_name["Chris"]["E-mail Type"] == "EX" and by_name["Chris"]["Suffix"] == "Jr."
    assert by_name["Chris"]["E-mail Address"].startswith("/o=ExchangeLabs/")
    # Versions of rows nobody touched did not change with the rewrite (and new id column).
    after = {c.item_id: c for c in contacts(open_folder(f"csv:{path}"))}
    for item_id, old in before.items():
        assert after[item_id].record == (
            old.record if old is not chris else old.record.replace({"suffix": "Jr."})
        )
        if old is not chris:
            assert after[item_id].version == old.version
            assert after[item_id].extra == old.extra


def test_changes_by_another_program_are_seen(tmp_path: Path) -> None:
    path = export(tmp_path)
    store = open_folder(f"csv:{path}")
    jurgen = next(c for c in contacts(store) if c.record.first_name == "Jürgen")
    edit_cell(path, 0, "Job Title", "CEO")
    with pytest.raises(ConflictError):
        store.update(jurgen, dataclasses.replace(jurgen, record=Record(first_name="X")))
    fresh = get_one(store, jurgen.item_id)
    assert fresh is not None and fresh.record.job_title == "CEO"


def test_unsaved_changes_are_not_written_over_another_programs_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from personsync.stores import csv_file

    monkeypatch.setattr(csv_file, "_SAVE_SPACING", 1e9)  # every save looks recent: writes wait
    path = export(tmp_path)
    store = open_folder(f"csv:{path}")
    store.create(Contact(Record(first_name="Saved")))  # the first write is saved at once
    store.create(Contact(Record(first_name="Waiting")))
    edit_cell(path, 0, "Job Title", "CEO", encoding="utf-8-sig")  # personsync wrote UTF-8
    with pytest.raises(ConflictError, match="changed by another program"):
        store.close()
    assert rows(path)[0]["Job Title"] == "CEO"
    names = {c.record.first_name for c in contacts(open_folder(f"csv:{path}"))}
    assert "Saved" in names and "Waiting" not in names


def test_an_occasional_single_write_is_on_disk_when_the_call_returns(tmp_path: Path) -> None:
    url = f"csv:{tmp_path / 'c.csv'}"
    store = open_folder(url)
    ref = store.create(Contact(Record(first_name="Ann")))
    assert [r.item_id for r in open_folder(url).list_items()] == [ref.item_id]
    store.create_many([Contact(Record(first_name="Bob"))])
    assert len(list(open_folder(url).list_items())) == 2  # a batch is saved when it returns


def test_a_loop_of_single_creates_is_saved_in_few_rewrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from personsync.stores import csv_file

    saves: list[int] = []
    real = csv_file.write_atomic

    def counting(path: Path, data: bytes) -> None:
        saves.append(len(data))
        real(path, data)

    monkeypatch.setattr(csv_file, "write_atomic", counting)
    url = f"csv:{tmp_path / 'c.csv'}"
    store = open_folder(url)
    saves.clear()  # creating the empty file
    for i in range(2500):
        store.create(Contact(Record(first_name=f"P{i}")))
    store.close()
    assert 1 <= len(saves) < 2500 / 4  # not one rewrite per create
    assert len(list(open_folder(url).list_items())) == 2500
    assert saves[-1] == (tmp_path / "c.csv").stat().st_size


def test_unreadable_rows_are_reported_and_the_file_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    text = '"First Name","Birthday"\r\n"Ann",""\r\n"Bob"x,""\r\n"Cy","99/99/99"\r\n'
    path.write_bytes(text.encode())
    store = open_folder(f"csv:{path}")
    got = list(read_all(store))
    problems = [g for g in got if isinstance(g, ReadProblem)]
    assert [c.record.first_name for c in got if isinstance(c, Contact)] == ["Ann"]
    assert sorted(p.error.line or 0 for p in problems) == [3, 4]
    assert all(p.error.source == str(path) for p in problems)
    with pytest.raises(CapabilityError, match="read-only"):
        store.create(Contact(Record(first_name="Dee")))
    assert path.read_bytes() == text.encode()


def test_a_bad_date_alone_does_not_block_writes(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text('"First Name","Birthday"\r\n"Cy","99/99/99"\r\n')
    store = open_folder(f"csv:{path}")
    store.create(Contact(Record(first_name="Dee")))
    store.close()
    assert [r["Birthday"] for r in rows(path)] == ["99/99/99", ""]


def test_cp1252_file_refuses_a_name_it_cannot_hold_and_keeps_the_rest(tmp_path: Path) -> None:
    path = export(tmp_path)
    store = open_folder(f"csv:{path}", write_encoding="cp1252")
    results = store.create_many(
        [Contact(Record(first_name="Hanako", last_name="山田")), Contact(Record(first_name="Zoë"))]
    )
    assert isinstance(results[0], StoreError) and "Hanako 山田" in str(results[0])
    assert "cp1252" in str(results[0])
    names = {c.record.first_name for c in contacts(open_folder(f"csv:{path}", encoding="cp1252"))}
    assert names == {"Jürgen", "Chris", "Zoë"}
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")


def test_values_the_file_has_no_column_for_get_one(tmp_path: Path) -> None:
    path = export(tmp_path, "outlook_com_61_bom.csv")
    store = open_folder(f"csv:{path}")
    sam = next(c for c in contacts(store) if c.record.first_name == "Sam")
    new = sam.record.replace({"email3": "s3@x.org", "business_street": "a\nb"})
    store.update(sam, dataclasses.replace(sam, record=new, customer_id="5"))
    store.close()
    again = next(c for c in contacts(open_folder(f"csv:{path}")) if c.customer_id == "5")
    assert again.record == new
    assert again.extra == {"Personal Web Page": "https://sam.example.com/"}


def test_opening(tmp_path: Path) -> None:
    missing = tmp_path / "none.csv"
    with pytest.raises(FolderNotFound):
        open_folder(f"csv:{missing}", create=False)
    assert not missing.exists()
    with pytest.raises(FolderNotFound, match="no such directory"):
        open_folder(f"csv:{tmp_path / 'nodir' / 'x.csv'}")
    store = open_folder(f"csv:{missing}")
    assert missing.exists() and list(store.list_items()) == []
    (tmp_path / "sales.csv").write_text("id,amount\r\n1,2\r\n")
    with pytest.raises(FormatError, match="does not look like an Outlook CSV export"):
        open_folder(f"csv:{tmp_path / 'sales.csv'}")
    (tmp_path / "empty.csv").write_bytes(b"")
    assert list(open_folder(f"csv:{tmp_path / 'empty.csv'}").list_items()) == []


def test_list_folders_names_the_csv_files_beside_it(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('"First Name"\r\n')
    (tmp_path / "b.csv").write_text('"First Name"\r\n')
    (tmp_path / "notes.txt").write_text("x")
    expected = [f"csv:{tmp_path / 'a.csv'}", f"csv:{tmp_path / 'b.csv'}"]
    assert list_folders(f"csv:{tmp_path / 'a.csv'}") == expected
    assert list_folders(f"csv:{tmp_path}") == expected


def test_a_contact_copied_from_another_layout_brings_its_columns(tmp_path: Path) -> None:
    classic = open_folder(f"csv:{export(tmp_path)}")
    jurgen = next(c for c in contacts(classic) if c.record.first_name == "Jürgen")
    target_path = tmp_path / "target.csv"
    shutil.copy(FIXTURES / "outlook_com_61_bom.csv", target_path)
    target = open_folder(f"csv:{target_path}")
    before = {r.item_id: r.version for r in target.list_items()}
    ref = target.create(jurgen)
    target.close()
    again = open_folder(f"csv:{target_path}")
    copied = get_one(again, ref.item_id)
    assert copied is not None and copied.record == jurgen.record
    assert copied.extra["Priority"] == "Normal" and copied.record.spouse_name == "Anna"
    header = next(csv.reader(io.StringIO(target_path.read_bytes().decode("utf-8-sig"))))
    assert header[:61] == next(
        csv.reader(io.StringIO((FIXTURES / "outlook_com_61_bom.csv").read_text("utf-8-sig")))
    )
    assert "Priority" in header[61:] and "Business Street 2" not in header
    # The other rows kept their ids and versions although the file gained columns.
    assert {r.item_id: r.version for r in again.list_items() if r.item_id in before} == before


def test_a_rewrite_keeps_repeated_columns(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b'"First Name","Notes","Notes"\r\n"Ann","one","two"\r\n')
    store = open_folder(f"csv:{path}")
    (ann,) = contacts(store)
    store.update(ann, dataclasses.replace(ann, record=ann.record.replace({"last_name": "Ng"})))
    store.close()
    table = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    assert table[0][:3] == ["First Name", "Notes", "Notes"]
    assert table[1][:3] == ["Ann", "one", "two"]


def test_new_rows_get_ids_in_creation_order(tmp_path: Path) -> None:
    # New ids go into the link and contact_manager_id indexes: in creation order they are
    # inserted at those indexes' end (random ones scattered a big export's inserts).
    store = open_folder(f"csv:{tmp_path / 'c.csv'}")
    refs = [store.create(Contact(Record(first_name=f"P{i}"))) for i in range(3)]
    refs += store.create_many([Contact(Record(first_name=f"Q{i}")) for i in range(500)])
    ids = [r.item_id for r in refs if not isinstance(r, Exception)]
    assert len(ids) == 503 and len(set(ids)) == 503 and ids == sorted(ids)
    assert all(len(i) == 17 and i[0] == "p" and int(i[1:], 16) >= 0 for i in ids)
    store.close()
    again = open_folder(f"csv:{tmp_path / 'c.csv'}")
    assert {r.item_id for r in again.list_items()} == set(ids)  # stored, as before
