"""One sync run: take the snapshots, plan, guard, apply, report.

Taking the snapshot is where the I/O is, and where the cost of a no-op run is decided: versions
of both sides come from one cheap listing each; only the pairs that are not `in_step` with their
link are read. The planner then decides from exactly what was read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect

from personsync.errors import DatabaseError, MassChangeRefused
from personsync.fields import FIELD_NAMES
from personsync.model import Contact, Person, Record, diff
from personsync.stores import open_folder
from personsync.stores.base import ContactStore, ReadProblem, find_elsewhere
from personsync.sync import guard, planner, quiet
from personsync.sync.apply import Executor, conflict_entries
from personsync.sync.events import (
    Finished,
    GuardQuestion,
    OnEvent,
    Planned,
    Progress,
    folder_waits,
    ignore,
)
from personsync.sync.journal import (
    Journal,
    PendingCreate,
    contacts_deleted,
    interrupted_customer_id_writes,
    interrupted_plan,
    new_run_id,
    noted_items,
    unfinished_person_creates,
)
from personsync.sync.lease import held
from personsync.sync.links import (
    LinkRow,
    Links,
    ignored,
    load_state,
    normalise_folder,
    save_state,
)
from personsync.sync.merge import Choices, FieldRule
from personsync.sync.options import RunOptions
from personsync.sync.plan import Plan
from personsync.sync.replan import replan_stale
from personsync.sync.report import RunReport
from personsync.sync.settings import load_settings
from personsync.sync.snapshot import (
    ContactDeleted,
    FolderSnapshot,
    PersonsSnapshot,
    Snapshot,
    held_by,
    import_skips,
    in_step,
    named_outside,
    persons_out_of_step,
    settled_gone,
)
from personsync.sync.tables import metadata
from personsync.sync.values import record_from_dict

if TYPE_CHECKING:
    from personsync.sync.persons_side import PersonsSide

DEFAULT_OPTIONS = RunOptions()


def ensure_tables(engine: Engine) -> None:
    """The sync tables come with the Alembic migrations (0002, 0004, 0006, 0008, 0010), which
    every `PersonsDB` applies, or demands, when it opens the database. One missing is an error
    naming it: made here, it would be a table no migration knows (issue 12 §1: the sync state's
    tables are made by migrations only; until 2026-12-06 they were made here)."""
    # One catalogue query, not one per table: every run starts here, and on PostgreSQL each
    # `has_table` was a round trip (7 of them, a tenth of a second on a busy machine).
    missing = set(metadata.tables) - set(inspect(engine).get_table_names())
    if missing:
        raise DatabaseError(
            f"the Persons database lacks the sync tables {', '.join(sorted(missing))}",
            hint="`personsync db upgrade` makes them; one dropped by hand from a database "
            "that is up to date needs its backup",
        )


def _read_contacts(
    store: ContactStore, ids: list[str], listing: dict[str, str]
) -> tuple[dict[str, Contact], list[ReadProblem]]:
    contacts: dict[str, Contact] = {}
    problems: list[ReadProblem] = []
    # All at once: a store reads in its own chunks (Graph's batches; the vCard folder's helper
    # process parses half of a big read).
    for got in store.get_many(ids):
        if isinstance(got, ReadProblem):
            problems.append(got)
        else:
            contacts[got.item_id] = got
            # A contact read at the version it was listed at: the listing holds the contact's
            # string, not an equal copy (8 MB of a first sync's 100,000). That way round, not
            # the contact the listing's: the store may keep the string it read too (the vCard
            # folder's versions of the files that hold one card), and then all three share
            # one. An equal immutable value in place of another: no one can tell.
            item_id = got.item_id
            if listing.get(item_id) == got.version:
                listing[item_id] = got.version
    return contacts, problems


def _read_persons(
    db: PersonsSide,
    ids: Iterable[int],
    view: str | None,
    everyone: int,
    same: _SameRecords | None = None,
) -> dict[int, Person]:
    """The Persons of `ids`; each holding the Record of a contact read whose values are the
    very same, where `same` has one, and as its id the very int object of `ids` (which come
    from a listing of versions, held beside the Persons: not an equal int from the row, 3 MB
    of a first sync's 100,000)."""
    wanted = {pid: pid for pid in ids}  # (a set cannot hand back the object it holds)
    if not wanted:
        return {}
    same = same or _SameRecords({}, {})
    if len(wanted) * 2 > everyone:
        # Most of them: one streamed scan beats many keyed look-ups.
        return {
            pid: same(p, pid)
            for p in db.iter_persons(view, times=False)
            if (pid := wanted.get(p.id)) is not None
        }
    out: dict[int, Person] = {}
    ordered = sorted(wanted)
    for start in range(0, len(ordered), 2000):
        got = db.get_many(ordered[start : start + 2000], times=False)
        out.update((pid, same(p, pid)) for pid, p in ((wanted[i], p) for i, p in got.items()))
    return out


class _SameRecords:
    """A Person read, with the Record of a contact read whose values are the very same in its
    place (its own Record is dropped as it is read), and the string of its version that
    `versions` (the listing of the Persons' versions) holds. Why: a first sync against
    contacts that match their Persons field for field (exported before, by this tool or
    another) held two equal Records per pair, 110 MB at 100,000, and two equal versions per
    Person, 5 MB. Both are immutable and compared by value, so sharing one is invisible."""

    def __init__(self, contacts: Mapping[str, Contact], versions: Mapping[int, str]) -> None:
        self.contacts = contacts
        self.versions = versions
        self._pool: dict[Record, Record] | None = None

    @property
    def pool(self) -> dict[Record, Record]:
        # Made at the first Person, once for all the reads of a snapshot. Keyed by the
        # contacts' Records themselves (equal by their values): not by their hashes (100,000
        # int objects, 3 MB), nor by tuples of their values (a Record that holds only its set
        # values makes that tuple when asked: 100,000 of them held would be 56 MB).
        if self._pool is None:
            self._pool = {c.record: c.record for c in self.contacts.values()}
        return self._pool

    def __call__(self, person: Person, pid: int) -> Person:
        """`person`, with `pid` (equal to its id) as its id."""
        p = person
        version = self.versions.get(pid)
        if version is None or version != p.version:
            version = p.version
        record = self._same(p.record) if self.contacts else p.record
        if record is p.record and version is p.version and pid is p.id:
            return p
        return Person(pid, record, version, p.contact_manager_id, p.created_at, p.updated_at)

    def _same(self, record: Record) -> Record:
        found = self.pool.get(record)
        return record if found is None else found


def _recover(
    pending: list[PendingCreate], persons: Mapping[int, Person], links: Mapping[int, LinkRow]
) -> dict[str, int]:
    """Match an interrupted run's Person-create intents to the unlinked Persons they made."""
    if not pending:
        return {}
    lowest = min(p.floor for p in pending)
    spare = sorted(pid for pid in persons if pid > lowest and pid not in links)
    used: set[int] = set()
    out: dict[str, int] = {}
    for intent in pending:
        record = record_from_dict(intent.record)
        for pid in spare:
            if pid > intent.floor and pid not in used and not diff(persons[pid].record, record):
                used.add(pid)
                out[intent.item_id] = pid
                break
    return out


def look_elsewhere(
    engine: Engine,
    store: ContactStore,
    missing: list[LinkRow],
    listing: Mapping[str, str],
) -> tuple[dict[str, str], frozenset[str]]:
    """Linked contacts missing from the folder's listing: those the store found in another
    folder (item id → where), and those it did not search for (its bound per run). A contact
    with the Person's Customer ID that is linked in another folder is that folder's own (the
    Person exported there too), not a moved one. A folder listed empty is searched too (the
    guard stops it, naming how many were found elsewhere): skipped, a run told --yes took every
    contact of a folder whose contacts were all moved for deleted, and `propagate` deleted their
    Persons. The store's bound per run keeps the search short; the rest are kept, unsearched."""
    if not missing:
        return {}, frozenset()
    found, unsearched = find_elsewhere(store, [str(link.person_id) for link in missing])
    if not found:
        return {}, frozenset(link.item_id for link in missing if str(link.person_id) in unsearched)
    others = Links(engine, store.url).linked_elsewhere(
        [hit.item_id for hits in found.values() for hit in hits]
    )
    moved: dict[str, str] = {}
    for link in missing:
        hits = [h for h in found.get(str(link.person_id), ()) if h.item_id not in others]
        if hits:
            moved[link.item_id] = hits[0].folder
    unknown = frozenset(link.item_id for link in missing if str(link.person_id) in unsearched)
    return moved, unknown


def take_snapshot(
    db: PersonsSide,
    store: ContactStore,
    direction: str,
    view: str | None,
    recreate: bool = False,
    choices: Choices | None = None,
) -> Snapshot:
    engine: Engine = db.engine
    link_table = Links(engine, store.url)
    links = link_table.load()
    listing = {ref.item_id: ref.version for ref in store.list_items()}
    for item_id in ignored(engine, store.url):
        listing.pop(item_id, None)  # a person chose to leave it alone: no run sees it
    recovered: dict[str, int] = {}
    removed: dict[int, str] = {}
    noted: frozenset[str] = frozenset()
    deleted: dict[int, ContactDeleted] = {}
    if direction in ("export", "sync"):
        versions = db.versions(view)
        # Without a view, the versions are every Person's: not a count of them all again (a
        # scan of the table on PostgreSQL).
        total = len(versions) if direction == "export" or not view else db.count()
        need_persons = persons_out_of_step(links, listing, versions, recreate)
        linked = {link.item_id for link in links.values()}
        need_items = [i for i in listing if i not in linked]
        unlinked = len(need_items)
        need_items += [
            links[p].item_id for p in need_persons if p in links and links[p].item_id in listing
        ]
        # Linked Persons gone from the view, not handled before: deleted, or left the view?
        # (Set differences first: a no-op run over 100,000 links does no per-link call.)
        orphans = [p for p in links.keys() - versions.keys() if not settled_gone(links[p])]
        if orphans:
            everyone = db.versions(None)
            removed = {p: "left the view" if p in everyone else "deleted" for p in orphans}
            if choices is not None and choices.on_person_removed != "keep":
                # Tagged or deleted: their contacts are read (once: the link ends after).
                need_items += [links[p].item_id for p in orphans if links[p].item_id in listing]
        missing = [
            links[p]
            for p in need_persons
            if p in links and links[p].item_id not in listing and not settled_gone(links[p])
        ]
        contacts, problems = _read_contacts(store, need_items, listing)
        same = _SameRecords(contacts, versions)
        persons = _read_persons(db, need_persons, view, total, same)
        # The baselines of the linked pairs that were read (none on a first export).
        baselines = link_table.baselines(
            [p for p in need_persons if p in links and links[p].item_id in listing]
            + [p for p in orphans if choices is not None and choices.on_person_removed == "tag"]
        )
        if direction == "sync" and choices is not None and choices.crm_alone_creates:
            noted = frozenset(noted_items(engine, store.url))
        if direction == "sync" and unlinked:
            # Two-way: new contacts become Persons, matched first against every Person not
            # linked here (the view's own were offered them already). Only those not read yet:
            # on a first sync of every Person, reading them all again doubled the read and,
            # while both copies lived, its memory.
            # (Without a view, the versions listed above are every Person's: not a second
            # listing of 100,000, 12 MB beside the contacts read.)
            everyone = versions if not view else db.versions(None)
            rest = everyone.keys() - persons.keys()
            del everyone
            persons.update(_read_persons(db, rest, None, total, same))
            recovered = _recover(unfinished_person_creates(engine, store.url), persons, links)
            if view:  # (without one, every Person is in the view: none is outside it)
                # Copies of contacts a run deleted (their Persons removed) stay decisions.
                free = (contacts.get(i) for i in islice(need_items, unlinked))
                named = named_outside(free, versions, links, persons)
                deleted = contacts_deleted(engine, store.url, named)
    else:
        versions = db.versions(None)
        total = len(versions)
        by_item = {link.item_id: link for link in links.values()}
        need_items = [
            i
            for i, link in ((i, by_item.get(i)) for i in listing)
            if link is None
            or (not import_skips(link, listing) and not in_step(link, listing, versions))
        ]
        contacts, problems = _read_contacts(store, need_items, listing)
        if any(i not in by_item for i in need_items):
            # Unlinked contacts are matched against every Person not linked here.
            persons = _read_persons(db, versions, None, 0, _SameRecords(contacts, versions))
        else:
            persons = _read_persons(
                db,
                (by_item[i].person_id for i in need_items if by_item[i].person_id in versions),
                None,
                total,
                _SameRecords({}, versions),
            )
        recovered = _recover(unfinished_person_creates(engine, store.url), persons, links)
        baselines = link_table.baselines(by_item[i].person_id for i in need_items if i in by_item)
        missing = [
            link
            for link in (by_item[i] for i in by_item.keys() - listing.keys())
            if link.person_id in versions and not settled_gone(link)
        ]
    # Before a missing contact is taken for deleted, the store looks in its other folders.
    moved, unsearched = look_elsewhere(engine, store, missing, listing)
    # Most Persons or contacts read (a first sync, a full export or import): their versions
    # listed are read from them, not held twice (`ReadVersions`).
    held_versions = held_by(versions, persons)
    folder = FolderSnapshot(
        store.url,
        held_by(listing, contacts),
        contacts,
        problems,
        store.capabilities.unsupported_fields,
        moved,
        unsearched,
    )
    return Snapshot(
        folder,
        PersonsSnapshot(held_versions, persons, total, view or ""),
        links,
        recovered,
        baselines,
        removed,
        noted,
        deleted,
    )


class _Counter:
    """The executor's `advance(n)` as `Progress` events."""

    def __init__(self, total: int, tell: OnEvent) -> None:
        self.total = total
        self.done = 0
        self.tell = tell

    def __call__(self, step: int) -> None:
        self.done += step
        self.tell(Progress(step, self.done, max(self.total, self.done)))


@dataclass
class Outcome:
    plan: Plan
    report: RunReport | None  # None for a dry run
    seconds: float


def run(
    db: PersonsSide,
    folder: str,
    direction: str,
    *,
    view: str | None = None,
    options: RunOptions = DEFAULT_OPTIONS,
    on_event: OnEvent | None = None,
) -> Outcome:
    """Plan an export, import or two-way sync of `view`'s Persons (import: all of them) with the
    contact `folder`; unless `options.dry_run`, guard and apply it. How the run goes is
    `options` (see `RunOptions`); what it does meanwhile goes to `on_event` (see `events`).
    Raises LeaseHeld when another run holds the folder past `options.wait`, MassChangeRefused
    when the guard trips and nobody said yes."""
    started = time.perf_counter()
    tell = on_event or ignore
    engine: Engine = db.engine
    ensure_tables(engine)

    # The run's own listener hears the folder's waits (never a default of the process).
    store = open_folder(
        folder,
        create=direction != "import",
        on_wait=folder_waits(tell),
        **options.folder_options,
    )
    run_id = new_run_id()
    # One run at a time per folder, from before the snapshot to the last outcome; a dry run
    # writes nothing and takes no lease.
    lease = nullcontext() if options.dry_run else held(engine, store.url, run_id, wait=options.wait)
    try:
        with lease:
            store.import_state(load_state(engine, store.url))
            # A write an earlier run left half-made (a power cut) is made whole before anything
            # is read; a dry run writes nothing, and reports such a card as unreadable.
            mended = (
                []
                if options.dry_run
                else store.finish_interrupted(interrupted_customer_id_writes(engine, store.url))
            )
            settings = load_settings(engine, store.url)
            rules = dict(settings.rules)
            if options.only_fields:
                rules.update(
                    {f: FieldRule("none") for f in FIELD_NAMES if f not in options.only_fields}
                )
            choices = Choices(
                options.on_conflict or settings.on_conflict,
                options.field_policies,
                rules,
                options.recreate,
                options.on_person_removed or settings.on_person_removed or "keep",
                options.on_contact_deleted or settings.on_contact_deleted or "keep",
                bool(
                    settings.crm_alone_creates
                    if options.crm_alone_creates is None
                    else options.crm_alone_creates
                ),
                options.explicit_choice,
            )
            # Neither side changed since the folder's last quiet run: nothing to read or plan.
            marks = (
                None if mended else quiet.take_marks(db, store, direction, view, choices, options)
            )
            result = (
                None
                if marks is None
                else quiet.unchanged_plan(engine, store.url, direction, view, marks)
            )
            if result is None:
                if not options.dry_run:
                    quiet.claim(engine, store.url, run_id)
                result = planner.plan(
                    take_snapshot(db, store, direction, view, options.recreate, choices),
                    direction,
                    choices,
                )
            if options.only_persons is not None:
                result = result.settling(options.only_persons)
            # The snapshot is gone here: what the writes need, the plan holds (20 MB less for
            # an import of 100,000 cards: listing, versions, the contacts' index).
            tell(Planned(result))
            if options.dry_run:
                return Outcome(result, None, time.perf_counter() - started)
            try:
                already = interrupted_plan(engine, store.url, direction)
                guard.check(result, options.max_share, already)
            except MassChangeRefused as exc:
                if not options.yes and tell(GuardQuestion(exc.message)) is not True:
                    raise
            journal = Journal(
                engine,
                direction,
                store.url,
                view or "",
                run_id=run_id,
                planned=result.counts(),
                named=conflict_entries(result, normalise_folder(store.url)),
            )
            report = RunReport(journal.run_id, direction, journal.folder, view or "")
            report.warnings += mended
            try:
                progress = _Counter(result.changes(), tell)
                executor = Executor(
                    db,
                    store,
                    journal,
                    report,
                    chunk=options.chunk,
                    advance=progress,
                    crash_after=options.crash_after,
                )
                executor.apply(result)
                # Pairs that changed since the snapshot: read again and planned anew now.
                replan_stale(db, store, executor, direction, choices, view or "")
            # Not Ctrl-C (KeyboardInterrupt is no Exception): it can land inside a database
            # call, whose connection then keeps its transaction, and the lock, until the
            # process ends; recording "failed" would wait for that lock, then fail in its place.
            # Left "running", the run is marked "interrupted" by the folder's next run, as after
            # a kill -9.
            except Exception as exc:
                report.errors.append({"name": "", "error": f"the run stopped: {exc}"})
                report.duration = time.perf_counter() - started
                journal.finish("failed", report.counts, report.problems())
                raise
            report.duration = time.perf_counter() - started
            journal.finish(report.status, report.counts, report.problems())
            save_state(engine, store.url, store.export_state())
            if marks and not (
                result.actions or result.unread or report.problems() or report.warnings
            ):
                quiet.remember(engine, store.url, marks, result, run_id)
            tell(Finished(report, report.duration))
            return Outcome(result, report, report.duration)
    finally:
        store.close()
