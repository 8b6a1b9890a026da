"""A contact a person moved to another folder of the mailbox is not a deleted one: the engine
asks the Graph store (a mailbox-wide search by Customer ID, bounded per run) before it calls a
linked contact missing from the folder deleted. Real engine, real PersonsDB, the test server."""

from __future__ import annotations

import pytest
from graph_support import USER

from personsync.errors import MassChangeRefused
from personsync.graph.testserver import GraphTestServer
from personsync.model import Record
from personsync.persons.repo import PersonsDB
from personsync.stores import graph as graph_store
from personsync.sync import engine
from personsync.sync.options import RunOptions

FOLDER = "graph:Contacts/CRM"


def _persons(db: PersonsDB, n: int) -> list[int]:
    return db.add_many(
        [
            Record(first_name=f"F{i}", last_name=f"L{i}", email1=f"p{i}@example.org")
            for i in range(n)
        ]
    )


def _by_cid(server: GraphTestServer) -> dict[str, list[tuple[str, str]]]:
    """Customer ID → (contact id, folder name) of every contact in the mailbox."""
    box = server.mailbox(USER)
    out: dict[str, list[tuple[str, str]]] = {}
    for c in box.contacts.values():
        cid = str(c.ext.get("string 0x3a4a", {}).get("value", ""))
        out.setdefault(cid, []).append((c.data["id"], box.folders[c.folder_id].display_name))
    return out


@pytest.mark.parametrize("mode", ["export", "sync", "import"])
def test_a_moved_contact_is_neither_recreated_nor_its_person_deleted(
    server: GraphTestServer, signed_in_db: PersonsDB, mode: str
) -> None:
    db = signed_in_db
    ids = _persons(db, 4)
    engine.run(db, FOLDER, "export")
    box = server.mailbox(USER)
    other = box.create_folder(box.root.id, "Old members")
    where = _by_cid(server)
    # One moved as Outlook moves it, one by PATCHing parentFolderId (what Graph documents), one
    # deleted.
    box.move_contact(where[str(ids[0])][0][0], other.id, immutable=True)
    box.update_contact(where[str(ids[1])][0][0], {"parentFolderId": other.id})
    box.delete_contact(where[str(ids[2])][0][0])

    out = engine.run(db, FOLDER, mode, options=RunOptions(on_contact_deleted="propagate", yes=True))
    moved = {a.person_id: a.where for a in out.plan.of("moved")}  # type: ignore[union-attr]
    assert moved == {ids[0]: "graph:Contacts/Old members", ids[1]: "graph:Contacts/Old members"}
    assert [a.person_id for a in out.plan.of("delete-person")] == [ids[2]]  # type: ignore[union-attr]
    assert not out.plan.of("create-contact", "create-person")
    assert out.report is not None and out.report.exit_code == 0
    assert "moved to the folder graph:Contacts/Old members" in "\n".join(out.report.warnings)
    # The moved ones' Persons stay; nothing created or deleted in the mailbox.
    assert sorted(db.get_many(ids)) == sorted([ids[0], ids[1], ids[3]])
    now = _by_cid(server)
    assert [f for _, f in now[str(ids[0])]] == ["Old members"]
    assert [f for _, f in now[str(ids[1])]] == ["Old members"]
    assert len(server.mailbox(USER).contacts) == 3
    # Named once; not re-created later, not even when asked to re-create deleted contacts.
    again = engine.run(db, FOLDER, mode, options=RunOptions(on_contact_deleted="propagate"))
    assert again.plan.changes() == 0 and not again.plan.of("moved")
    db.update(ids[0], {"job_title": "Edited"})
    later = engine.run(db, "graph:Contacts/CRM", "export", options=RunOptions(recreate=True))
    assert not later.plan.of("create-contact") and len(server.mailbox(USER).contacts) == 3


def test_the_same_person_in_another_synced_folder_is_no_move(
    server: GraphTestServer, signed_in_db: PersonsDB
) -> None:
    db = signed_in_db
    ids = _persons(db, 3)
    engine.run(db, "graph:Contacts/A", "export")
    engine.run(db, "graph:Contacts/B", "export")
    box = server.mailbox(USER)
    folder_a = next(f.id for f in box.folders.values() if f.display_name == "A")
    [in_a] = [i for i, f in _by_cid(server)[str(ids[0])] if f == "A"]
    assert box.contacts[in_a].folder_id == folder_a
    box.delete_contact(in_a)
    out = engine.run(db, "graph:Contacts/A", "export", options=RunOptions(yes=True))
    # B's contact carries the same Customer ID but is B's own (linked there): A's was deleted.
    assert not out.plan.of("moved")
    assert [a.person_id for a in out.plan.of("keep-deleted")] == [ids[0]]  # type: ignore[union-attr]


def test_searches_for_moved_contacts_are_bounded(
    server: GraphTestServer, signed_in_db: PersonsDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph_store, "ELSEWHERE_LOOKUPS", 1)
    db = signed_in_db
    ids = _persons(db, 6)
    engine.run(db, FOLDER, "export")
    box = server.mailbox(USER)
    other = box.create_folder(box.root.id, "Elsewhere")
    where = _by_cid(server)
    for pid in ids[:2]:
        box.move_contact(where[str(pid)][0][0], other.id, immutable=True)
    searches = len(server.api.log)
    out = engine.run(db, FOLDER, "export", options=RunOptions(on_contact_deleted="propagate"))
    # One searched (and found moved); the other not searched: kept as it is, asked next run.
    assert len(out.plan.of("moved")) == 1 and len(out.plan.of("skip")) == 1
    assert not out.plan.of("delete-person") and db.count() == 6
    assert out.report is not None and out.report.exit_code == 4
    assert "not searched for in other folders" in str(out.report.skipped)
    assert len(server.api.log) - searches < 12  # a delta round, one batch, naming the folder
    second = engine.run(db, FOLDER, "export", options=RunOptions(on_contact_deleted="propagate"))
    assert len(second.plan.of("moved")) == 1 and not second.plan.of("skip", "delete-person")
    assert db.count() == 6


@pytest.mark.parametrize("mode", ["sync", "import"])
def test_a_folder_whose_contacts_were_all_moved_deletes_no_person(
    server: GraphTestServer, signed_in_db: PersonsDB, mode: str
) -> None:
    """Every contact moved to another folder: the folder is listed empty. The guard stops the
    run (exit 3) and says where the contacts went; with --yes (an unattended profile that
    says yes) the contacts were never searched for, and `propagate` deleted every Person."""
    db = signed_in_db
    ids = _persons(db, 3)
    engine.run(db, FOLDER, "export")
    box = server.mailbox(USER)
    other = box.create_folder(box.root.id, "Archive")
    for cid in map(str, ids):
        box.move_contact(_by_cid(server)[cid][0][0], other.id, immutable=True)

    with pytest.raises(MassChangeRefused) as refused:
        engine.run(db, FOLDER, mode, options=RunOptions(on_contact_deleted="propagate"))
    assert "is empty" in refused.value.message
    assert "3 of them were found in other folders: moved, not deleted" in refused.value.message

    out = engine.run(db, FOLDER, mode, options=RunOptions(on_contact_deleted="propagate", yes=True))
    moved = {a.person_id: a.where for a in out.plan.of("moved")}  # type: ignore[union-attr]
    assert moved == dict.fromkeys(ids, "graph:Contacts/Archive")
    assert not out.plan.of("delete-person", "create-contact", "create-person")
    assert db.count() == 3


@pytest.mark.parametrize("immutable", [False, True], ids=["new-id", "same-id"])
def test_undo_of_an_export_keeps_the_link_of_a_contact_moved_since(
    server: GraphTestServer, signed_in_db: PersonsDB, immutable: bool
) -> None:
    """Undo of an export whose contacts went since: the deleted one's link ends (the next
    export makes its Person a contact again, as before the run), the moved one's stays (not
    undone): the next export names it moved and makes its Person no second contact. Moved
    with a new id, the contact is missing from the folder and found elsewhere (searched by
    Customer ID, as a run does); moved with its id, Graph still reads it by that id, changed."""
    from personsync.sync.undo import undo

    db = signed_in_db
    ids = _persons(db, 3)
    run = engine.run(db, FOLDER, "export").report
    assert run is not None
    box = server.mailbox(USER)
    other = box.create_folder(box.root.id, "Old members")
    where = _by_cid(server)
    box.move_contact(where[str(ids[0])][0][0], other.id, immutable=immutable)
    box.delete_contact(where[str(ids[1])][0][0])

    report = undo(db, run.run_id, options=RunOptions(yes=True))
    assert report.counts == {"undone": 2, "not-undone": 1}, report.to_dict()
    [skipped] = report.skipped
    assert skipped["person_id"] == ids[0]
    assert skipped["reason"] == (
        "the contact changed after the run"
        if immutable
        else "the contact was moved to the folder graph:Contacts/Old members"
    )
    again = engine.run(db, FOLDER, "export", options=RunOptions(yes=True))
    made = [a.person_id for a in again.plan.of("create-contact")]  # type: ignore[union-attr]
    assert sorted(made) == sorted(ids[1:])
    assert [a.person_id for a in again.plan.of("moved")] == [ids[0]]  # type: ignore[union-attr]
    now = _by_cid(server)
    assert {cid: [f for _, f in hits] for cid, hits in now.items()} == {
        str(ids[0]): ["Old members"],
        str(ids[1]): ["CRM"],
        str(ids[2]): ["CRM"],
    }


def test_undo_keeps_the_link_of_a_gone_contact_it_could_not_look_for(
    server: GraphTestServer, signed_in_db: PersonsDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's searches beyond the folder are bounded per run: a gone contact undo could
    not look for may have been moved, so it keeps its link (not undone, and said why); the
    next run asks again."""
    from personsync.sync.undo import undo

    monkeypatch.setattr(graph_store, "ELSEWHERE_LOOKUPS", 0)
    db = signed_in_db
    ids = _persons(db, 2)
    run = engine.run(db, FOLDER, "export").report
    assert run is not None
    box = server.mailbox(USER)
    box.delete_contact(_by_cid(server)[str(ids[0])][0][0])
    report = undo(db, run.run_id, options=RunOptions(yes=True))
    assert report.counts == {"undone": 1, "not-undone": 1}, report.to_dict()
    [skipped] = report.skipped
    assert (skipped["person_id"], skipped["reason"]) == (
        ids[0],
        "the contact is gone (not looked for in other folders)",
    )
    assert db.get(ids[0]).contact_manager_id  # still linked
