"""`personsync link` and `unlink`: a person decides what the engine would not guess.

Both are journaled runs, so `personsync undo RUN` takes a decision back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import select

from personsync.errors import ChangeNotConfirmed, ItemNotFound, PersonsyncError, UsageError
from personsync.model import Contact
from personsync.stores import open_folder
from personsync.stores.base import ContactStore, get_one
from personsync.sync.apply import Executor, contact_before, link_row
from personsync.sync.crash import Checkpoints
from personsync.sync.engine import ensure_tables
from personsync.sync.events import OnEvent, folder_waits
from personsync.sync.journal import Entry, Journal, new_run_id, unsettled_creates
from personsync.sync.lease import held
from personsync.sync.link_move import Move, carrier, link_of
from personsync.sync.links import Links, normalise_folder
from personsync.sync.plan import Action, CreateContact, CreatePerson, Direction, Plan
from personsync.sync.report import RunReport
from personsync.sync.tables import sync_links

if TYPE_CHECKING:
    from personsync.sync.persons_side import PersonsSide


@contextmanager
def _leased(
    db: PersonsSide, folder: str, on_event: OnEvent | None = None
) -> Iterator[tuple[ContactStore, str]]:
    """The folder, opened and held under its lease (sync/lease.py) for a run of this id;
    `on_event` hears the folder's waits."""
    store = open_folder(folder, create=False, on_wait=folder_waits(on_event))
    try:
        run = new_run_id()
        with held(db.engine, store.url, run):
            yield store, run
    finally:
        store.close()


def link(
    db: PersonsSide,
    person_id: int,
    folder: str,
    item_id: str,
    *,
    yes: bool = False,
    crash_after: int = 0,
    on_event: OnEvent | None = None,
) -> RunReport:
    """Link Person `person_id` to contact `item_id`: Customer ID, link row, contact_manager_id.
    The link is left stale so the next export or import brings the two in step. `on_event`
    hears the folder's waits (`Waiting`); `crash_after`: the crash tests' kill point (after
    the intents, the old contact's write, the move's record, this contact's write).

    A Person linked to another contact of the folder has its link MOVED (only with `yes`,
    else UsageError and nothing is written): that contact's Customer ID is cleared (if it
    still carries the Person's id; another value is left and named) and its link row dropped,
    in the same run, so the Person has one contact and `undo` gives the old link back. Left
    carrying the id, unlinked, it was a second contact of the Person (issue #12)."""
    ensure_tables(db.engine)
    person = db.get(person_id)
    with _leased(db, folder, on_event) as (store, run):
        contact = get_one(store, item_id)
        if contact is None:
            raise ItemNotFound(
                f"no contact {item_id!r} in {folder}",
                hint="`personsync export --dry-run` names the items that need a decision",
            )
        # Read under the lease: no run of the folder moves the link in between.
        old = link_of(db.engine, store.url, person.id)
        if old is not None and old["item_id"] == item_id:
            old = None  # linked to this contact already: nothing moves
        elif old is None:
            # Unlinked, but another contact carries its id: the Person's by Customer ID, moved
            # as a linked one is (left carrying it, the Person had two contacts).
            old = carrier(store, Links(db.engine, store.url), person.id, item_id)
        if old is not None and not yes:
            raise ChangeNotConfirmed(
                moving(person.id, person.display_name, old["item_id"], item_id, "unlinked" in old),
                hint="say yes (--yes) to do it; nothing was changed",
            )
        journal = Journal(db.engine, "link", store.url, run_id=run)
        report = RunReport(journal.run_id, "link", journal.folder)
        moved = None if old is None else Move(db, store, journal, person, old, item_id)
        linked = Links(db.engine, store.url).owner(item_id) == person.id
        # Not linked before: the run makes the link, and its undo ends it (whatever the
        # Customer ID: a copy carried the Person's id before and keeps it).
        # The contacts that carry its Customer ID too, when it is another Person's (copies):
        # its undo gives the id back beside them, and only refuses beside a new one.
        cid = contact.customer_id
        carriers = (
            [c.item_id for c in store.find_by_customer_id(cid) if c.item_id != item_id]
            if cid and cid != str(person.id)
            else []
        )
        before = contact_before(contact, links=not linked, carriers=carriers)
        # Every intent (the move's and this contact's) is committed before the first write.
        seqs = journal.intents(
            [
                *([moved.entry()] if moved is not None else []),
                Entry("contact", "update", item_id, person_id, before),
            ]
        )
        checkpoint = Checkpoints(crash_after)
        checkpoint()
        if moved is not None:
            moved.apply(seqs[0], report, checkpoint)
        try:
            ref = store.update(contact, replace(contact, customer_id=str(person.id)))
        except PersonsyncError as exc:
            # Said as a failed run, not left "running": its undo gives a moved link back.
            with db.engine.begin() as conn:
                journal.settle(conn, [(seqs[-1], "failed", None, str(exc))])
            report.errors.append({"name": "", "item_id": item_id, "error": str(exc)})
            journal.finish(report.status, report.counts, report.problems(), whole=False)
            raise
        checkpoint()
        row = link_row(person.id, item_id, "", "", contact.record)
        with db.engine.begin() as conn:
            Links.save(conn, journal.folder, [row])
            journal.settle(
                conn, [(seqs[-1], "done", {"item_id": ref.item_id, "version": ref.version}, None)]
            )
            db.set_contact_manager_ids([(person.id, item_id)], conn=conn)
        report.count("link")
        journal.finish(report.status, report.counts, report.problems(), whole=False)
        return report


def moving(person_id: int, name: str, old: str, item_id: str, unlinked: bool = False) -> str:
    """What `link` of a Person linked to contact `old` (`unlinked`: whose Customer ID `old`
    carries, with no link) does to it, for the question asked."""
    how = "has contact {} by its Customer ID" if unlinked else "is linked to contact {}"
    return (
        f"Person {person_id} ({name}) {how.format(old)}: linking it to contact "
        f"{item_id} moves the link and clears contact {old}'s Customer ID"
    )


def linked_item(db: PersonsSide, folder: str, person_id: int) -> str | None:
    """The contact Person `person_id` is linked to in `folder`, if any."""
    row = link_of(db.engine, folder, person_id)
    return None if row is None else str(row["item_id"])


def create_new(
    db: PersonsSide,
    folder: str,
    *,
    item_id: str | None = None,
    person_id: int | None = None,
    crash_after: int = 0,
    on_event: OnEvent | None = None,
) -> RunReport:
    """A decision's "create new": a new Person made from contact `item_id` (a copied contact, or
    one that matched several Persons), or else a new contact made from Person `person_id` (one
    that matched several contacts); either way linked to its origin. One journaled run, so
    `undo` deletes what it made.

    The writes are a one-action plan applied by the engine's executor (`sync/apply.py`), as any
    run's: a new Person, its journal entry, its link and the intent of the contact's new
    Customer ID in one transaction, then the Customer ID; or the contact's intent, the contact,
    then its link. Whether the decision is still open is checked under the folder's lease, so
    a decision sent twice (a double click, two consoles, a retry after a kill -9) makes one
    Person or contact, never two. `crash_after`: the executor's kill point (tests only);
    `on_event` hears the folder's waits."""
    if item_id is None and person_id is None:
        raise UsageError("give the contact (to make a Person of) or the Person (to make a contact)")
    ensure_tables(db.engine)
    with _leased(db, folder, on_event) as (store, run):
        links = Links(db.engine, store.url)
        if item_id is not None:
            owner = links.owner(item_id)
            if owner is not None:
                raise UsageError(
                    f"contact {item_id} is linked to Person {owner} already",
                    hint="nothing was made; link it to another Person instead, or ignore it",
                )
            contact = get_one(store, item_id)
            if contact is None:
                raise ItemNotFound(f"no contact {item_id!r} in {folder}")
            # The executor writes the new Person's id into the contact as its Customer ID
            # (a copy carried another Person's).
            action: Action = CreatePerson(contact, contact.record)
            direction: Direction = "import"
        else:
            assert person_id is not None
            person = db.get(person_id)
            if person.id in links.load():
                raise UsageError(
                    f"Person {person.id} has a contact in {folder} already",
                    hint="nothing was made; unlink it first to make another",
                )
            if unsettled_creates(db.engine, store.url, person.id):
                raise UsageError(
                    f"an earlier run was making a contact for Person {person.id} in {folder} "
                    "when it stopped",
                    hint="run a sync or an export of the folder: it finds that contact by its "
                    "Customer ID; then decide again if it is still needed",
                )
            contact = Contact(person.record, customer_id=str(person.id))
            action = CreateContact(person.id, person.version, contact, person.display_name)
            direction = "export"
        plan = Plan(direction, store.url, "", (action,))
        journal = Journal(db.engine, "link", store.url, run_id=run, planned=plan.counts())
        report = RunReport(journal.run_id, "link", journal.folder)
        try:
            Executor(db, store, journal, report, crash_after=crash_after).apply(plan)
        except Exception as exc:  # as engine.run: the journal says the run failed, then re-raise
            report.errors.append({"name": "", "error": f"the run stopped: {exc}"})
            journal.finish("failed", report.counts, report.problems(), whole=False)
            raise
        if not report.errors:
            report.count("link")
        journal.finish(report.status, report.counts, report.problems(), whole=False)
        return report


def unlink(
    db: PersonsSide,
    folder: str,
    *,
    person_id: int | None = None,
    item_id: str | None = None,
    on_event: OnEvent | None = None,
) -> RunReport:
    """Undo a link: clear the contact's Customer ID, drop the link row and contact_manager_id.
    `on_event` hears the folder's waits (`Waiting`)."""
    ensure_tables(db.engine)
    key = normalise_folder(folder)
    t = sync_links
    with db.engine.connect() as conn:
        query = select(t.c.person_id, t.c.item_id).where(t.c.folder == key)
        if person_id is not None:
            query = query.where(t.c.person_id == person_id)
        if item_id is not None:
            query = query.where(t.c.item_id == item_id)
        row = conn.execute(query).first()
    if row is None and (person_id is None or item_id is None):
        what = f"Person {person_id}" if person_id is not None else f"contact {item_id}"
        raise UsageError(
            f"no link of {what} in {folder}",
            hint="give both PERSON and ITEM to clear a Customer ID that has no link row",
        )
    pid, iid = (row[0], row[1]) if row is not None else (person_id, item_id)
    assert pid is not None and iid is not None
    with _leased(db, folder, on_event) as (store, run):
        journal = Journal(db.engine, "unlink", store.url, run_id=run)
        report = RunReport(journal.run_id, "unlink", journal.folder)
        contact = get_one(store, iid)
        if contact is not None and contact.customer_id:
            (seq,) = journal.intents(
                [Entry("contact", "update", iid, pid, contact_before(contact))]
            )
            try:
                ref = store.update(contact, replace(contact, customer_id=""))
            except PersonsyncError as exc:
                with db.engine.begin() as conn:
                    journal.settle(conn, [(seq, "failed", None, str(exc))])
                raise
            with db.engine.begin() as conn:
                journal.settle(
                    conn, [(seq, "done", {"item_id": iid, "version": ref.version}, None)]
                )
        with db.engine.begin() as conn:
            Links.forget(conn, journal.folder, [iid])
        try:
            if db.get(pid).contact_manager_id == iid:
                db.set_contact_manager_id(pid, None)
        except PersonsyncError:
            pass
        report.count("unlink")
        journal.finish(report.status, report.counts, report.problems(), whole=False)
        return report
