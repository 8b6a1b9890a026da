"""The planner is pure: these tests build snapshots by hand and assert on plans."""

from __future__ import annotations

from personsync.errors import FormatError
from personsync.model import Contact, Person, Record
from personsync.stores.base import ReadProblem
from personsync.sync.links import LinkRow
from personsync.sync.plan import (
    CreateContact,
    CreatePerson,
    KeepDeleted,
    Link,
    NeedsDecision,
    Refresh,
    Skip,
    UpdateContact,
    UpdatePerson,
)
from personsync.sync.planner import plan_export, plan_import, plan_sync
from personsync.sync.snapshot import FolderSnapshot, PersonsSnapshot, Snapshot

ANN = Record(first_name="Ann", last_name="Lee", email1="ann@example.org", company="Acme")
BOB = Record(first_name="Bob", last_name="Ray", mobile_phone="+1 212 555 0100")


def person(pid: int, record: Record, version: str = "v1", cmid: str | None = None) -> Person:
    return Person(pid, record, version, contact_manager_id=cmid)


def contact(item: str, record: Record, version: str = "c1", cid: str = "") -> Contact:
    return Contact(record, item_id=item, version=version, customer_id=cid)


def snap(
    persons: list[Person],
    contacts: list[Contact],
    links: dict[int, LinkRow] | None = None,
    *,
    read_persons: list[Person] | None = None,
    read_contacts: list[Contact] | None = None,
    unsupported: frozenset[str] = frozenset(),
    problems: tuple[ReadProblem, ...] = (),
    recovered: dict[str, int] | None = None,
) -> Snapshot:
    rp = persons if read_persons is None else read_persons
    rc = contacts if read_contacts is None else read_contacts
    folder = FolderSnapshot(
        "memory:t",
        {c.item_id: c.version for c in contacts},
        {c.item_id: c for c in rc},
        problems,
        unsupported,
    )
    ps = PersonsSnapshot({p.id: p.version for p in persons}, {p.id: p for p in rp}, len(persons))
    return Snapshot(folder, ps, links or {}, recovered or {})


def test_export_into_empty_folder_creates_each_person_with_customer_id() -> None:
    plan = plan_export(snap([person(1, ANN), person(2, BOB)], []))
    creates = plan.of("create-contact")
    assert [a.person_id for a in creates if isinstance(a, CreateContact)] == [1, 2]
    assert all(
        isinstance(a, CreateContact) and a.contact.customer_id == str(a.person_id) for a in creates
    )
    assert plan.counts()["create-contact"] == 2 and plan.changes() == 2


def test_export_in_step_pairs_are_unchanged_without_being_read() -> None:
    links = {1: LinkRow(1, "a", "c1", "v1")}
    # Nothing was read: the planner must not need either side's record.
    plan = plan_export(
        snap(
            [person(1, ANN)], [contact("a", ANN, cid="1")], links, read_persons=[], read_contacts=[]
        )
    )
    assert plan.actions == () and plan.unchanged == 1


def test_export_changed_person_updates_linked_contact_field_by_field() -> None:
    links = {1: LinkRow(1, "a", "c1", "v1")}
    changed = ANN.replace({"job_title": "CEO", "email1": "ANN@example.org"})
    plan = plan_export(snap([person(1, changed, "v2")], [contact("a", ANN, cid="1")], links))
    (action,) = plan.actions
    assert isinstance(action, UpdateContact)
    # The e-mail differs only in case: never a write.
    assert action.changes == (("job_title", "", "CEO"),)
    assert action.new.customer_id == "1" and action.link == ""


def test_export_touched_but_equal_refreshes_only() -> None:
    links = {1: LinkRow(1, "a", "c1", "v1")}
    plan = plan_export(snap([person(1, ANN)], [contact("a", ANN, "c2", cid="1")], links))
    assert [type(a) for a in plan.actions] == [Refresh]
    assert plan.changes() == 0 and plan.counts()["unchanged"] == 1


def test_export_relinks_by_customer_id_when_link_is_gone() -> None:
    links = {1: LinkRow(1, "gone", "c1", "v1")}
    plan = plan_export(snap([person(1, ANN)], [contact("moved", ANN, cid="1")], links))
    (action,) = plan.actions
    assert isinstance(action, Link) and action.link == "Customer ID"
    assert action.contact.item_id == "moved"


def test_export_two_contacts_with_same_customer_id_need_a_decision() -> None:
    plan = plan_export(
        snap([person(1, ANN)], [contact("a", ANN, cid="1"), contact("b", ANN, cid="1")])
    )
    (action,) = plan.actions
    assert isinstance(action, NeedsDecision)
    assert set(action.candidates) == {"a", "b"} and "Customer ID 1" in action.reason


def test_export_copy_of_linked_contact_is_named_not_touched() -> None:
    links = {1: LinkRow(1, "a", "c1", "v1")}
    contacts = [contact("a", ANN, cid="1"), contact("copy", ANN, cid="1")]
    plan = plan_export(snap([person(1, ANN)], contacts, links, read_contacts=[contacts[1]]))
    (action,) = plan.actions
    assert isinstance(action, NeedsDecision) and action.item_id == "copy"
    assert plan.unchanged == 1


def test_export_first_sync_matches_by_email_case_insensitively() -> None:
    c = contact("x", Record(first_name="A.", email1="Ann@Example.org"))
    plan = plan_export(snap([person(1, ANN)], [c]))
    (action,) = plan.actions
    assert isinstance(action, UpdateContact) and action.link == "e-mail"
    assert action.new.customer_id == "1"
    assert ("first_name", "A.", "Ann") in action.changes


def test_export_matches_by_name_and_phone_when_no_email() -> None:
    c = contact("x", Record(first_name="bob", last_name="RAY", mobile_phone="(212) 555-0100"))
    plan = plan_export(snap([person(2, BOB)], [c]))
    (action,) = plan.actions
    assert isinstance(action, UpdateContact) and action.link == "name and phone"


def test_export_name_alone_is_not_a_match() -> None:
    c = contact("x", Record(first_name="Bob", last_name="Ray"))
    plan = plan_export(snap([person(2, BOB)], [c]))
    assert [type(a) for a in plan.actions] == [CreateContact]


def test_export_person_matching_two_contacts_is_not_guessed() -> None:
    cs = [contact("x", ANN), contact("y", Record(email2="ann@example.org"))]
    plan = plan_export(snap([person(1, ANN)], cs))
    (action,) = plan.actions
    assert isinstance(action, NeedsDecision) and set(action.candidates) == {"x", "y"}


def test_export_contact_matching_two_persons_is_not_guessed() -> None:
    twin = ANN.replace({"first_name": "Annie"})
    plan = plan_export(snap([person(1, ANN), person(2, twin)], [contact("x", ANN)]))
    assert [type(a) for a in plan.actions] == [NeedsDecision, NeedsDecision]
    assert plan.changes() == 0


def test_export_contact_with_foreign_customer_id_is_never_matched() -> None:
    plan = plan_export(snap([person(1, ANN)], [contact("x", ANN, cid="999")]))
    assert [type(a) for a in plan.actions] == [CreateContact]


def test_export_ignores_fields_the_folder_cannot_hold() -> None:
    links = {1: LinkRow(1, "a", "c1", "v1")}
    p = person(1, ANN.replace({"anniversary": None, "other_phone": "555"}), "v2")
    plan = plan_export(
        snap([p], [contact("a", ANN, cid="1")], links, unsupported=frozenset({"other_phone"}))
    )
    assert [type(a) for a in plan.actions] == [Refresh]


def test_export_unreadable_linked_contact_is_skipped_with_its_error() -> None:
    links = {1: LinkRow(1, "a", "c1", "v1")}
    problem = ReadProblem("a", FormatError("bad card", source="a.vcf", line=3))
    plan = plan_export(
        snap(
            [person(1, ANN, "v2")],
            [contact("a", ANN, "c2")],
            links,
            read_contacts=[],
            problems=(problem,),
        )
    )
    (action,) = plan.actions
    assert isinstance(action, Skip) and "a.vcf, line 3" in action.reason


def test_import_creates_persons_for_new_contacts() -> None:
    plan = plan_import(snap([], [contact("x", ANN), contact("y", BOB)]))
    assert [a.contact.item_id for a in plan.actions if isinstance(a, CreatePerson)] == ["x", "y"]
    # The name a report or a dry run shows is the contact's display name.
    assert [a["name"] for a in plan.to_dict()["actions"]] == [ANN.display_name, BOB.display_name]
    assert ANN.display_name and ANN.display_name != BOB.display_name


def test_import_updates_linked_person_and_keeps_unsupported_fields() -> None:
    links = {1: LinkRow(1, "a", "c1", "v1")}
    p = person(1, ANN.replace({"other_phone": "555 1234"}))
    c = contact("a", ANN.replace({"job_title": "CTO"}), "c2", cid="1")
    plan = plan_import(snap([p], [c], links, unsupported=frozenset({"other_phone"})))
    (action,) = plan.actions
    assert isinstance(action, UpdatePerson)
    assert action.changes == (("job_title", "", "CTO"),)
    assert action.record.other_phone == "555 1234"


def test_import_customer_id_naming_no_person_needs_decision() -> None:
    plan = plan_import(
        snap([person(1, ANN)], [contact("x", BOB, cid="77"), contact("y", BOB, cid="abc")])
    )
    reasons = [a.reason for a in plan.actions if isinstance(a, NeedsDecision)]
    assert reasons == ["its Customer ID 77 names no Person", "its Customer ID abc names no Person"]


def test_import_copied_contact_of_linked_person_needs_decision() -> None:
    links = {1: LinkRow(1, "a", "c1", "v1")}
    cs = [contact("a", ANN, cid="1"), contact("b", ANN, cid="1")]
    plan = plan_import(snap([person(1, ANN)], cs, links, read_contacts=[cs[1]]))
    (action,) = plan.actions
    assert isinstance(action, NeedsDecision) and action.item_id == "b"


def test_import_links_by_customer_id_then_matches_then_creates() -> None:
    persons = [person(1, ANN), person(2, BOB)]
    cs = [
        contact("x", ANN, cid="1"),
        contact("y", Record(first_name="Bob", last_name="Ray", mobile_phone="2125550100")),
        contact("z", Record(first_name="Cy")),
    ]
    plan = plan_import(snap(persons, cs))
    kinds = {
        a.contact.item_id: (a.kind, getattr(a, "link", ""))
        for a in plan.actions
        if hasattr(a, "contact")
    }
    assert kinds == {
        "x": ("link", "Customer ID"),
        "y": ("link", "name and phone"),
        "z": ("create-person", ""),
    }


def test_import_person_matched_by_two_contacts_is_not_guessed() -> None:
    plan = plan_import(snap([person(1, ANN)], [contact("x", ANN), contact("y", ANN)]))
    assert [type(a) for a in plan.actions] == [NeedsDecision, NeedsDecision]


def test_import_linked_person_deleted_is_kept() -> None:
    # No standing decision (issue 12): the contact stays, the link becomes a tombstone.
    links = {5: LinkRow(5, "a", "c1", "v1")}
    plan = plan_import(snap([], [contact("a", ANN, "c2", cid="5")], links))
    (action,) = plan.actions
    assert isinstance(action, KeepDeleted) and action.side == "person"
    assert action.item_version == "c2" and "was deleted in the CRM" in action.reason


def test_import_recovers_person_created_by_interrupted_run() -> None:
    # The crashed run created Person 3 from contact x but never linked it.
    persons = [person(3, ANN)]
    plan = plan_import(snap(persons, [contact("x", ANN)], recovered={"x": 3}))
    (action,) = plan.actions
    assert isinstance(action, Link) and action.person_id == 3 and action.link == "recovered"


def test_plan_to_dict_lists_changes_old_to_new() -> None:
    links = {1: LinkRow(1, "a", "c1", "v1")}
    plan = plan_export(
        snap(
            [person(1, ANN.replace({"company": "Beta"}), "v2")], [contact("a", ANN, cid="1")], links
        )
    )
    data = plan.to_dict()
    assert data["actions"][0]["changes"] == {"company": ["Acme", "Beta"]}
    assert data["counts"]["update-contact"] == 1


class _CountedProblems(tuple[ReadProblem, ...]):
    """The problems, counting how often the planner walks them."""

    walks = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        type(self).walks += 1
        return super().__iter__()


def test_many_unreadable_items_are_planned_with_one_pass_over_the_problems() -> None:
    # 2,000 unreadable contacts: a pass over every problem per item is quadratic (72 s for
    # 64,000 of them); each skip must still name its own item's error.
    n = 2000
    listed = [contact(f"i{k:05}", ANN, "c1") for k in range(n)]
    problems = _CountedProblems(
        ReadProblem(c.item_id, FormatError(f"bad card {k}", source="f.vcf", line=k + 1))
        for k, c in enumerate(listed)
    )
    _CountedProblems.walks = 0
    plan = plan_import(snap([], listed, read_contacts=[], problems=problems))
    skips = [a for a in plan.actions if isinstance(a, Skip)]
    assert len(skips) == n and _CountedProblems.walks <= 1
    assert skips[1234].item_id == "i01234" and "bad card 1234" in skips[1234].reason
    links = {k: LinkRow(k, c.item_id, "c0", "v1") for k, c in enumerate(listed, 1)}
    people = [person(k, ANN, "v2") for k in links]
    _CountedProblems.walks = 0
    plan = plan_export(snap(people, listed, links, read_contacts=[], problems=problems))
    assert len(plan.of("skip")) == n and _CountedProblems.walks <= 1


def test_sync_names_a_new_contact_it_could_not_read_and_what_a_read_one_left_out() -> None:
    # An import names an unreadable card; a two-way sync dropped it without a word, so the user
    # never learnt why that contact got no Person.
    problem = ReadProblem("bad", FormatError("bad card", source="bad.vcf", line=7))
    odd = Contact(BOB, item_id="odd", version="c1", unmapped=("X-ODD:kept in the card",))
    plan = plan_sync(
        snap([person(1, ANN)], [contact("bad", ANN), odd], read_contacts=[odd], problems=(problem,))
    )
    (skip,) = plan.of("skip")
    assert isinstance(skip, Skip) and skip.item_id == "bad" and "bad.vcf, line 7" in skip.reason
    assert [w for w in plan.warnings if "X-ODD" in w] == [
        f"{BOB.display_name} (odd): X-ODD:kept in the card"
    ]
