"""The executor's deletes and view membership: tagged and deleted contacts, deleted Persons,
contacts named once. Plain, like the executor: the planner decided each case.

Every write is journaled before it is made, with what undo needs to take it back:
- a tag is a contact update (the whole contact before it), so undo restores the contact;
- a deleted contact is journaled whole (record, Customer ID, version, why): undo re-creates
  it, with the same Customer ID, and its link as the run's `keep` would have left it;
- a deleted Person goes in one transaction with its journal entry (*done* at once: Persons and
  journal share the database) and the end of its link, so neither exists without the other;
  undo puts the Person back with the same id, and its link as a tombstone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from personsync.errors import ConflictError, StoreError
from personsync.stores.base import ItemRef
from personsync.sync.apply import ContactWrite, Executor, Outcome, chunks, contact_before
from personsync.sync.journal import Entry
from personsync.sync.links import Links
from personsync.sync.plan import (
    DeleteContact,
    DeletePerson,
    NotCreated,
    TagContact,
    without_tag,
)
from personsync.sync.snapshot import TAGGED
from personsync.sync.values import record_to_dict


class Deletes:
    def __init__(self, executor: Executor) -> None:
        self.ex = executor

    def _named(self, a: TagContact | DeleteContact | DeletePerson | NotCreated) -> str:
        return f"{a.name or a.item_id}: {a.reason}"

    def tag(self, actions: Sequence[TagContact]) -> None:
        """Tag the contacts (a journaled update); the link goes dormant (`TAGGED`) in the same
        transaction as the write's outcome. A contact tagged already (by a run killed before
        it recorded the link) only has its link marked."""
        ex = self.ex
        work = [
            (
                a.old,
                a.new,
                ContactWrite(
                    a.person_id,
                    TAGGED,
                    a.baseline,
                    mirror=False,
                    counts=("tag-contact",),
                    name=a.name,
                    item_id=a.item_id,
                    note=self._named(a),
                ),
            )
            for a in actions
            if a.new.record != a.old.record
        ]
        ex.update_contacts(work)
        marked = [a for a in actions if a.new.record == a.old.record]
        if marked:
            with ex.engine.begin() as conn:
                Links.set_versions(
                    conn, ex.folder, [(a.person_id, a.old.version, TAGGED) for a in marked]
                )
                # Journaled as this run's tag (the contact without it before), so that `undo`
                # takes off a tag that a killed run wrote but could not record.
                ex.journal.done(
                    conn,
                    (
                        Entry(
                            "contact",
                            "update",
                            a.item_id,
                            a.person_id,
                            contact_before(without_tag(a.old)),
                        )
                        for a in marked
                    ),
                    ({"item_id": a.item_id, "version": a.old.version} for a in marked),
                )
            for a in marked:
                ex.report.warnings.append(self._named(a))
                ex.report.count("tag-contact")

    def delete_contacts(self, actions: Sequence[DeleteContact]) -> None:
        """Delete contacts whose Person was removed: journaled whole first, then deleted (only
        if unchanged since read), then the links end with the journal's outcomes."""
        ex = self.ex
        ex.writes.drain()  # the folder quiet: no write of this run's is still being made
        for part in chunks(actions, ex.chunk):
            seqs = ex.journal.intents(
                Entry(
                    "contact",
                    "delete",
                    a.item_id,
                    a.person_id,
                    contact_before(a.contact, a.why),
                )
                for a in part
            )
            ex.checkpoint()
            outcomes: list[Outcome] = []
            gone: list[str] = []
            for a, seq in zip(part, seqs, strict=True):
                try:
                    ex.store.delete(ItemRef(a.contact.item_id, a.contact.version))
                except ConflictError as exc:
                    # Changed since it was read: read again and planned anew in this run
                    # (`sync.replan`), like a refused update; not an error.
                    outcomes.append((seq, "stale", None, str(exc)))
                    ex.stale[a.person_id] = a.item_id
                    continue
                except StoreError as exc:
                    outcomes.append((seq, "failed", None, str(exc)))
                    ex.error(a.name, str(exc), a.item_id, a.person_id)
                    continue
                outcomes.append((seq, "done", {"deleted": a.item_id}, None))
                gone.append(a.item_id)
                ex.report.warnings.append(self._named(a))
                ex.report.count("delete-contact")
            ex.checkpoint()
            with ex.engine.begin() as conn:
                Links.forget(conn, ex.folder, gone)
                ex.journal.settle(conn, outcomes)
            ex.checkpoint()
            ex.advance(len(part))

    def delete_persons(self, actions: Sequence[DeletePerson]) -> None:
        """Delete Persons whose contact was deleted in the folder (`propagate`), each only if
        unchanged since read: the Persons, their journal entries (done, with the whole Person)
        and the end of their links in one transaction."""
        ex = self.ex
        for part in chunks(actions, ex.chunk):
            by_id = {a.person_id: a for a in part}
            with ex.engine.begin() as conn:
                gone = ex.db.delete_unchanged(
                    [(a.person_id, a.person_version) for a in part], conn=conn
                )
                ex.journal.done(
                    conn,
                    (
                        Entry(
                            "person",
                            "delete",
                            by_id[p.id].item_id,
                            p.id,
                            _person_before(p),
                        )
                        for p in gone
                    ),
                    ({"deleted": p.id} for p in gone),
                )
                Links.forget(conn, ex.folder, [by_id[p.id].item_id for p in gone])
                ex.checkpoint()  # a kill here rolls the whole chunk back
            deleted = {p.id for p in gone}
            for a in part:
                if a.person_id in deleted:
                    ex.report.warnings.append(self._named(a))
                    ex.report.count("delete-person")
                else:
                    ex.error(
                        a.name,
                        f"Person {a.person_id} changed (or went) since it was read: not deleted; "
                        "the next run decides again",
                        a.item_id,
                        a.person_id,
                    )
            ex.checkpoint()
            ex.advance(len(part))

    def note(self, actions: Sequence[NotCreated]) -> None:
        """New contacts that make no Person (the CRM alone creates): named in this report and
        remembered (journal state `noted`), so later runs do not name them again."""
        if not actions:
            return
        self.ex.journal.noted(
            [
                Entry("contact", "not-created", a.item_id, None, {"version": a.item_version})
                for a in actions
            ]
        )
        for a in actions:
            self.ex.report.warnings.append(self._named(a))
            self.ex.report.count("not-created")


def _person_before(person: Any) -> dict[str, Any]:
    return {
        "record": record_to_dict(person.record),
        "version": person.version,
        "contact_manager_id": person.contact_manager_id,
    }
