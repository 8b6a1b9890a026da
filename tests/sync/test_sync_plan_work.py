"""How much work the planner does for pairs that did not change: none per pair.

A 1 % sync of 100,000 plans 2,000 pairs; the other 98,000 are in step (both versions as their
link recorded them). The planner answers those from the versions alone, in one pass that calls
nothing per pair (`snapshot.persons_out_of_step`): asked one by one (`in_step` per Person) they
were a third of the plan's time."""

from __future__ import annotations

import pytest

from personsync.model import Contact, Person, Record
from personsync.sync import planner, snapshot
from personsync.sync.links import LinkRow
from personsync.sync.plan import UpdateContact, UpdatePerson
from personsync.sync.snapshot import FolderSnapshot, PersonsSnapshot, Snapshot

N = 1000


def _state(changed_person: int, changed_item: int) -> Snapshot:
    """N linked pairs in step, but Person `changed_person` and contact `changed_item`."""
    records = {
        pid: Record(first_name=f"P{pid}", last_name="Lee", company="Acme")
        for pid in range(1, N + 1)
    }
    links = {pid: LinkRow(pid, f"item{pid}", "c1", "v1") for pid in records}
    versions = {pid: "v1" for pid in records}
    listing = {f"item{pid}": "c1" for pid in records}
    versions[changed_person] = "v2"
    listing[f"item{changed_item}"] = "c2"
    person = Person(changed_person, records[changed_person].replace({"company": "Umbrella"}), "v2")
    linked = Contact(records[changed_person], item_id=f"item{changed_person}", version="c1")
    edited = Contact(
        records[changed_item].replace({"job_title": "Chief"}),
        item_id=f"item{changed_item}",
        version="c2",
    )
    other = Person(changed_item, records[changed_item], "v1")
    folder = FolderSnapshot("memory:t", listing, {c.item_id: c for c in (linked, edited)})
    persons = PersonsSnapshot(versions, {p.id: p for p in (person, other)}, N)
    baselines = {changed_person: records[changed_person], changed_item: records[changed_item]}
    return Snapshot(folder, persons, links, baselines=baselines)


@pytest.mark.parametrize("direction", ["export", "sync"])
def test_pairs_in_step_are_planned_without_a_call_each(
    direction: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []

    def counted(link: LinkRow | None, *args: object, **kw: object) -> bool:
        asked.append(0 if link is None else link.person_id)
        return in_step(link, *args, **kw)  # type: ignore[arg-type]

    in_step = snapshot.in_step
    monkeypatch.setattr(snapshot, "in_step", counted)
    monkeypatch.setattr(planner, "in_step", counted)
    plan = planner.plan(_state(7, 500), direction)
    assert plan.unchanged == N - 2
    kinds = {(type(a), getattr(a, "person_id", None)) for a in plan.actions}
    assert (UpdateContact, 7) in kinds
    if direction == "sync":
        assert (UpdatePerson, 500) in kinds
    # Only the two pairs that changed are asked about (their versions differ from the link's).
    assert sorted(asked) == [7, 500]
