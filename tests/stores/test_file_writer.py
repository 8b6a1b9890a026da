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
from personsync.model import Contact, Record, field_values
from personsync.stores import open_folder
from personsync.stores.base import ItemRef, read_all
from personsync.stores.card_files import NewCard
from personsync.stores.file_writer import FileWriter, Job, serve


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
    store = open_folder(f"vcf:{tmp_path / 'f'}", create=True, write_helper_from=1)
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


def _new_cards(folder: Path, n: int) -> list[tuple[str, NewCard]]:
    return [
        (
            str(folder / f"{i}.vcf"),
            (
                "3.0",
                f"uid-{i}",
                field_values(Record(first_name=f"Ann {i}", business_city="Köln")),
                str(i),
            ),
        )
        for i in range(n)
    ]


def _write_all(writer: FileWriter, cards: list[tuple[str, NewCard]]) -> list[object]:
    def prepare(item: tuple[str, NewCard]) -> tuple[Job, str]:
        path, card = item
        return (path, card, True), path

    return writer.begin(cards, prepare, lambda path, written: ItemRef(path, str(written[1])))()


def test_cards_rendered_here_are_the_helpers_bytes(tmp_path: Path) -> None:
    """Where this process renders a share of the new cards (the helper is behind), the files
    are the very bytes the helper would have written."""
    for share, sub, rendered in ((0.0, "helper", 0), (0.5, "half", 5), (1.0, "here", 10)):
        (tmp_path / sub).mkdir()
        writer = FileWriter("test")
        sent: list[Job] = []
        real_send = writer.send
        writer.send = lambda jobs: (sent.extend(jobs), real_send(jobs))[1]  # type: ignore[method-assign]
        try:
            writer.render_here = share
            results = _write_all(writer, _new_cards(tmp_path / sub, 10))
        finally:
            writer.close()
        assert all(isinstance(r, ItemRef) for r in results)
        assert sum(isinstance(data, bytes) for _, data, _ in sent) == rendered
    for i in range(10):
        expected = (tmp_path / "helper" / f"{i}.vcf").read_bytes()
        assert b"FN:Ann " in expected and "Köln".encode() in expected
        assert (tmp_path / "half" / f"{i}.vcf").read_bytes() == expected
        assert (tmp_path / "here" / f"{i}.vcf").read_bytes() == expected


def test_a_card_that_cannot_be_rendered_here_is_reported_for_its_file(tmp_path: Path) -> None:
    cards = _new_cards(tmp_path, 3)
    path, (version, uid, values, cid) = cards[1]
    cards[1] = (path, (version, uid, (*values, "one too many"), cid))  # not a Record's values
    writer = FileWriter("test")
    try:
        writer.render_here = 1.0
        results = _write_all(writer, cards)
    finally:
        writer.close()
    assert isinstance(results[0], ItemRef) and isinstance(results[2], ItemRef)
    assert isinstance(results[1], StoreError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.vcf", "2.vcf"]


def test_the_share_rendered_here_follows_who_is_behind() -> None:
    writer = FileWriter("test")
    assert writer.render_here == 0.0  # the helper renders, by default
    for _ in range(3):
        writer._balance(waited=0.050)  # this process waited: the helper is behind
    assert writer.render_here == pytest.approx(0.3)
    for _ in range(20):
        writer._balance(waited=0.5)
    assert writer.render_here == 1.0  # never more than all
    writer._balance(waited=0.0)  # the batch was ready when asked for
    assert writer.render_here == pytest.approx(0.9)
    for _ in range(20):
        writer._balance(waited=0.0)
    assert writer.render_here == 0.0


def test_a_batch_that_keeps_the_engine_waiting_moves_rendering_here(tmp_path: Path) -> None:
    """End to end: a batch collected at once, before the helper could have written it, makes
    this process render a share of the next one."""
    writer = FileWriter("test")
    try:
        _write_all(writer, _new_cards(tmp_path, 500))  # 500 files: the helper is not done yet
        assert writer.render_here > 0.0
    finally:
        writer.close()


def test_the_helper_is_in_a_process_group_of_its_own(tmp_path: Path) -> None:
    # A Ctrl-C at the terminal goes to the foreground process group: the run decides what stops
    # and ends the helper's input. In the run's group, a Ctrl-C during the helper's start-up (its
    # imports, before it ignores SIGINT) printed the helper's own traceback.
    writer = FileWriter("test")
    try:
        helper = writer._start()
        assert os.getpgid(helper.pid) == helper.pid != os.getpgid(0)
    finally:
        writer.close()
