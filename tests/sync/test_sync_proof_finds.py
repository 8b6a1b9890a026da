"""What the state machine's decisions (tests/sync/proof_decisions.py: undo, resolve, link,
unlink) found, each shrunk to a plain test (SQLite and PostgreSQL, in-memory folder)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from proof_machine import AWAY, VIEW, Run, contacts_of, opened, reset, run_engine

from personsync.errors import UsageError
from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.sync import manual
from personsync.sync.links import set_ignored
from personsync.sync.options import RunOptions
from personsync.sync.resolve import resolve
from personsync.sync.settings import set_rule
from personsync.sync.undo import undo


def _folder() -> str:
    return f"memory:finds-{uuid.uuid4().hex[:10]}"


def test_link_of_a_linked_person_to_another_contact_moves_the_link(persons_db: PersonsDB) -> None:
    """`link P ITEM --yes` of a Person linked to another contact moves the link: that contact's
    Customer ID is cleared. It was left with P's, unlinked: two contacts of one Person (and the
    next sync left them so)."""
    folder = _folder()
    pid = persons_db.add(Record(first_name="Ann", last_name="Lee")).id
    run_engine(persons_db, folder, Run("export"), yes=True)
    with opened(folder) as store:
        other = store.create(Contact(Record(first_name="Bob", last_name="Ray"))).item_id
    manual.link(persons_db, pid, folder, other, yes=True)
    run_engine(persons_db, folder, Run("sync"), yes=True)
    ids = [c.customer_id for c in contacts_of(folder).values()]
    assert ids.count(str(pid)) == 1, ids


def _person_made_of_a_contact(persons_db: PersonsDB) -> tuple[str, str, int]:
    """A folder with one new contact, synced: (the folder, the run, the Person it made)."""
    folder = _folder()
    with opened(folder, create=True) as store:
        store.create(Contact(Record(first_name="Ann", last_name="Lee")))
    made = run_engine(persons_db, folder, Run("sync"), yes=True).report
    assert made is not None
    (pid,) = persons_db.versions(None)
    return folder, made.run_id, pid


def test_undo_of_a_person_create_whose_person_changed_keeps_the_pair(
    persons_db: PersonsDB,
) -> None:
    folder, run_id, pid = _person_made_of_a_contact(persons_db)
    persons_db.update(pid, {"job_title": "X"})  # edited since: undo keeps the Person
    report = undo(persons_db, run_id, options=RunOptions(yes=True))
    assert report.counts == {"not-undone": 1}, report.counts  # the pair, named once
    (said,) = report.skipped
    assert said["reason"] == (
        f"Person {pid} was edited since run {run_id}: kept, and so its contact keeps its "
        "Customer ID and link"
    ), said
    run_engine(persons_db, folder, Run("sync"), yes=True)
    assert len(persons_db.versions(None)) == 1
    (contact,) = contacts_of(folder).values()
    assert contact.customer_id == str(pid) and contact.record.job_title == "X"


def test_undo_of_a_person_create_whose_contact_changed_keeps_the_pair(
    persons_db: PersonsDB,
) -> None:
    """The other side of the same pair: the contact edited since keeps the Customer ID the run
    wrote back, so the Person the run made of it is kept too (undone alone, it was deleted and
    the contact named the Customer ID of no Person), and the next sync brings the edit over."""
    folder, run_id, pid = _person_made_of_a_contact(persons_db)
    (contact,) = contacts_of(folder).values()
    with opened(folder) as store:
        store.update(contact, replace(contact, record=contact.record.replace({"job_title": "Y"})))
    report = undo(persons_db, run_id, options=RunOptions(yes=True))
    assert report.counts == {"not-undone": 1}, report.counts  # the pair, named once
    (said,) = report.skipped
    assert f"kept, and so is Person {pid}" in said["reason"], said
    run_engine(persons_db, folder, Run("sync"), yes=True)
    (contact,) = contacts_of(folder).values()
    assert contact.customer_id == str(pid)
    assert persons_db.get(pid).record.job_title == "Y"


def _listed_conflict(
    db: PersonsDB, field: str, email: str = "", copy: bool = False
) -> tuple[str, int, Contact, str]:
    """Ann synced, then `field` set to "Y" in Outlook (and a copy of her contact made, with
    `copy`) and to "X" in the CRM: a sync lists the conflict. (folder, Ann, her contact, the
    listing run's id)."""
    folder = _folder()
    pid = db.add(Record(first_name="Ann", last_name="Lee", email1=email)).id
    run_engine(db, folder, Run("sync"), yes=True)
    (contact,) = contacts_of(folder).values()
    with opened(folder) as store:
        store.update(contact, replace(contact, record=contact.record.replace({field: "Y"})))
        if copy:
            store.create(replace(contact, item_id=""))  # the user's copy (the old values)
    db.update(pid, {field: "X"})
    listed = run_engine(db, folder, Run("sync"), yes=True).report
    assert listed is not None and [c["field"] for c in listed.to_dict()["conflicts"]] == [field]
    return folder, pid, contact, listed.run_id


def test_resolve_take_outlook_settles_a_fill_only_if_empty_field(persons_db: PersonsDB) -> None:
    folder, pid, _, _ = _listed_conflict(persons_db, "job_title")
    set_rule(persons_db.engine, folder, "job_title", fill_only_if_empty=True)
    resolve(persons_db, str(pid), "outlook", folder=folder)
    (contact,) = contacts_of(folder).values()
    assert persons_db.get(pid).record.job_title == contact.record.job_title == "Y"


def test_undo_of_an_unlink_leaves_a_customer_id_another_contact_carries_now(
    persons_db: PersonsDB,
) -> None:
    """`undo` of an `unlink --item A --ignore`, after a run gave the Person a new contact B:
    the undo put the Person's Customer ID back on A, two contacts of one Person."""
    folder = _folder()
    pid = persons_db.add(Record(first_name="Ann", last_name="Lee")).id
    run_engine(persons_db, folder, Run("export"), yes=True)
    ((item, _),) = contacts_of(folder).items()
    unlinked = manual.unlink(persons_db, folder, person_id=pid, item_id=item)
    set_ignored(persons_db.engine, folder, item, True)
    run_engine(persons_db, folder, Run("sync"), yes=True)  # the Person gets a new contact
    report = undo(persons_db, unlinked.run_id)
    ids = [c.customer_id for c in contacts_of(folder).values()]
    assert ids.count(str(pid)) == 1, ids
    assert report.counts.get("not-undone") == 1, report.counts  # and says why


def test_a_left_view_delete_with_a_copied_contact_plans_nothing_the_second_time(
    persons_db: PersonsDB,
) -> None:
    folder = _folder()
    reset(persons_db)
    pid = persons_db.add(Record(first_name="Cy", last_name="Ray")).id
    run_engine(persons_db, folder, Run("sync"), yes=True)
    (contact,) = contacts_of(folder).values()
    with opened(folder) as store:
        store.create(replace(contact, item_id=""))  # the user's copy
    persons_db.update(pid, {"business_city": AWAY})
    run = Run("sync", policy="crm", view=VIEW, removed="delete", deleted="keep")
    run_engine(persons_db, folder, run, yes=True)
    again = run_engine(persons_db, folder, run, dry_run=True)
    assert again.plan.changes() == 0, again.plan.to_dict()


def test_resolve_of_a_person_unlinked_since_its_conflict_makes_nothing(
    persons_db: PersonsDB,
) -> None:
    """`resolve PERSON` after the Person was unlinked since its conflict was listed: the run
    restricted to the Person planned it as any sync would (a new contact), so resolving one
    field made the Person a second contact. Now nothing is written and the Person is named."""
    folder, pid, _, run_id = _listed_conflict(persons_db, "company")
    manual.unlink(persons_db, folder, person_id=pid)
    before = contacts_of(folder)
    for target in (str(pid), run_id):
        outcome = resolve(persons_db, target, "crm", folder=folder)
        assert outcome.report is not None
        assert outcome.plan.changes() == 0, outcome.plan.to_dict()
        (skip,) = outcome.report.to_dict()["skipped"]
        assert f"Person {pid} was unlinked" in skip["reason"], skip
    assert contacts_of(folder) == before


def test_undo_of_a_link_leaves_a_customer_id_its_first_person_carries_elsewhere_now(
    persons_db: PersonsDB,
) -> None:
    """`undo` of `link P ITEM` that took ITEM from Person Q, after a run gave Q a new contact:
    the undo gave ITEM Q's Customer ID back, two contacts of Q (found by the long profile)."""
    folder = _folder()
    q = persons_db.add(Record(first_name="Ann", last_name="Lee")).id
    p = persons_db.add(Record(first_name="Ann", last_name="Lee")).id  # the same values
    run_engine(persons_db, folder, Run("export"), yes=True)
    item = next(i for i, c in contacts_of(folder).items() if c.customer_id == str(q))
    linked = manual.link(persons_db, p, folder, item, yes=True)
    run_engine(persons_db, folder, Run("sync"), yes=True)  # Q gets a new contact
    report = undo(persons_db, linked.run_id, options=RunOptions(yes=True))
    ids = [c.customer_id for c in contacts_of(folder).values()]
    assert ids.count(str(q)) == 1 and ids.count(str(p)) == 1, ids
    assert any(f"carries Customer ID {q} now" in x.get("reason", "") for x in report.problems())
    again = run_engine(persons_db, folder, Run("sync"), dry_run=True)
    assert again.plan.changes() == 0 and not again.plan.of("decide"), again.plan.to_dict()


def test_resolve_of_a_person_unlinked_since_and_matched_again_links_nothing(
    persons_db: PersonsDB,
) -> None:
    """The same, when the run restricted to the Person matches its old contact again by e-mail
    and writes both sides: an UpdatePerson that makes the link and an UpdateContact that does
    not say so. Keeping the second linked the pair (found by the long profile)."""
    folder, pid, _, _ = _listed_conflict(persons_db, "company", email="ann@x.org")
    manual.unlink(persons_db, folder, person_id=pid)
    (contact,) = contacts_of(folder).values()
    with opened(folder) as store:  # a value for the CRM too: both sides would be written
        store.update(contact, replace(contact, record=contact.record.replace({"job_title": "T"})))
    before, person = contacts_of(folder), persons_db.get(pid)
    outcome = resolve(persons_db, str(pid), "crm", folder=folder)
    assert outcome.plan.changes() == 0, outcome.plan.to_dict()
    assert contacts_of(folder) == before and persons_db.get(pid) == person
    assert manual.linked_item(persons_db, folder, pid) is None


def test_resolve_of_a_person_whose_contact_was_copied_still_settles(
    persons_db: PersonsDB,
) -> None:
    """A copy of the Person's contact is named as a decision beside the pair: resolve still
    settles the pair's conflict (found by the long profile, when the copy's decision made the
    whole Person look unpaired)."""
    folder, pid, contact, _ = _listed_conflict(persons_db, "company", copy=True)
    outcome = resolve(persons_db, str(pid), "crm", folder=folder)
    assert outcome.plan.of("decide"), outcome.plan.to_dict()  # the copy, still named
    mine = contacts_of(folder)[contact.item_id]
    assert mine.record.company == persons_db.get(pid).record.company == "X"


def test_link_of_a_person_whose_id_an_unlinked_contact_carries_moves_it(
    persons_db: PersonsDB,
) -> None:
    """`link P ITEM` of a Person with no link here, whose Customer ID another contact carries
    unlinked (an undo killed mid-way gave the id back before the link): that contact kept the
    id, two contacts of one Person (found by the long profile). Now it is moved as a linked
    one is: refused without yes, then cleared (journaled), and undo gives it back."""
    folder = _folder()
    pid = persons_db.add(Record(first_name="Ann", last_name="Lee")).id
    run_engine(persons_db, folder, Run("export"), yes=True)
    ((old, _),) = contacts_of(folder).items()
    manual.unlink(persons_db, folder, person_id=pid)
    with opened(folder) as store:  # the id back, with no link row
        got = contacts_of(folder)[old]
        store.update(got, replace(got, customer_id=str(pid)))
        other = store.create(Contact(Record(first_name="Bob", last_name="Ray"))).item_id
    with pytest.raises(UsageError, match=f"has contact {old} by its Customer ID"):
        manual.link(persons_db, pid, folder, other)
    report = manual.link(persons_db, pid, folder, other, yes=True)
    ids = {i: c.customer_id for i, c in contacts_of(folder).items()}
    assert ids == {old: "", other: str(pid)}, ids
    assert any(f"contact {old}'s Customer ID {pid} was cleared" in w for w in report.warnings)
    undone = undo(persons_db, report.run_id, options=RunOptions(yes=True))
    ids = {i: c.customer_id for i, c in contacts_of(folder).items()}
    assert ids == {old: str(pid), other: ""}, (ids, undone.problems())
    assert manual.linked_item(persons_db, folder, pid) is None  # no link row made by the undo


def test_undo_of_a_link_to_a_copy_gives_the_copy_its_customer_id_back(
    persons_db: PersonsDB,
) -> None:
    """`undo` of `link P COPY`, COPY a copy of Person Q's contact (both carried Q's id when
    the run read them, and nobody changed either since): the two-contacts check above refused
    it, taking the original for a contact Q got since (found by the long profile). The run's
    entry names the contacts that carried the id with it, and the undo gives it back."""
    folder = _folder()
    q = persons_db.add(Record(first_name="Ann", last_name="Lee")).id
    p = persons_db.add(Record(first_name="Bob", last_name="Ray")).id
    run_engine(persons_db, folder, Run("export"), yes=True)
    original = next(c for c in contacts_of(folder).values() if c.customer_id == str(q))
    with opened(folder) as store:
        copy = store.create(replace(original, item_id="")).item_id
    linked = manual.link(persons_db, p, folder, copy, yes=True)
    report = undo(persons_db, linked.run_id, options=RunOptions(yes=True))
    assert not report.problems(), report.problems()
    ids = {i: c.customer_id for i, c in contacts_of(folder).items()}
    assert ids[copy] == ids[original.item_id] == str(q), ids
