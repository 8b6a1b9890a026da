"""A big read of the vCard folder, half parsed by a helper process (stores/card_reader.py): the
same contacts, problems and versions as reading every file here, shared values shared again,
and a helper that fails costs nothing but time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from held import assert_holds_its_set_values_only
from personsync.model import REPEATED_FIELDS, Contact
from personsync.persons.sample import generate
from personsync.stores import card_reader
from personsync.stores.base import ReadProblem
from personsync.stores.vcf_folder import VcfFolderStore


def _folder(tmp_path: Path, n: int) -> tuple[VcfFolderStore, list[str]]:
    store = VcfFolderStore(tmp_path, f"vcf:{tmp_path}")
    store.create_many([Contact(r, item_id=f"p{i:04d}") for i, r in enumerate(generate(n, 3))])
    (tmp_path / "p0007.vcf").write_bytes(b"BEGIN:VCARD\r\nFN:cut short\r\n")  # no END:VCARD
    (tmp_path / "p0600.vcf").write_bytes(b"")  # empty
    two = (tmp_path / "p0601.vcf").read_bytes()
    (tmp_path / "p0601.vcf").write_bytes(two + two)  # two cards
    ids = sorted(r.item_id for r in store.list_items())
    os.unlink(tmp_path / "p0900.vcf")  # listed, then gone
    return store, ids


def _read(store: VcfFolderStore, ids: list[str]) -> dict[str, Contact | ReadProblem]:
    return {got.item_id: got for got in store.get_many(ids)}


def _same(got: dict[str, Contact | ReadProblem]) -> dict[str, object]:
    """Comparable: an error is equal to another by its message."""
    return {
        k: (type(v.error), str(v.error)) if isinstance(v, ReadProblem) else v
        for k, v in got.items()
    }


def test_the_helper_reads_what_this_process_reads(tmp_path, monkeypatch):
    store, ids = _folder(tmp_path, 1200)
    store.read_helper_from = 100000
    alone = _read(store, ids)
    single_alone = store._listed.singles()
    # What the first read learnt of single cards forgotten; the listing kept.
    store._listed.ours = dict.fromkeys(store._listed.ours, "")
    store._listed.others.clear()
    store.read_helper_from = 1
    helped = _read(store, ids)
    assert len(alone) == len(ids) - 1 and "p0900" not in alone
    assert _same(helped) == _same(alone)
    assert isinstance(helped["p0007"], ReadProblem) and "END:VCARD" in str(helped["p0007"].error)
    assert isinstance(helped["p0600"], ReadProblem)
    assert isinstance(helped["p0601"], ReadProblem) and "holds 2 cards" in str(
        helped["p0601"].error
    )
    assert store._listed.singles() == single_alone and "p0601" not in single_alone
    assert len(single_alone) == len(ids) - 4  # all but the unreadable three and the gone one
    # Chunks of 500, every other one the helper's: values met in both are one object again.
    firsts = {}
    for got in helped.values():
        if isinstance(got, Contact):
            for name in REPEATED_FIELDS & {"first_name", "home_city", "business_city"}:
                value = getattr(got.record, name)
                if value:
                    assert firsts.setdefault((name, value), value) is value
    # Each Record keeps only its set values, then which fields they are (model._Sparse), read
    # here or by the helper.
    for got in helped.values():
        if isinstance(got, Contact):
            assert_holds_its_set_values_only(got.record)


def test_a_helper_that_fails_leaves_its_chunks_to_this_process(tmp_path, monkeypatch):
    store, ids = _folder(tmp_path, 1600)
    store.read_helper_from = 100000
    alone = _read(store, ids)
    store.read_helper_from = 1
    answered = []
    receive = card_reader._Helper.receive

    def fail_second(self, expected):  # the helper dies after its first answer
        if answered:
            self._stop()
        got = receive(self, expected)
        answered.append(got)
        return got

    monkeypatch.setattr(card_reader._Helper, "receive", fail_second)
    assert _same(_read(store, ids)) == _same(alone)
    assert answered[0] is not None and answered[1] is None


def test_a_file_that_cannot_be_read_stops_the_read_with_its_name(tmp_path, monkeypatch):
    store, ids = _folder(tmp_path, 1200)
    os.unlink(tmp_path / "p1100.vcf")
    os.mkdir(tmp_path / "p1100.vcf")  # listed as a file, now a folder: reading it fails
    store.read_helper_from = 1
    with pytest.raises(Exception, match=r"cannot read p1100\.vcf"):
        _read(store, ids)


def test_contacts_cross_the_pipe_whole(tmp_path):
    # What the helper sends: pickled contacts (model.pickled_by_fields), real Outlook cards too.
    import dataclasses
    import pickle
    import shutil

    from personsync.model import pickled_by_fields
    from realworld import real_vcards

    for f in real_vcards().glob("*.vcf"):
        shutil.copy(f, tmp_path / f.name)
    store = VcfFolderStore(tmp_path, f"vcf:{tmp_path}")
    got = list(store.get_many([r.item_id for r in store.list_items()]))
    contacts = [c for c in got if isinstance(c, Contact)]
    assert len(contacts) == 4 and len(got) == 5  # rfc2426-example: a file of two cards
    assert any(c.extra.properties for c in contacts)  # type: ignore[union-attr]
    back = pickle.loads(pickle.dumps(contacts, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == contacts
    for c in back:
        assert c.extra.read_record is c.record  # type: ignore[union-attr]
        assert c.extra.properties == next(  # type: ignore[union-attr]
            o.extra.properties
            for o in contacts
            if o.item_id == c.item_id  # type: ignore[union-attr]
        )

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived:
        a: int
        b: int = dataclasses.field(init=False, default=0)

    with pytest.raises(TypeError, match="__init__"):
        pickled_by_fields(Derived)
