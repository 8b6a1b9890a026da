"""Deletes and view membership beyond `keep`: a linked Person deleted from the CRM told from one
who left the view (keep / tag / delete), a contact deleted in the folder propagated (the Person
deleted), the CRM alone creating, and the guards. Real vCard folder, real PersonsDB."""

from __future__ import annotations

from pathlib import Path

import pytest
from folder_help import by_cid, contacts, delete
from sync_fakes import records as generate

from personsync.errors import MassChangeRefused
from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.sync import engine
from personsync.sync.options import RunOptions
from personsync.sync.policies import TAG
from personsync.sync.settings import load_settings, set_deletes
from personsync.sync.undo import undo

VIEW = "Members"


def _members(db: PersonsDB, n: int = 5) -> list[int]:
    db.create_view(VIEW, "notes is empty")
    return db.add_many([r.replace({"notes": ""}) for r in generate(n, 9)])


def _leave(db: PersonsDB, pid: int) -> None:
    """The Person leaves the view (still in the CRM)."""
    db.update(pid, {"notes": "former member"})


@pytest.mark.parametrize("mode", ["export", "sync"])
def test_person_deleted_or_left_the_view_kept(db_url: str, tmp_path: Path, mode: str) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids = _members(db)
        engine.run(db, url, mode, view=VIEW)
        _leave(db, ids[0])
        db.delete(ids[1])
        out = engine.run(db, url, mode, view=VIEW)
        # Told apart, named in the plan and the report; both contacts stay as they were.
        left = [a for a in out.plan.actions if a.kind == "left-view"]
        gone = [a for a in out.plan.actions if a.kind == "keep-deleted"]
        assert [a.person_id for a in left] == [ids[0]]  # type: ignore[union-attr]
        assert [a.person_id for a in gone] == [ids[1]]  # type: ignore[union-attr]
        assert out.plan.changes() == 0
        assert out.report is not None and out.report.exit_code == 0
        text = "\n".join(out.report.warnings)
        assert f"its Person {ids[0]} left the view" in text
        assert f"its Person {ids[1]} was deleted in the CRM" in text
        assert {str(ids[0]), str(ids[1])} <= set(by_cid(url))
        # Named once: the next run reads nothing of them and plans nothing.
        again = engine.run(db, url, mode, view=VIEW)
        assert again.plan.changes() == 0 and not again.plan.of("left-view", "keep-deleted")
        # Back in the view: its contact is its own again (no second contact), and takes the
        # change made meanwhile.
        db.update(ids[0], {"notes": "", "company": "Back Again Ltd"})
        back = engine.run(db, url, mode, view=VIEW)
        assert back.report is not None and back.report.counts.get("update-contact") == 1
        assert not back.plan.of("create-contact")
        assert by_cid(url)[str(ids[0])].record.company == "Back Again Ltd"
        assert len(by_cid(url)) == 5
    finally:
        db.close()


@pytest.mark.parametrize("mode", ["export", "sync"])
def test_tag_removed_persons_once_and_untag_when_back(
    sqlite_url: str, tmp_path: Path, mode: str
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        ids = _members(db)
        db.update(ids[0], {"categories": ("VIP",)})
        engine.run(db, url, mode, view=VIEW)
        before = by_cid(url)
        _leave(db, ids[0])
        db.delete(ids[1])
        out = engine.run(db, url, mode, view=VIEW, options=RunOptions(on_person_removed="tag"))
        assert out.report is not None and out.report.counts["tag-contact"] == 2
        tagged = by_cid(url)
        assert tagged[str(ids[0])].record.categories == ("VIP", TAG)
        assert tagged[str(ids[1])].record.categories == (
            *before[str(ids[1])].record.categories,
            TAG,
        )
        assert tagged[str(ids[2])] == before[str(ids[2])]
        text = "\n".join(out.report.warnings)
        assert f"its Person {ids[0]} left the view: the contact is tagged" in text
        assert f"its Person {ids[1]} was deleted from the CRM: the contact is tagged" in text
        # Tagged once: the next run, with the same policy, writes nothing.
        again = engine.run(db, url, mode, view=VIEW, options=RunOptions(on_person_removed="tag"))
        assert again.plan.changes() == 0
        # An import leaves the tagged pair alone: the tag never becomes the Person's.
        engine.run(db, url, "import")
        assert db.get(ids[0]).record.categories == ("VIP",)
        # Back in the view: the tag comes off, the CRM's values go in, in one run.
        db.update(ids[0], {"notes": "", "job_title": "Returned"})
        back = engine.run(db, url, mode, view=VIEW, options=RunOptions(on_person_removed="tag"))
        assert back.report is not None and back.report.exit_code == 0
        contact = by_cid(url)[str(ids[0])]
        assert contact.record.categories == ("VIP",) and contact.record.job_title == "Returned"
        assert db.get(ids[0]).record.categories == ("VIP",)
        assert engine.run(db, url, mode, view=VIEW).plan.changes() == 0
    finally:
        db.close()


def test_undo_takes_a_tag_off(sqlite_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        ids = _members(db, 3)
        engine.run(db, url, "export", view=VIEW)
        before = by_cid(url)[str(ids[0])]
        _leave(db, ids[0])
        out = engine.run(db, url, "export", view=VIEW, options=RunOptions(on_person_removed="tag"))
        assert out.report is not None
        assert TAG in by_cid(url)[str(ids[0])].record.categories
        undone = undo(db, out.report.run_id, options=RunOptions(yes=True))  # past the guard
        assert undone.counts.get("undone") == 1
        assert by_cid(url)[str(ids[0])].record == before.record
        # Undone stays undone, as an undone delete does: the link is left as `keep` would
        # leave it (dormant while the Person is out of the view), so the next tag run does not
        # tag the contact again; the Person coming back and leaving again would.
        for mode in ("export", "sync"):
            again = engine.run(
                db, url, mode, view=VIEW, options=RunOptions(on_person_removed="tag")
            )
            assert again.report is not None and again.report.exit_code == 0
            assert not again.plan.of("tag-contact")
            assert by_cid(url)[str(ids[0])].record == before.record
    finally:
        db.close()


@pytest.mark.parametrize("mode", ["export", "sync"])
def test_delete_contacts_of_removed_persons_then_undo(
    db_url: str, tmp_path: Path, mode: str
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids = _members(db)
        engine.run(db, url, mode, view=VIEW)
        before = by_cid(url)
        _leave(db, ids[0])
        db.delete(ids[1])
        # A dry run names each, and deletes nothing.
        dry = engine.run(
            db, url, mode, view=VIEW, options=RunOptions(on_person_removed="delete", dry_run=True)
        )
        whys = {a.person_id: a.why for a in dry.plan.of("delete-contact")}  # type: ignore[union-attr]
        assert whys == {ids[0]: "left the view", ids[1]: "deleted"}
        assert len(by_cid(url)) == 5
        out = engine.run(db, url, mode, view=VIEW, options=RunOptions(on_person_removed="delete"))
        assert out.report is not None and out.report.counts["delete-contact"] == 2
        assert sorted(by_cid(url)) == sorted(str(i) for i in ids[2:])
        assert "the contact is deleted" in "\n".join(out.report.warnings)
        assert (
            engine.run(
                db, url, mode, view=VIEW, options=RunOptions(on_person_removed="delete")
            ).plan.changes()
            == 0
        )
        # Undo: both contacts back, with their Customer IDs and values; the next run, even
        # with `delete`, does not delete them again (kept, as `keep` leaves them).
        undone = undo(db, out.report.run_id, options=RunOptions(yes=True))  # past the guard
        assert undone.counts.get("undone") == 2, undone.skipped
        now = by_cid(url)
        for pid in ids[:2]:
            assert now[str(pid)].record == before[str(pid)].record
        after = engine.run(db, url, mode, view=VIEW, options=RunOptions(on_person_removed="delete"))
        assert after.plan.changes() == 0 and len(by_cid(url)) == 5
        # The Person who only left comes back: linked to its re-created contact, no duplicate.
        db.update(ids[0], {"notes": ""})
        engine.run(db, url, mode, view=VIEW)
        assert len(by_cid(url)) == 5
    finally:
        db.close()


@pytest.mark.parametrize("mode", ["export", "import", "sync"])
def test_contact_deleted_in_outlook_propagated_then_undone(
    db_url: str, tmp_path: Path, mode: str
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids = db.add_many(list(generate(5, 9)))
        engine.run(db, url, "export")
        person = db.get(ids[2])
        delete(url, by_cid(url)[str(ids[2])])
        out = engine.run(db, url, mode, options=RunOptions(on_contact_deleted="propagate"))
        assert out.report is not None and out.report.counts["delete-person"] == 1
        assert out.report.exit_code == 0
        assert db.count() == 4 and ids[2] not in db.get_many(ids)
        assert "the Person is deleted" in "\n".join(out.report.warnings)
        assert (
            engine.run(
                db, url, mode, options=RunOptions(on_contact_deleted="propagate")
            ).plan.changes()
            == 0
        )
        # Undo: the Person back with the same id and values; the next run neither deletes it
        # again nor re-creates its contact.
        undone = undo(db, out.report.run_id, options=RunOptions(yes=True))  # past the guard
        assert undone.counts.get("undone") == 1, undone.skipped
        back = db.get(ids[2])
        assert back.record == person.record
        again = engine.run(db, url, mode, options=RunOptions(on_contact_deleted="propagate"))
        assert again.plan.changes() == 0 and db.count() == 5 and len(by_cid(url)) == 4
    finally:
        db.close()


def test_propagate_only_a_link_that_just_broke(sqlite_url: str, tmp_path: Path) -> None:
    """A contact kept deleted by an earlier run (a tombstone) is not propagated later, and a
    contact that comes back (restored, same Customer ID) is relinked, not propagated."""
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        ids = db.add_many(list(generate(4, 9)))
        engine.run(db, url, "export")
        delete(url, by_cid(url)[str(ids[0])])
        engine.run(db, url, "export")  # keep: a tombstone
        db.update(ids[0], {"job_title": "Edited"})
        later = engine.run(db, url, "export", options=RunOptions(on_contact_deleted="propagate"))
        assert not later.plan.of("delete-person") and db.count() == 4
        restored = by_cid(url)[str(ids[1])]
        delete(url, restored)
        store = open_folder(url, create=False)
        try:
            store.create(Contact(restored.record, customer_id=str(ids[1])))
        finally:
            store.close()
        out = engine.run(db, url, "import", options=RunOptions(on_contact_deleted="propagate"))
        assert not out.plan.of("delete-person") and db.count() == 4
    finally:
        db.close()


def test_crm_alone_creates(sqlite_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        db.add_many(list(generate(3, 9)))
        engine.run(db, url, "sync")
        store = open_folder(url, create=False)
        try:
            store.create(Contact(Record(first_name="Typed", last_name="InOutlook")))
        finally:
            store.close()
        set_deletes(db.engine, url, crm_alone_creates=True)
        assert load_settings(db.engine, url).crm_alone_creates is True
        out = engine.run(db, url, "sync")
        assert out.report is not None and out.report.exit_code == 0
        assert out.report.counts["not-created"] == 1 and db.count() == 3
        assert "the CRM alone creates here" in "\n".join(out.report.warnings)
        # Named once, not a standing decision.
        again = engine.run(db, url, "sync")
        assert again.report is not None and not again.report.warnings
        assert again.report.exit_code == 0 and db.count() == 3
        # The rule lifted: the contact becomes a Person.
        set_deletes(db.engine, url, crm_alone_creates=False)
        made = engine.run(db, url, "sync")
        assert made.report is not None and made.report.counts["create-person"] == 1
    finally:
        db.close()


def test_folder_settings_give_the_run_its_policies(sqlite_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        ids = _members(db, 3)
        engine.run(db, url, "export", view=VIEW)
        set_deletes(db.engine, url, on_person_removed="delete", on_contact_deleted="propagate")
        _leave(db, ids[0])
        delete(url, by_cid(url)[str(ids[1])])
        plan = engine.run(db, url, "export", view=VIEW, options=RunOptions(dry_run=True)).plan
        assert sorted(a.kind for a in plan.actions if a.kind != "refresh") == [
            "delete-contact",
            "delete-person",
        ]
        # The run's own option wins over the folder's.
        kept = engine.run(
            db, url, "export", view=VIEW, options=RunOptions(dry_run=True, on_person_removed="keep")
        )
        assert kept.plan.of("left-view") and not kept.plan.of("delete-contact")
    finally:
        db.close()


# --- the guards ---------------------------------------------------------------------------


def test_propagate_from_an_emptied_folder_stops(sqlite_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "contacts"
    url = f"vcf:{folder}"
    db = PersonsDB(sqlite_url)
    try:
        db.add_many(list(generate(6, 9)))
        engine.run(db, url, "sync")
        for card in folder.iterdir():
            card.unlink()
        for mode in ("export", "import", "sync"):
            with pytest.raises(MassChangeRefused, match="is empty") as exc:
                engine.run(db, url, mode, options=RunOptions(on_contact_deleted="propagate"))
            assert exc.value.exit_code == 3
        assert db.count() == 6
    finally:
        db.close()


def test_delete_with_an_emptied_view_stops(sqlite_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        ids = _members(db, 4)
        engine.run(db, url, "sync", view=VIEW)
        for pid in ids:
            _leave(db, pid)
        for mode in ("export", "sync"):
            with pytest.raises(MassChangeRefused, match="has no Persons") as exc:
                engine.run(db, url, mode, view=VIEW, options=RunOptions(on_person_removed="delete"))
            assert exc.value.exit_code == 3
        assert len(by_cid(url)) == 4
    finally:
        db.close()


def test_guard_counts_deletes_and_tags(sqlite_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        ids = _members(db, 4)
        engine.run(db, url, "export", view=VIEW)
        for pid in ids[:3]:
            _leave(db, pid)
        for policy in ("tag", "delete"):
            with pytest.raises(MassChangeRefused, match="3 of the 4 contacts"):
                engine.run(
                    db, url, "export", view=VIEW, options=RunOptions(on_person_removed=policy)
                )  # type: ignore[arg-type]
        for pid in ids[:3]:
            db.update(pid, {"notes": ""})
        for pid in ids[:3]:
            delete(url, by_cid(url)[str(pid)])
        with pytest.raises(MassChangeRefused, match="3 of the 4 Persons"):
            engine.run(db, url, "import", options=RunOptions(on_contact_deleted="propagate"))
        assert db.count() == 4
    finally:
        db.close()


def test_a_two_way_run_tells_pairs_it_links_outside_its_view_and_leaves_them_alone(
    db_url: str, tmp_path: Path
) -> None:
    # A sync of "Members" makes a Person from a new contact who is no member, and matches
    # another new contact to a Person outside the view. Neither Person ever was in the view:
    # the next identical run must not take them for Persons who left it (and tag, under
    # `--on-person-removed tag`, the contacts just linked).
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        _members(db, 2)
        outsider = Record(first_name="Olga", last_name="Outside", email1="olga@example.org")
        [olga] = db.add_many([outsider.replace({"notes": "not a member"})])
        store = open_folder(url, create=True)
        store.create(Contact(outsider))  # matched by e-mail to Olga, outside the view
        store.create(Contact(Record(first_name="Nina", last_name="New", notes="a guest")))
        store.close()
        tag = RunOptions(yes=True, on_person_removed="tag")
        first = engine.run(db, url, "sync", view=VIEW, options=tag)
        assert first.report is not None and first.report.counts["create-person"] == 1
        [nina] = [p.id for p in db.iter_persons() if p.record.first_name == "Nina"]
        told = [w for w in first.report.warnings if "outside the view" in w]
        assert len(told) == 1 and f"{olga}" in told[0] and f"{nina}" in told[0], told
        again = engine.run(db, url, "sync", view=VIEW, options=tag)
        assert again.plan.changes() == 0, again.plan.to_dict()
        assert not again.plan.of("left-view", "tag-contact")
        assert all(TAG not in c.record.categories for c in by_cid(url).values())
        # The pair is the view's again as soon as the Person comes into it.
        db.update(nina, {"notes": ""})
        db.update(nina, {"job_title": "Member now"})
        back = engine.run(db, url, "sync", view=VIEW, options=tag)
        assert back.report is not None and back.report.counts["update-contact"] == 1
        assert by_cid(url)[str(nina)].record.job_title == "Member now"
    finally:
        db.close()


def test_an_import_carries_an_edit_of_a_contact_whose_person_left_the_view(
    db_url: str, tmp_path: Path
) -> None:
    # An import covers every contact: one whose Person left an export's view still gets its
    # edits into the CRM (it was skipped: the edit never arrived, and nothing said why).
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids = _members(db, 2)
        engine.run(db, url, "export", view=VIEW, options=RunOptions(yes=True))
        _leave(db, ids[0])
        left = engine.run(db, url, "export", view=VIEW, options=RunOptions(yes=True))
        assert [a.kind for a in left.plan.actions] == ["left-view"]
        store = open_folder(url)
        contact = by_cid(url)[str(ids[0])]
        store.update(contact, Contact(contact.record.replace({"company": "Umbrella Ltd"})))
        store.close()
        imported = engine.run(db, url, "import", options=RunOptions(yes=True))
        assert imported.report is not None and imported.report.counts["update-person"] == 1
        assert db.get(ids[0]).record.company == "Umbrella Ltd"
        assert engine.run(db, url, "import", options=RunOptions(dry_run=True)).plan.changes() == 0
    finally:
        db.close()


# Persons removed from the view have their contacts deleted (past the guard: 1 of 5).
_DELETE = RunOptions(on_person_removed="delete", yes=True)


def _copied_then_deleted(db: PersonsDB, url: str) -> tuple[list[int], str]:
    """Five members synced; the user copies the first one's contact (Outlook's copy: the same
    values and Customer ID); the Person leaves the view and a run deletes its contact. The
    Persons' ids, and that run's."""
    ids = _members(db)
    engine.run(db, url, "sync", view=VIEW)
    store = open_folder(url, create=False)
    try:
        contact = by_cid(url)[str(ids[0])]
        store.create(Contact(contact.record, customer_id=contact.customer_id))
    finally:
        store.close()
    _leave(db, ids[0])
    out = engine.run(db, url, "sync", view=VIEW, options=_DELETE)
    assert out.report is not None and out.report.counts["delete-contact"] == 1
    return ids, out.report.run_id


def test_a_copy_of_a_deleted_contact_stays_a_decision_until_its_person_is_back(
    db_url: str, tmp_path: Path
) -> None:
    """A Person who left the view under `delete`, whose contact had a copy: the copy is named
    on every run (as under `keep` and `tag`), never linked to the Person outside the view;
    back in the view, the Person takes the copy as its contact (by its Customer ID)."""
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids, deleted_by = _copied_then_deleted(db, url)
        for _ in range(2):  # the same on every run: nothing written, the copy named
            again = engine.run(db, url, "sync", view=VIEW, options=_DELETE)
            assert again.plan.changes() == 0, again.plan.to_dict()
            (copy,) = again.plan.of("decide")
            assert copy.reason == (  # type: ignore[union-attr]
                f"carries Customer ID {ids[0]}, but Person {ids[0]} left the view '{VIEW}' "
                f"and its contact was deleted by run {deleted_by} (a copied contact?)"
            )
        assert db.get(ids[0]).record.notes == "former member"
        # Back in the view: the copy is its contact (no second contact, no second Person),
        # linked by its Customer ID (a field changed on one side since would be a conflict:
        # there is no baseline, as for any contact relinked so).
        db.update(ids[0], {"notes": ""})
        back = engine.run(db, url, "sync", view=VIEW, options=_DELETE)
        assert back.report is not None and back.report.exit_code == 0, back.plan.to_dict()
        assert [a.person_id for a in back.plan.of("link")] == [ids[0]]  # type: ignore[union-attr]
        assert len(contacts(url)) == 5 and len(db.versions(None)) == 5
        assert engine.run(db, url, "sync", view=VIEW, options=_DELETE).plan.changes() == 0
    finally:
        db.close()


def test_a_copy_of_a_deleted_contact_is_its_persons_once_the_delete_is_undone(
    db_url: str, tmp_path: Path
) -> None:
    """The run that deleted the contact undone: undo finds the copy (the Person's Customer ID
    is back) and re-makes nothing; from then on the copy is an ordinary contact carrying its
    Person's Customer ID, paired by it (the link dormant: the Person is outside the view)."""
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids, deleted_by = _copied_then_deleted(db, url)
        named = engine.run(db, url, "sync", view=VIEW, options=_DELETE)
        assert [a.person_id for a in named.plan.of("decide")] == [ids[0]]  # type: ignore[union-attr]
        undone = undo(db, deleted_by, options=RunOptions(yes=True))
        assert "is back" in undone.skipped[0]["reason"], undone.skipped
        paired = engine.run(db, url, "sync", view=VIEW, options=_DELETE)
        (pair,) = paired.plan.actions  # linked by its Customer ID, the CRM's notes written
        assert (pair.kind, pair.person_id, pair.link) == ("update-contact", ids[0], "Customer ID")  # type: ignore[union-attr]
        assert engine.run(db, url, "sync", view=VIEW, options=_DELETE).plan.changes() == 0
        assert len(contacts(url)) == 5 and len(db.versions(None)) == 5
    finally:
        db.close()
