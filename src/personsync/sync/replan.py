"""Pairs that changed during the run: read again and planned anew, in the same run.

A write made with the version the snapshot read (CardDAV `If-Match`, Graph's changeKey, a
Person's version) is refused when that side changed since: someone edited the contact or the
Person between the listing and the write. Failing the run for it, or writing anyway, are both
wrong: the first leaves the pair for the next run, the second overwrites the new edit. The
executor collects such pairs (`Executor.stale`); here they are read again, both sides, and
given to the same pure planner, as a snapshot of just these pairs, so that the three-way merge
sees the new edit like any other. The small plan is applied by the same executor, journaled as
usual. At most `MAX_ROUNDS` rounds: a card edited again and again is left to the next run,
named as skipped.

What the small snapshot cannot settle is left to the next run, named: a pair that would now be
a create (a contact matched by its fields no longer matches) needs the whole folder to rule out
another match.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from personsync.model import Contact
from personsync.stores.base import ContactStore, ReadProblem
from personsync.sync import planner
from personsync.sync.apply import Executor
from personsync.sync.links import Links
from personsync.sync.merge import Choices
from personsync.sync.plan import CreateContact, CreatePerson, Plan
from personsync.sync.snapshot import FolderSnapshot, PersonsSnapshot, Snapshot

if TYPE_CHECKING:
    from personsync.sync.persons_side import PersonsSide

MAX_ROUNDS = 3


def stale_snapshot(
    db: PersonsSide,
    store: ContactStore,
    stale: Mapping[int, str],
    view: str,
    direction: str = "export",
) -> Snapshot:
    """Both sides of these pairs (Person id → contact id), read now, with their links. A
    linked Person no longer in the view (deleted, or left it: a refused delete or tag of its
    contact) is named removed, as the run's own snapshot names it."""
    link_table = Links(db.engine, store.url)
    links = {pid: row for pid, row in link_table.load().items() if pid in stale}
    items = {i for i in stale.values() if i} | {row.item_id for row in links.values()}
    contacts: dict[str, Contact] = {}
    problems: list[ReadProblem] = []
    for got in store.get_many(sorted(items)):
        if isinstance(got, ReadProblem):
            problems.append(got)
        else:
            contacts[got.item_id] = got
    # A contact not found is gone: it is not in the listing (a deletion, as in any run).
    listing = {i: c.version for i, c in contacts.items()} | {p.item_id: "" for p in problems}
    persons = db.get_many(sorted(stale), times=False)
    removed: dict[int, str] = {}
    if direction in ("export", "sync"):
        members = db.versions(view or None)
        removed = {
            pid: "left the view" if pid in persons else "deleted"
            for pid in stale
            if pid in links and pid not in members
        }
        persons = {pid: p for pid, p in persons.items() if pid in members}
    versions = {pid: p.version for pid, p in persons.items()}
    unsupported = store.capabilities.unsupported_fields
    return Snapshot(
        FolderSnapshot(store.url, listing, contacts, problems, unsupported),
        PersonsSnapshot(versions, persons, len(persons), view),
        links,
        {},
        link_table.baselines(pid for pid in stale if pid in links),
        removed,
    )


def small_plan(
    snap: Snapshot, direction: str, choices: Choices, pairs: Mapping[int, str]
) -> tuple[Plan, set[int]]:
    """The plan of these pairs alone, and the Persons of the pairs left to the next run: those
    the planner would now pair with no contact, or whose contact with no Person (a create)."""
    made = planner.plan(snap, direction, choices)
    orphans = {a.contact.item_id for a in made.actions if isinstance(a, CreatePerson)}
    left = {a.person_id for a in made.actions if isinstance(a, CreateContact)}
    left |= {pid for pid, item_id in pairs.items() if item_id in orphans}
    kept = tuple(a for a in made.only(pairs).actions if getattr(a, "person_id", 0) not in left)
    return replace(made, actions=kept, unchanged=0, warnings=()), left


def replan_stale(
    db: PersonsSide,
    store: ContactStore,
    executor: Executor,
    direction: str,
    choices: Choices,
    view: str,
) -> None:
    """Plan and apply anew the pairs whose writes the executor found stale, until none is left
    or `MAX_ROUNDS` rounds passed; the report says how many were planned again."""
    report = executor.report
    replanned: set[int] = set()
    executor.advance = lambda n: None  # the progress counted these pairs already
    for _ in range(MAX_ROUNDS):
        if not executor.stale:
            break
        pairs, executor.stale = executor.stale, {}
        replanned |= set(pairs)
        snap = stale_snapshot(db, store, pairs, view, direction)
        plan, left = small_plan(snap, direction, choices, pairs)
        # What the first plan said of these pairs is superseded by what this one says.
        report.conflicts[:] = [c for c in report.conflicts if c.get("person_id") not in pairs]
        report.skipped[:] = [s for s in report.skipped if s.get("person_id") not in pairs]
        for pid in left:
            _left(executor, snap, pid, pairs[pid], "changed during the run and no longer pairs")
        executor.apply(plan)
    for pid, item_id in executor.stale.items():
        _left(executor, None, pid, item_id, f"changed {MAX_ROUNDS} times during the run")
    executor.stale = {}
    if replanned:
        report.count("replanned", len(replanned))
        n = len(replanned)
        report.warnings.append(f"re-planned {n} contact{'s' * (n != 1)} changed during the run")


def _left(executor: Executor, snap: Snapshot | None, pid: int, item_id: str, why: str) -> None:
    person = snap.persons.persons.get(pid) if snap is not None else None
    executor.report.skipped.append(
        {
            "kind": "skip",
            "name": person.display_name if person is not None else "",
            "email": "",
            "item_id": item_id,
            "person_id": pid,
            "folder": executor.folder,
            "reason": f"{why}; the next run reads it again",
            "candidates": [],
        }
    )
