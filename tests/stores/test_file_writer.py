"""The vCard folder's helper process (stores/file_writer.py): what it writes, how each file's
error comes back, what happens when it dies, and that it writes nothing once its parent is gone."""

from __future__ import annotations

import io
import os
import pickle
import signal
from pathlib import Path

import pytest

from personsync.errors import StoreError
from personsync.model import Contact, Record
from personsync.stores import open_folder
from personsync.stores.base import ItemRef, read_all
from personsync.stores.file_writer import MIN_BATCH_ENV, FileWriter, serve


def test_writes_each_file_and_answers_with_its_stat(tmp_path: Path) -> None:
    writer = FileWriter("test")
    try:
        writer.send([(str(tmp_path / "a.vcf"), b"A", True), (str(tmp_path / "b.vcf"), b"BB", True)])
        writer.send([(str(tmp_path / "no" / "c.vcf"), b"C", True)])  # its folder is missing
        got = writer.collect(writer.end_batch(sync=True))
    finally:
        writer.close()
    assert (tmp_path / "a.vcf").read_bytes() == b"A"
    assert (tmp_path / "b.vcf").read_bytes() == b"BB"
    for name, answer in zip(("a.vcf", "b.vcf"), got[:2], strict=True):
        st = os.stat(tmp_path / name)
        assert answer == (st.st_mtime_ns, st.st_size, st.st_ino)
    assert isinstance(got[2], StoreError) and "c.vcf" in str(got[2])
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_batches_are_answered_to_their_own_ticket(tmp_path: Path) -> None:
    writer = FileWriter("test")
    try:
        writer.send([(str(tmp_path / "1.vcf"), b"1", True)])
        one = writer.end_batch(sync=False)
        writer.send([(str(tmp_path / "2.vcf"), b"22", True), (str(tmp_path / "3.vcf"), b"3", True)])
        two = writer.end_batch(sync=False)
        second = writer.collect(two)  # asked out of order: the first is kept for its own call
        first = writer.collect(one)
    finally:
        writer.close()
    assert [a[1] for a in first if isinstance(a, tuple)] == [1]
    assert [a[1] for a in second if isinstance(a, tuple)] == [2, 1]


def test_a_dead_helper_fails_its_batch_and_the_store_carries_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MIN_BATCH_ENV, "1")
    store = open_folder(f"vcf:{tmp_path / 'f'}", create=True)
    try:
        assert all(isinstance(r, ItemRef) for r in store.create_many([Contact(Record("Mr"))]))
        helper = store.inner._file_writer._proc  # type: ignore[attr-defined]
        os.kill(helper.pid, signal.SIGKILL)
        helper.wait()
        lost = store.create_many([Contact(Record(first_name="Lost"))])
        assert isinstance(lost[0], StoreError) and "helper process stopped" in str(lost[0])
        # From then on the store writes in-process: nothing else is lost.
        later = store.create_many([Contact(Record(first_name=n)) for n in ("Ann", "Bob")])
        assert all(isinstance(r, ItemRef) for r in later)
        names = {c.record.first_name for c in read_all(store) if isinstance(c, Contact)}
        assert {"Ann", "Bob"} <= names
    finally:
        store.close()


def test_writes_nothing_once_its_parent_is_gone(tmp_path: Path) -> None:
    requests = io.BytesIO()
    pickle.dump(("write", [(str(tmp_path / "late.vcf"), b"X", True)]), requests)
    pickle.dump(("end", False), requests)
    requests.seek(0)
    answers = io.BytesIO()
    serve(os.getppid() + 1_000_000, requests, answers)  # "its parent" is some other process
    assert not (tmp_path / "late.vcf").exists()
    assert answers.getvalue() == b""
