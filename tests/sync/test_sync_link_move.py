"""`link P ITEM` of a Person linked to another contact OLD of the folder moves the link (issue
#12): OLD's Customer ID is cleared (if it still carries P's id), its link row dropped, in one
journaled run that `undo` takes back exactly (SQLite and PostgreSQL; an in-memory folder, a vCard
folder where a child process is killed)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from proof_machine import Run, contacts_of, opened, run_engine

from killed_run import link_killed
from personsync.errors import UsageError
from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.stores.base import ItemRef
from personsync.sync import manual
from personsync.sync.journal import entries
from personsync.sync.links import Links
from personsync.sync.options import RunOptions
from personsync.sync.undo import undo


def _paired(db: PersonsDB, folder: str = "") -> tuple[str, int, str, str]:
    """A folder (a new in-memory one by default) where Ann is linked to her contact OLD, and
    a contact ITEM of no one."""
    folder = folder or f"memory:move-{uuid.uuid4().hex[:10]}"
    pid = db.add(Record(first_name="Ann", last_name="Lee", email1="ann@example.org")).id
    run_engine(db, folder, Run("export"), yes=True)
    (old,) = contacts_of(folder)
    with opened(folder) as store:
        item = store.create(Contact(Record(first_name="Bob", last_name="Ray"))).item_id
    return folder, pid, old, item


def _anns(db: PersonsDB) -> int:
    return sum(1 for pid in db.versions(None) if db.get(pid).record.first_name == "Ann")


def _carrying(folder: str, pid: int) -> list[str]:
    return sorted(i for i, c in contacts_of(folder).items() if c.customer_id == str(pid))


def test_link_of_a_linked_person_without_yes_is_refused_and_writes_nothing(
    persons_db: PersonsDB,
) -> None:
    folder, pid, old, item = _paired(persons_db)
    before = contacts_of(folder)
    with pytest.raises(UsageError) as refused:
        manual.link(persons_db, pid, folder, item)
    said = str(refused.value)
    assert f"linked to contact {old}" in said and f"clears contact {old}'s Customer ID" in said
    assert contacts_of(folder) == before
    assert Links(persons_db.engine, folder).load()[pid].item_id == old
    assert persons_db.get(pid).contact_manager_id == old


def test_link_moves_the_link_and_clears_the_old_contacts_customer_id(
    persons_db: PersonsDB,
) -> None:
    folder, pid, old, item = _paired(persons_db)
    report = manual.link(persons_db, pid, folder, item, yes=True)
    assert _carrying(folder, pid) == [item]
    assert contacts_of(folder)[old].customer_id == ""
    assert Links(persons_db.engine, folder).load()[pid].item_id == item
    assert Links(persons_db.engine, folder).owner(old) is None
    assert persons_db.get(pid).contact_manager_id == item
    assert report.counts == {"unlink": 1, "link": 1}
    assert any(f"contact {old}'s Customer ID {pid} was cleared" in w for w in report.warnings)
    # The next sync makes no second contact nor Person of either.
    run_engine(persons_db, folder, Run("sync"), yes=True)
    assert _carrying(folder, pid) == [item] and _anns(persons_db) == 1


def test_undo_of_a_move_gives_the_old_link_back(persons_db: PersonsDB) -> None:
    folder, pid, old, item = _paired(persons_db)
    was = contacts_of(folder)
    report = manual.link(persons_db, pid, folder, item, yes=True)
    dry = undo(persons_db, report.run_id, options=RunOptions(yes=True, dry_run=True))
    assert dry.counts == {"would-undo": 2}, dry.to_dict()
    back = undo(persons_db, report.run_id, options=RunOptions(yes=True))
    assert back.counts.get("undone") == 2, back.to_dict()
    now = contacts_of(folder)
    assert now[old].customer_id == str(pid) and now[old].record == was[old].record
    assert now[item].customer_id == "" and now[item].record == was[item].record
    assert Links(persons_db.engine, folder).load()[pid].item_id == old
    assert Links(persons_db.engine, folder).owner(item) is None
    assert persons_db.get(pid).contact_manager_id == old
    # The next sync writes nothing of Ann's pair (Bob's contact makes him a Person, as before).
    plan = run_engine(persons_db, folder, Run("sync"), dry_run=True).plan
    writes = {k: n for k, n in plan.counts().items() if n and k not in ("refresh", "unchanged")}
    assert writes == {"create-person": 1}, plan.counts()
    run_engine(persons_db, folder, Run("sync"), yes=True)
    assert _carrying(folder, pid) == [old] and _anns(persons_db) == 1


def test_undo_of_a_link_to_a_copy_ends_the_copys_link(persons_db: PersonsDB) -> None:
    """The contact linked to carried the Person's id already (a copy): the undo ends its link
    all the same, and the original gets its link back."""
    folder, pid, old, _ = _paired(persons_db)
    with opened(folder) as store:
        copy = store.create(replace(contacts_of(folder)[old], item_id="", version="")).item_id
    report = manual.link(persons_db, pid, folder, copy, yes=True)
    assert _carrying(folder, pid) == [copy]
    undo(persons_db, report.run_id, options=RunOptions(yes=True))
    assert _carrying(folder, pid) == sorted([old, copy])
    assert Links(persons_db.engine, folder).load()[pid].item_id == old
    assert Links(persons_db.engine, folder).owner(copy) is None


def test_an_old_contact_carrying_another_value_is_left_and_named(persons_db: PersonsDB) -> None:
    folder, pid, old, item = _paired(persons_db)
    with opened(folder) as store:
        found = contacts_of(folder)[old]
        store.update(found, replace(found, customer_id="A-17"))  # a user's own value
    report = manual.link(persons_db, pid, folder, item, yes=True)
    assert contacts_of(folder)[old].customer_id == "A-17"
    assert Links(persons_db.engine, folder).owner(old) is None
    assert any(f"contact {old} carries Customer ID A-17" in w for w in report.warnings)
    undo(persons_db, report.run_id, options=RunOptions(yes=True))
    assert contacts_of(folder)[old].customer_id == "A-17"
    assert Links(persons_db.engine, folder).load()[pid].item_id == old


def test_an_old_contact_gone_from_the_folder_loses_only_its_link(persons_db: PersonsDB) -> None:
    folder, pid, old, item = _paired(persons_db)
    with opened(folder) as store:
        found = contacts_of(folder)[old]
        store.delete(ItemRef(found.item_id, found.version))
    report = manual.link(persons_db, pid, folder, item, yes=True)
    assert _carrying(folder, pid) == [item]
    assert Links(persons_db.engine, folder).load()[pid].item_id == item
    assert any(f"contact {old} is no longer in the folder" in w for w in report.warnings)


def test_undo_of_a_move_killed_after_the_clear_gives_the_customer_id_back(
    persons_db: PersonsDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between OLD's Customer ID write and its record (the move's entry an intent, OLD's
    link row kept): undo writes the Customer ID back."""
    folder, pid, old, item = _paired(persons_db)

    def killed(*_: object) -> None:
        raise KeyboardInterrupt  # stands for the kill: nothing after it runs

    monkeypatch.setattr(Links, "forget", killed)  # the move drops the old link row
    with pytest.raises(KeyboardInterrupt):
        manual.link(persons_db, pid, folder, item, yes=True)
    monkeypatch.undo()
    assert contacts_of(folder)[old].customer_id == ""
    (move, _) = entries(persons_db.engine, _last_link(persons_db))
    assert move["state"] == "intent"
    undo(persons_db, _last_link(persons_db), options=RunOptions(yes=True))
    assert _carrying(folder, pid) == [old]
    assert Links(persons_db.engine, folder).load()[pid].item_id == old
    run_engine(persons_db, folder, Run("sync"), yes=True)
    assert _carrying(folder, pid) == [old] and _anns(persons_db) == 1


def _last_link(db: PersonsDB) -> str:
    from personsync.sync.journal import list_runs

    return next(r.id for r in list_runs(db.engine) if r.command == "link")


def test_a_link_whose_write_fails_after_the_move_is_a_failed_run_that_undo_takes_back(
    persons_db: PersonsDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    from personsync.errors import StoreError
    from personsync.stores.memory import MemoryStore
    from personsync.sync.journal import get_run

    folder, pid, old, item = _paired(persons_db)
    update = MemoryStore.update

    def refuses(self: MemoryStore, was: Contact, new: Contact) -> ItemRef:
        if was.item_id == item:
            raise StoreError(f"contact {item} is read-only")
        return update(self, was, new)

    monkeypatch.setattr(MemoryStore, "update", refuses)
    with pytest.raises(StoreError):
        manual.link(persons_db, pid, folder, item, yes=True)
    monkeypatch.undo()
    run = _last_link(persons_db)
    assert get_run(persons_db.engine, run).status == "failed"
    undo(persons_db, run, options=RunOptions(yes=True))
    assert _carrying(folder, pid) == [old]
    assert Links(persons_db.engine, folder).load()[pid].item_id == old


@pytest.mark.parametrize("point", [1, 2, 3, 4, 5])
def test_a_move_killed_at_any_point_then_undone_leaves_one_contact(
    persons_db: PersonsDB, db_url: str, tmp_path: Path, point: int
) -> None:
    """`link --yes` killed with SIGKILL after its intents, OLD's write, the move's record, the
    new contact's write (or not at all, point 5), then undone and synced: the Person has one
    contact carrying its id, linked, and no second Person is made of either contact."""
    folder, pid, old, item = _paired(persons_db, f"vcf:{tmp_path / 'out'}")
    killed = link_killed(persons_db, db_url, folder, pid, item, point)
    assert killed == (point < 5)
    undo(persons_db, _last_link(persons_db), options=RunOptions(yes=True))
    run_engine(persons_db, folder, Run("sync"), yes=True)
    carrying = _carrying(folder, pid)
    assert len(carrying) == 1, contacts_of(folder)
    assert Links(persons_db.engine, folder).load()[pid].item_id == carrying[0]
    assert _anns(persons_db) == 1
    if point in (1, 2, 3, 5):  # the new contact's write was not made, or was recorded
        assert carrying == [old]
