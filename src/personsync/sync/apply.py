"""The executor: applies a plan, journaling each chunk of writes before making it.

Plain on purpose: every decision was made by the planner. Writes go in chunks (`create_many` /
`update_many`: Graph batches them, single-file stores rewrite once per chunk). Per chunk of
contact writes:
1. journal the intents, committed;
2. begin the chunk's write (`pipeline`): a `vcf:` folder's helper process writes it while this
   process goes on with the next chunk's intents and the last chunk's outcomes;
3. once the write returned: the links, the journal outcomes and the Persons'
   `contact_manager_id`, in one transaction.
New Persons (import) are simpler, as they live in the journal's database: the Persons, their
journal entries, their link rows and the intents of their Customer IDs go in one transaction,
after which the Customer IDs are written as in 2 and 3.
A record whose write fails is reported; the others proceed. A crash anywhere leaves intents
without outcomes for at most two chunks of contact writes; the next run relinks their contacts
by Customer ID (export) or writes their Customer IDs again (import).

A write refused because its side changed since the snapshot (`ConflictError`: a CardDAV 412, a
Graph changeKey, a Person edited meanwhile) is no error: its journal entry is marked `stale`
and the pair is collected in `stale`, for the engine to read again and plan anew in the same
run (`sync.replan`). In a two-way pair whose Person write was refused, the contact's write is
held back too, so that the pair is planned again whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine

from personsync.errors import ConflictError, PersonsyncError, StoreError, ValueRefused, ViewError
from personsync.model import Contact, Record
from personsync.persons import ALL_PERSONS
from personsync.stores.base import (
    ContactStore,
    Finish,
    ItemRef,
    begin_create_many,
    begin_update_many,
)
from personsync.sync.crash import Checkpoints
from personsync.sync.journal import Entry, Journal
from personsync.sync.links import Links, now
from personsync.sync.merge import Conflict
from personsync.sync.options import DEFAULT_CHUNK
from personsync.sync.pipeline import WriteQueue
from personsync.sync.plan import (
    Changes,
    CreateContact,
    CreatePerson,
    DeleteContact,
    DeletePerson,
    KeepDeleted,
    LeftView,
    Link,
    Moved,
    NeedsDecision,
    NotCreated,
    Plan,
    Refresh,
    Skip,
    TagContact,
    UpdateContact,
    UpdatePerson,
    item_of,
)
from personsync.sync.report import RunReport
from personsync.sync.snapshot import GONE, LEFT, MOVED
from personsync.sync.values import (
    RawJson,
    dumps,
    record_json,
    text,
    value_to_json,
    written_json,
)

if TYPE_CHECKING:
    from personsync.sync.persons_side import PersonsSide

T = TypeVar("T")
Outcome = tuple[int, str, Any, str | None]  # journal seq, state, after, error
Results = list[ItemRef | StoreError]
Mirror = Sequence[tuple[int, str | None]]  # (Person, item id) for contact_manager_id
CustomerIds = list[tuple[Contact, int]]  # contacts whose Customer ID is to be their Person's id
Journaled = list[tuple[CustomerIds, list[int]]]  # chunks of them with their journal seqs


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def conflict_entries(plan: Plan, folder: str) -> list[dict[str, Any]]:
    """The report's entry of every field the plan names, with its pair."""
    return [
        {
            "name": getattr(a, "name", ""),
            "person_id": getattr(a, "person_id", None),
            "item_id": item_of(a),
            "folder": folder,
            **conflict.to_dict(),
        }
        for a, conflict in plan.conflicts()
    ]


def contact_before(
    contact: Contact,
    why: str | None = None,
    agreed: Mapping[str, Any] | None = None,
    *,
    links: bool = False,
    carriers: Iterable[str] = (),
) -> RawJson:
    """The journal's "before" of a contact update: {record, version, customer_id}; of a
    delete, with why; with `agreed` (see there) when the write settles a conflict; `links`
    when the write makes the contact's link (`link`): its undo ends the link even if the
    Customer ID was the Person's already; `carriers`: the other contacts that carried the
    same Customer ID then (copies: its undo gives it back beside them)."""
    record = record_json(contact.record)
    version, customer_id = text(contact.version), text(contact.customer_id)
    more = "" if why is None else f',"why":{text(why)}'
    if agreed:
        more += f',"agreed":{dumps(agreed)}'
    if links:
        more += ',"links":true'
    if carriers:
        more += f',"carriers":{dumps(sorted(carriers))}'
    return RawJson(f'{{"record":{record},"version":{version},"customer_id":{customer_id}{more}}}')


def agreed(conflicts: Iterable[Conflict], changes: Changes) -> dict[str, Any] | None:
    """The link's baseline before the run, of the fields this write settles a conflict in
    (field → value): kept in the journal so that `undo` gives the link its old baseline with
    the old value. Without it, the undone pair kept the baseline the run agreed on, and the next
    sync took the restored value for a new edit and wrote it over the other side, instead of
    naming the conflict again. None when the write settles none (the usual case)."""
    written = {f for f, _, _ in changes}
    out = {
        c.field: value_to_json(c.baseline)
        for c in conflicts
        if c.settled and c.baseline is not None and c.field in written
    }
    return out or None


def customer_id_before(contact: Contact) -> RawJson:
    """The journal's "before" of a write that changes only the Customer ID: {version,
    customer_id}."""
    version, customer_id = text(contact.version), text(contact.customer_id)
    return RawJson(f'{{"version":{version},"customer_id":{customer_id}}}')


def with_customer_id(c: Contact, person_id: int) -> Contact:
    """`replace(c, customer_id=str(person_id))` without its walk over the fields: an import
    writes the Customer ID of every contact it reads (dataclasses.replace cost 10 µs each)."""
    return Contact(c.record, c.item_id, c.version, str(person_id), c.extra, c.unmapped)


def link_row(
    pid: int,
    item_id: str,
    item_version: str,
    person_version: str,
    record: Record,
    baseline: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A `sync_links` row; `baseline` is the record's JSON when the caller has it already;
    `at` the time of the chunk's rows (one object: `executemany` converts it once)."""
    return {
        "person_id": pid,
        "item_id": item_id,
        "item_version": item_version,
        "person_version": person_version,
        "baseline": record_json(record) if baseline is None else baseline,
        "synced_at": at or now(),
    }


class Executor:
    def __init__(
        self,
        db: PersonsSide,
        store: ContactStore,
        journal: Journal,
        report: RunReport,
        *,
        chunk: int = DEFAULT_CHUNK,
        advance: Callable[[int], None] | None = None,
        crash_after: int = 0,
    ) -> None:
        self.db = db
        self.store = store
        self.engine: Engine = db.engine
        self.journal = journal
        self.folder = journal.folder
        self.report = report
        self.chunk = chunk
        self.advance = advance or (lambda n: None)
        self.checkpoint = Checkpoints(crash_after)
        self.writes = WriteQueue()
        # Contacts whose Customer ID must still be written (import), with their Person's id.
        self.customer_ids: CustomerIds = []
        # Person id → contact id of the pairs whose write was refused as stale (see above).
        self.stale: dict[int, str] = {}
        # Two-way pairs whose Person write the CRM refused outright (a constraint, not a stale
        # version), with how the pair was being linked: their contact's half still goes, with
        # the baseline the planner gave for it (`UpdateContact.alone`).
        self.refused: dict[int, str] = {}
        # Persons this run created (two-way: those outside the view are told and left alone).
        self.created: list[int] = []
        # Two-way: Persons outside the run's view that it links (`_outside_view`). Their link
        # rows are written dormant at once, in the transaction that makes the link: a run
        # killed before its end must not leave them for the next run to take for Persons who
        # left the view (and tag or delete their contacts).
        self.outsiders: set[int] = set()
        self.view_gone = False  # the run's view was deleted while it ran

    # --- bookkeeping -----------------------------------------------------------------------------
    def error(
        self, name: str, message: str, item_id: str = "", person_id: int | None = None
    ) -> None:
        self.report.errors.append(
            {
                "name": name,
                "item_id": item_id,
                "person_id": person_id,
                "folder": self.folder,
                "error": message,
            }
        )

    def _commit(
        self, rows: list[dict[str, Any]], outcomes: Sequence[Outcome], mirror: Mirror = ()
    ) -> None:
        """A chunk's outcomes in one transaction: the hidden links (`contact_manager_id`), the
        link rows and the journal. All or nothing: a crash before the commit leaves the chunk's
        intents open, and the next run relinks by Customer ID and mirrors again."""
        if rows or outcomes or mirror:
            with self.engine.begin() as conn:
                self._record(conn, rows, outcomes, mirror)
        self.checkpoint()

    def _record(
        self,
        conn: Connection,
        rows: list[dict[str, Any]],
        outcomes: Sequence[Outcome],
        mirror: Mirror,
    ) -> None:
        """`_commit`'s writes, in the caller's transaction."""
        if mirror:
            self.db.set_contact_manager_ids(mirror, conn=conn)
        Links.save(conn, self.folder, self._dormant(rows))
        self.journal.settle(conn, outcomes)

    def _dormant(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`rows`, those of Persons outside a two-way run's view dormant (`LEFT`). A Person
        whose write the CRM refused is not: its pair is tried again by the next run."""
        if not self.outsiders:
            return rows
        for row in rows:
            pid = row["person_id"]
            if pid in self.outsiders and pid not in self.refused:
                row["person_version"] = LEFT
        return rows

    def _outside(self, conn: Connection, ids: Sequence[int], view: str | None) -> set[int]:
        """Those of the new Persons `ids` that a two-way run's view does not take (all of them
        when the view was deleted meanwhile: which are its own cannot be told, and a dormant
        link is the pair left alone)."""
        if self.view_gone:
            return set(ids)
        try:
            taken: set[int] = self.db.in_view(ids, view, conn=conn)
            return set(ids) - taken
        except ViewError:
            self.view_gone = True
            return set(ids)

    def _write(
        self,
        begin: Callable[[list[T]], Finish],
        items: list[T],
        then: Callable[[Results], None],
    ) -> None:
        """Begin writing a chunk (its intents committed); `then` records it once finished."""

        def failed(exc: StoreError) -> Finish:
            # The whole chunk failed (the folder went away, ...): each record reports it.
            return lambda: [exc] * len(items)

        def start() -> Finish:
            try:
                finish = begin(items)
            except StoreError as exc:
                return failed(exc)

            def wait() -> Results:
                try:
                    return finish()
                except StoreError as exc:
                    return failed(exc)()

            return wait

        self.writes.submit(start, then)

    # --- the plan --------------------------------------------------------------------------------
    def apply(self, plan: Plan) -> None:
        self.outsiders |= plan.outside_view
        try:
            self._apply(plan)
            self.writes.drain()
        finally:
            self.writes.close()

    def _apply(self, plan: Plan) -> None:
        for a in plan.actions:
            if isinstance(a, NeedsDecision | Skip):
                self.report.skipped.append(
                    {
                        "kind": "decide" if isinstance(a, NeedsDecision) else "skip",
                        "name": a.name,
                        "email": getattr(a, "email", ""),
                        "item_id": a.item_id,
                        "person_id": a.person_id,
                        "folder": self.folder,
                        "reason": a.reason,
                        "candidates": list(getattr(a, "candidates", ())),
                    }
                )
        self.report.conflicts += conflict_entries(plan, self.folder)
        self.report.warnings += list(plan.warnings)
        self.report.count("unchanged", plan.unchanged)
        self.report.count("decide", len(plan.of("decide")))
        self.report.count("skip", len(plan.of("skip")))
        if plan.direction != "export":
            # Import, and the CRM's half of a two-way sync first: a pair written on both sides
            # gets its link row from the contact's write, which comes second.
            self._create_persons([a for a in plan.actions if isinstance(a, CreatePerson)], plan)
            self._update_persons(
                [a for a in plan.actions if isinstance(a, UpdatePerson)],
                {a.person_id for a in plan.actions if isinstance(a, UpdateContact)},
            )
            if self.stale:
                # A pair whose Person was refused: its contact's write waits for the pair to
                # be planned again (written alone, its link would claim values the CRM lacks).
                held = self.stale
                kept = tuple(a for a in plan.actions if getattr(a, "person_id", 0) not in held)
                plan = replace(plan, actions=kept)
        if plan.direction == "import":
            self._links([a for a in plan.actions if isinstance(a, Link)])
        else:
            self._create_contacts([a for a in plan.actions if isinstance(a, CreateContact)])
            updates = [a for a in plan.actions if isinstance(a, UpdateContact)]
            links = [a for a in plan.actions if isinstance(a, Link)]
            rewrite = [a for a in links if a.contact.customer_id != str(a.person_id)]
            self._update_contacts(updates, rewrite)
            self._links([a for a in links if a.contact.customer_id == str(a.person_id)])
        if plan.direction != "export":
            self._write_customer_ids(final=True)
        if plan.direction == "sync":
            self._outside_view(plan)
        # Deletes and view membership: tags, deleted contacts and Persons, ended links. (Imported
        # here: deletes.py builds on this module.)
        from personsync.sync.deletes import Deletes

        deletes = Deletes(self)
        deletes.tag([a for a in plan.actions if isinstance(a, TagContact)])
        deletes.delete_contacts([a for a in plan.actions if isinstance(a, DeleteContact)])
        deletes.delete_persons([a for a in plan.actions if isinstance(a, DeletePerson)])
        deletes.note([a for a in plan.actions if isinstance(a, NotCreated)])
        self._keep_deleted(
            [a for a in plan.actions if isinstance(a, KeepDeleted | LeftView | Moved)]
        )
        self._refresh([a for a in plan.actions if isinstance(a, Refresh)])

    # --- export ----------------------------------------------------------------------------------
    def _create_contacts(self, actions: list[CreateContact]) -> None:
        for part in chunks(actions, self.chunk):
            seqs = self.journal.intents(Entry("contact", "create", None, a.person_id) for a in part)
            self.checkpoint()
            # What to record of each, made as it is recorded (`map`): a chunk's 500 made now
            # would live through the garbage collector's collections into its oldest generation
            # while the chunk is written.
            self._write(
                partial(begin_create_many, self.store),
                [a.contact for a in part],
                partial(self._contacts_written, map(_created, part), seqs),
            )

    def _update_contacts(self, updates: list[UpdateContact], links: list[Link]) -> None:
        # (contact as read, contact to write, what to record): field updates, and links that
        # write the Person's id as Customer ID (an update that makes a link counts as both).
        # Made one chunk at a time: for a first sync's 100,000 links, the whole list was a new
        # Contact, a ContactWrite and a tuple per pair, alive until the last write.
        for part in chunks(updates, self.chunk):
            self.update_contacts(
                [
                    (u.old, u.new, self._contact_write(u))  # (a refused Person half: its own)
                    for u in part
                ]
            )
        for links_part in chunks(links, self.chunk):
            self.update_contacts(
                [
                    (
                        lk.contact,
                        with_customer_id(lk.contact, lk.person_id),
                        ContactWrite(
                            lk.person_id,
                            lk.person_version if lk.settled else "",
                            lk.record if lk.baseline is None else lk.baseline,
                            mirror=True,
                            counts=("link",),
                            name=lk.name,
                            item_id=lk.contact.item_id,
                        ),
                    )
                    for lk in links_part
                ]
            )

    def _contact_write(self, u: UpdateContact) -> ContactWrite:
        """What to record of a contact update once written. A two-way pair whose Person's half
        the CRM refused records the planner's `alone` baseline and no Person version (the pair
        is read again next run), and makes the link its Person's half was to make."""
        link = u.link
        baseline = u.new.record if u.baseline is None else u.baseline
        version = u.person_version if u.settled else ""
        if u.person_id in self.refused and u.alone is not None:
            link = link or self.refused[u.person_id]
            baseline, version = u.alone, ""
        return ContactWrite(
            u.person_id,
            version,
            baseline,
            mirror=bool(link),
            counts=("link", "update-contact") if link else ("update-contact",),
            name=u.name,
            item_id=u.old.item_id,
            agreed=agreed(u.conflicts, u.changes),
        )

    def update_contacts(self, work: Sequence[tuple[Contact, Contact, ContactWrite]]) -> None:
        """Journal, write and record contact updates: (contact as read, to write, to record).
        A write that keeps the record (`new.record is old.record`: a link writing the Customer
        ID) journals only the Customer ID, as an import's do; undo keeps the record as it is."""
        for part in chunks(work, self.chunk):
            seqs = self.journal.intents(
                (
                    Entry(
                        "contact",
                        "update",
                        old.item_id,
                        w.person_id,
                        contact_before(old, agreed=w.agreed)
                        if new.record is not old.record
                        else customer_id_before(old),
                    )
                    for old, new, w in part
                )
            )
            self.checkpoint()
            self._write(
                partial(begin_update_many, self.store),
                [(old, new) for old, new, _ in part],
                partial(self._contacts_written, [w for _, _, w in part], seqs),
            )

    def _contacts_written(
        self, part: Iterable[ContactWrite], seqs: list[int], results: Results
    ) -> None:
        """Record a chunk of contact writes (created or updated) once the store finished it."""
        self.checkpoint()
        rows: list[dict[str, Any]] = []
        outcomes: list[Outcome] = []
        mirror: list[tuple[int, str | None]] = []
        at = now()
        for w, seq, res in zip(part, seqs, results, strict=True):
            if isinstance(res, ItemRef):
                rows.append(
                    link_row(
                        w.person_id, res.item_id, res.version, w.person_version, w.record, at=at
                    )
                )
                outcomes.append((seq, "done", written_json(res.item_id, res.version), None))
                if w.mirror:
                    mirror.append((w.person_id, res.item_id))
                for key in w.counts:
                    self.report.count(key)
                if w.note:
                    self.report.warnings.append(w.note)
            elif isinstance(res, ConflictError) and w.item_id:
                outcomes.append((seq, "stale", None, str(res)))
                self.stale[w.person_id] = w.item_id
            else:
                outcomes.append((seq, "failed", None, str(res)))
                self.error(w.name, str(res), w.item_id, w.person_id)
        self._commit(rows, outcomes, mirror)
        self.advance(len(seqs))

    # --- import ----------------------------------------------------------------------------------
    def _create_persons(self, actions: list[CreatePerson], plan: Plan) -> None:
        # Two-way, a view with a filter: which new Persons it does not take.
        filtered = plan.direction == "sync" and bool(plan.view) and plan.view != ALL_PERSONS
        view = plan.view if filtered else None
        for part in chunks(actions, self.chunk):
            self._create_person_chunk(part, view)

    def _create_person_chunk(self, part: Sequence[CreatePerson], view: str | None) -> None:
        """`view`: a two-way run's filtered view, whose outsiders' links are made dormant."""
        # The baseline's JSON serves the journal too.
        baselines = [record_json(a.record) for a in part]
        pending = self.customer_ids
        try:
            # One transaction: the Persons (each with its hidden link), their journal entries,
            # their link rows, and the intents of the Customer IDs to write back. Persons and
            # journal share the database, so a Person never exists without its entry and
            # link, and nothing is left for a later run to recover.
            with self.engine.begin() as conn:
                ids = self.db.add_many(
                    [a.record for a in part],
                    contact_manager_ids=[a.contact.item_id for a in part],
                    conn=conn,
                )
                version = self.db.new_version  # every new Person's: no read needed
                v, at = text(version), now()
                if view is not None:
                    self.outsiders |= self._outside(conn, ids, view)
                self.journal.done(
                    conn,
                    (
                        Entry(
                            "person",
                            "create",
                            a.contact.item_id,
                            pid,
                            RawJson(f'{{"record":{b}}}'),
                        )
                        for a, pid, b in zip(part, ids, baselines, strict=True)
                    ),
                    (RawJson(f'{{"person_id":{pid},"version":{v}}}') for pid in ids),
                )
                rows = [
                    # Written twice, on purpose: here without the contact's version (""), then
                    # its version once the Customer ID is written (`_customer_ids_written`).
                    # That version is the store's answer to a write not made yet, and the link
                    # cannot wait for it: it must commit with the Person it pairs. A run killed
                    # between the two would otherwise leave a new Person and its contact (no
                    # Customer ID yet) unpaired, and the next run match or make them anew (a
                    # duplicate). With "" the next run re-reads the pair and finishes it.
                    link_row(pid, a.contact.item_id, "", version, a.record, b, at)
                    for a, pid, b in zip(part, ids, baselines, strict=True)
                ]
                Links.save(conn, self.folder, self._dormant(rows))
                pending = pending + [(a.contact, pid) for a, pid in zip(part, ids, strict=True)]
                due, pending = self._customer_id_intents(conn, pending)
                self.checkpoint()  # a kill here rolls the whole chunk back
        except ValueRefused as exc:
            if len(part) > 1:
                # The database refused a value by a rule of its own (a constraint, a trigger):
                # the chunk's one statement failed with it and rolled back. Made one by one,
                # the others go on and only the refused contact's Person is named.
                for one in part:
                    self._create_person_chunk([one], view)
                return
            self.error(part[0].name, str(exc), part[0].contact.item_id)
            self.advance(1)
            return
        except PersonsyncError as exc:
            for a in part:
                self.error(a.name, str(exc), a.contact.item_id)
            self.advance(len(part))
            return
        self.customer_ids = pending
        self.created += ids
        self.report.count("create-person", len(part))
        self.checkpoint()
        self._begin_customer_ids(due)
        self.advance(len(part))

    def _update_persons(self, actions: list[UpdatePerson], contact_too: set[int]) -> None:
        """`contact_too`: Persons whose contact this run writes as well (two-way). Their link
        row is written without the Person's version: with it, a run killed before the
        contact's write would find the pair in step and never carry the CRM's half into the
        contact."""
        for part in chunks(actions, self.chunk):
            seqs = self.journal.intents(
                Entry(
                    "person",
                    "update",
                    a.contact.item_id,
                    a.person_id,
                    {
                        "changes": {f: value_to_json(o) for f, o, _ in a.changes},
                        "version": a.person_version,
                    }
                    | ({"agreed": was} if (was := agreed(a.conflicts, a.changes)) else {}),
                )
                for a in part
            )
            self.checkpoint()
            results = self._update_person_chunk(part, seqs, contact_too)
            self._report_updated(part, results, contact_too)
            self._write_customer_ids()
            self.advance(len(part))

    @staticmethod
    def _persons_updated(
        part: Sequence[UpdatePerson],
        seqs: Sequence[int],
        results: Sequence[str | PersonsyncError],
        contact_too: set[int],
    ) -> tuple[list[dict[str, Any]], list[Outcome], Mirror]:
        """The link rows, journal outcomes and hidden links of a chunk of Person updates, from
        each one's new version or error."""
        rows: list[dict[str, Any]] = []
        outcomes: list[Outcome] = []
        mirror: list[tuple[int, str | None]] = []
        for a, seq, got in zip(part, seqs, results, strict=True):
            if isinstance(got, PersonsyncError):
                state = "stale" if isinstance(got, ConflictError) else "failed"
                outcomes.append((seq, state, None, str(got)))
                continue
            cid_ok = a.contact.customer_id == str(a.person_id)
            # A pair whose contact this run writes too: its link is recorded now with the
            # planner's half baseline (the CRM's outgoing fields keep their old agreed values)
            # and no Person version, so that if the contact's write is refused or the run is
            # killed before it, the next run reads the pair again and still sends the CRM's
            # half out, while what the Person took from Outlook stays agreed. The contact's
            # write then records the whole link.
            settled = a.settled and a.person_id not in contact_too
            rows.append(
                link_row(
                    a.person_id,
                    a.contact.item_id,
                    a.contact.version if cid_ok else "",
                    got if settled else "",
                    a.record if a.baseline is None else a.baseline,
                )
            )
            outcomes.append((seq, "done", {"person_id": a.person_id, "version": got}, None))
            if a.link:
                mirror.append((a.person_id, a.contact.item_id))
        return rows, outcomes, mirror

    def _update_person_chunk(
        self, part: Sequence[UpdatePerson], seqs: Sequence[int], contact_too: set[int]
    ) -> list[str | PersonsyncError]:
        """Write a chunk of Person updates with their outcomes; per Person its new version or
        its error."""
        changes = [(a.person_id, {f: n for f, _, n in a.changes}, a.person_version) for a in part]
        results: list[str | PersonsyncError]
        try:
            # One transaction: the chunk's Person writes with their outcomes (link rows,
            # journal, hidden links), as new Persons are made: one commit per chunk, not one
            # per Person (a disk flush each on PostgreSQL).
            with self.db.transaction() as conn:
                results = self.db.update_checked(changes, conn=conn)
                rows, outcomes, mirror = self._persons_updated(part, seqs, results, contact_too)
                self.checkpoint()  # a kill here rolls the chunk's writes back with them
                self._record(conn, rows, outcomes, mirror)
        except ValueRefused as exc:
            if len(part) > 1:
                # The database refused a value by a rule of its own (a constraint, a trigger):
                # the chunk's one statement failed with it. Written one by one, the others go
                # on and only the refused Person is named.
                return [
                    got
                    for one, seq in zip(part, seqs, strict=True)
                    for got in self._update_person_chunk([one], [seq], contact_too)
                ]
            results = [exc]
        except PersonsyncError as exc:
            # The transaction failed as a whole (the database is locked or gone): none of the
            # chunk's Persons was written.
            results = [exc] * len(part)
        else:
            self.checkpoint()
            return results
        # The failures' outcomes, between the same kill points as written ones.
        self.checkpoint()
        self._commit([], self._persons_updated(part, seqs, results, contact_too)[1])
        self.checkpoint()
        return results

    def _report_updated(
        self,
        part: Sequence[UpdatePerson],
        results: Sequence[str | PersonsyncError],
        contact_too: set[int],
    ) -> None:
        """A chunk of Person updates, once committed: the report, the pairs to plan again, the
        Customer IDs to write."""
        for a, got in zip(part, results, strict=True):
            if isinstance(got, ConflictError):
                self.stale[a.person_id] = a.contact.item_id
            elif isinstance(got, PersonsyncError):
                self.error(a.name, str(got), a.contact.item_id, a.person_id)
                if a.person_id in contact_too:
                    # Refused outright: the contact's half records the planner's `alone`
                    # baseline (see `_contact_write`).
                    self.refused[a.person_id] = a.link
            else:
                if a.contact.customer_id != str(a.person_id):
                    self.customer_ids.append((a.contact, a.person_id))
                if a.link:
                    self.report.count("link")
                self.report.count("update-person")

    def _links(self, actions: list[Link]) -> None:
        """Links whose contact already carries the right Customer ID (else it is written first)."""
        for part in chunks(actions, self.chunk):
            seqs = self.journal.intents(
                Entry("person", "link", a.contact.item_id, a.person_id, None) for a in part
            )
            rows: list[dict[str, Any]] = []
            outcomes: list[Outcome] = []
            mirror: list[tuple[int, str | None]] = []
            for a, seq in zip(part, seqs, strict=True):
                cid_ok = a.contact.customer_id == str(a.person_id)
                rows.append(
                    link_row(
                        a.person_id,
                        a.contact.item_id,
                        a.contact.version if cid_ok else "",
                        a.person_version if a.settled else "",
                        a.record if a.baseline is None else a.baseline,
                    )
                )
                outcomes.append((seq, "done", {"item_id": a.contact.item_id}, None))
                mirror.append((a.person_id, a.contact.item_id))
                if not cid_ok:
                    self.customer_ids.append((a.contact, a.person_id))
                self.report.count("link")
            self._commit(rows, outcomes, mirror)
            self._write_customer_ids()
            self.advance(len(part))

    def _write_customer_ids(self, *, final: bool = False) -> None:
        """Import's second half of a link: the Person's id into the contact's Customer ID.
        Written by whole chunks as the links are committed (so the folder's writes overlap the
        next chunk's Persons); `final` writes the rest."""
        if len(self.customer_ids) < self.chunk and not (final and self.customer_ids):
            return
        with self.engine.begin() as conn:
            due, rest = self._customer_id_intents(conn, self.customer_ids, final=final)
        self.customer_ids = rest
        self._begin_customer_ids(due)

    def _customer_id_intents(
        self, conn: Connection, pending: CustomerIds, *, final: bool = False
    ) -> tuple[Journaled, CustomerIds]:
        """Journal the Customer IDs due (whole chunks; `final`: all) in `conn`'s transaction:
        the chunks with their journal seqs, and what is left for later."""
        due: Journaled = []
        while len(pending) >= self.chunk or (final and pending):
            part, pending = pending[: self.chunk], pending[self.chunk :]
            # Only the Customer ID changes: the journal keeps that, not the whole record.
            seqs = self.journal.intents(
                (
                    Entry("contact", "update", c.item_id, pid, customer_id_before(c))
                    for c, pid in part
                ),
                conn=conn,
            )
            due.append((part, seqs))
        return due, pending

    def _begin_customer_ids(self, due: Journaled) -> None:
        """Begin writing chunks of Customer IDs whose intents are committed."""
        for part, seqs in due:
            self._write(
                partial(begin_update_many, self.store),
                [(c, with_customer_id(c, pid)) for c, pid in part],
                partial(self._customer_ids_written, part, seqs),
            )

    def _customer_ids_written(
        self, part: Sequence[tuple[Contact, int]], seqs: list[int], results: Results
    ) -> None:
        self.checkpoint()
        versions: list[tuple[str, str]] = []
        outcomes: list[Outcome] = []
        for (c, pid), seq, res in zip(part, seqs, results, strict=True):
            if isinstance(res, ItemRef):
                versions.append((c.item_id, res.version))
                outcomes.append((seq, "done", written_json(res.item_id, res.version), None))
            elif isinstance(res, ConflictError):
                outcomes.append((seq, "stale", None, str(res)))
                self.stale[pid] = c.item_id
            else:
                outcomes.append((seq, "failed", None, str(res)))
                self.error(c.display_name, str(res), c.item_id, pid)
        with self.engine.begin() as conn:
            Links.set_item_versions(conn, self.folder, versions)
            self.journal.settle(conn, outcomes)
        self.checkpoint()

    def _outside_view(self, plan: Plan) -> None:
        """A two-way run of a view links contacts to Persons outside it: matched among every
        Person (the plan names them), or made from a new contact that the view's filter does
        not take. The view's runs leave such a pair alone (the link dormant, as for a Person
        who left the view, until the Person comes into it), and this run says so: otherwise
        the next run takes the Person for one who left the view and tags or deletes its
        contact under `--on-person-removed`. Their links were written dormant with the links
        themselves (`_dormant`: every link row the executor writes goes through it, in the
        transaction that makes it), so this is only the run's word. (Until 2026-12-06 it also
        wrote them dormant once more, in a transaction of its own.)"""
        outside = set(plan.outside_view) | (self.outsiders & set(self.created))
        linked = outside - set(self.stale) - set(self.refused)
        if not linked:
            return
        name, ids = plan.view or ALL_PERSONS, _ids(sorted(linked))
        self.report.warnings.append(
            f"the view {name!r} was deleted while this run went on: the {len(linked)} "
            f"Person(s) it linked or made (ids {ids}) are left alone by the runs of a view of "
            "that name until one of them comes into it"
            if self.view_gone
            else f"{len(linked)} Person(s) linked by this run are outside the view {name!r} "
            f"(ids {ids}): runs of this view leave those pairs alone until the Person comes "
            "into the view"
        )

    def _keep_deleted(self, actions: Sequence[KeepDeleted | LeftView | Moved]) -> None:
        """Ended links: a tombstone keeps the deleted side's version `GONE` (or `MOVED`), a
        Person who left the view makes the link dormant (`LEFT`). No side is written, so nothing
        is journaled; the next run of the pair finds it in step."""
        for part in chunks(actions, self.chunk):
            rows = [_ended(a) for a in part]
            with self.engine.begin() as conn:
                Links.set_versions(conn, self.folder, rows)
            for a in part:
                if isinstance(a, KeepDeleted) and a.again:
                    self.report.count("unchanged")  # named by the run that made it
                    continue
                self.report.warnings.append(f"{a.name or a.item_id}: {a.reason}")
                self.report.count(a.kind)

    def _refresh(self, actions: list[Refresh]) -> None:
        for part in chunks(actions, self.chunk):
            rows = [
                link_row(
                    a.person_id,
                    a.contact.item_id,
                    a.contact.version,
                    a.person_version if a.settled else "",
                    a.record if a.baseline is None else a.baseline,
                )
                for a in part
            ]
            self._commit(rows, [])


def _ids(ids: Sequence[int], shown: int = 10) -> str:
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(map(str, ids[:shown])) + more


def _created(a: CreateContact) -> ContactWrite:
    """What to record of a new contact once written."""
    return ContactWrite(
        a.person_id,
        a.person_version,
        a.contact.record,
        mirror=True,
        counts=("create-contact",),
        name=a.name,
    )


def _ended(a: KeepDeleted | LeftView | Moved) -> tuple[int, str, str]:
    """(person id, item version, person version) of a link ended without a write."""
    if isinstance(a, LeftView):
        return a.person_id, a.item_version, LEFT
    if isinstance(a, Moved):
        return a.person_id, MOVED, a.person_version
    if a.side == "contact":
        return a.person_id, a.mark, a.person_version
    return a.person_id, a.item_version, GONE


@dataclass(frozen=True, slots=True)
class ContactWrite:
    """What to record of one export write of a contact (a create, a field update, or a link
    that writes the Customer ID) once the store wrote it."""

    person_id: int
    person_version: str
    record: Record  # the agreed values after the write: the new baseline
    mirror: bool  # a link made now: the Person's contact_manager_id follows it
    counts: tuple[str, ...]  # the report's counters this write adds to
    name: str
    item_id: str = ""  # the contact written ("" for one being created), for the report
    note: str = ""  # said in the report's warnings once written (a tag: why)
    agreed: dict[str, Any] | None = None  # the journal's `agreed` (see there)
