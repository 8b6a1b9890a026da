"""Undo a run: put back what it changed, where nothing has changed since.

Walks the run's journal backwards. A contact is restored (or a created one deleted) only if it
still has the version the run left it with; a Person likewise. Anything changed since is left
alone and reported: undo never overwrites a later edit. Nor does it split a pair it cannot
undo whole: a Person the run made of a contact and the Customer ID it wrote back to that contact
are undone together or kept together (`_Undo.keep_pair`, `undo_contacts`). Undo is itself a
journaled run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from personsync.errors import (
    MassChangeRefused,
    PersonNotFound,
    PersonsyncError,
    UsageError,
    ValueRefused,
)
from personsync.model import Contact, Person
from personsync.stores import open_folder
from personsync.stores.base import ContactStore, get_one
from personsync.sync.apply import link_row
from personsync.sync.crash import Checkpoints
from personsync.sync.events import (
    Finished,
    GuardQuestion,
    OnEvent,
    Progress,
    folder_waits,
    ignore,
)
from personsync.sync.guard import check_share
from personsync.sync.journal import Entry, Journal, entries, get_run, new_run_id, undone_by
from personsync.sync.lease import held
from personsync.sync.link_move import undo_move
from personsync.sync.links import Links
from personsync.sync.options import DEFAULT_CHUNK, RunOptions
from personsync.sync.report import RunReport
from personsync.sync.snapshot import GONE, LEFT
from personsync.sync.undo_contacts import agreed_again, item_of, plain_contact, undo_contacts
from personsync.sync.values import record_from_dict

if TYPE_CHECKING:
    from personsync.sync.persons_side import PersonsSide

DEFAULT_OPTIONS = RunOptions()
Restore = tuple[dict[str, Any], Person, dict[str, Any]]  # an entry, its Person now, old values


class _Undo:
    def __init__(
        self,
        db: PersonsSide,
        run_id: str,
        folder: str,
        journal: Journal | None,
        report: RunReport,
        tell: OnEvent = ignore,
        crash_after: int = 0,
    ) -> None:
        self.db = db
        self.tell = tell  # hears the folder's waits
        self.checkpoint = Checkpoints(crash_after)  # the crash tests' kill points (crash.py)
        self.engine: Engine = db.engine
        self.run_id = run_id
        self.folder = folder
        self.journal = journal  # None: a dry run, which checks and counts but writes nothing
        self.report = report
        self._store: ContactStore | None = None
        # Undo never splits a pair it cannot undo whole: the Persons the run created (their
        # version after it), whose contact's Customer ID write-back is undone or kept with them
        # (`undo_contacts`), and those of them kept so, already named (`keep_pair`).
        self.made: dict[int, str] = {}
        self.kept: set[int] = set()

    def store(self) -> ContactStore:
        if self._store is None:
            self._store = open_folder(self.folder, create=False, on_wait=folder_waits(self.tell))
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def cannot(self, e: dict[str, Any], why: str) -> None:
        self.report.skipped.append(
            {
                "kind": "not undone",
                "item_id": e["item_id"],
                "person_id": e["person_id"],
                "folder": e["folder"],
                "reason": why,
            }
        )
        self.report.count("not-undone")

    def keep_pair(self, e: dict[str, Any], why: str) -> None:
        """The contact write-back `e` of a Person the run created is not undone, and so the
        Person's create is not either (the Person's entry then says nothing more): undone
        alone, either side would leave the other with a partner that is gone, and the next
        sync would make it a second one (or name a decision). Named once, as one not undone."""
        self.kept.add(e["person_id"])
        self.cannot(e, why)

    def write(
        self,
        e: dict[str, Any],
        action: str,
        before: Any,
        do: Callable[[], Any],
        *,
        unlinks: bool = False,
        link: Callable[[Connection, Any], None] | None = None,
    ) -> None:
        """Journal, then make one undo write; its failure is reported, the others proceed."""
        if self.journal is None:
            self.report.count("would-undo")
            return
        (seq,) = self.journal.intents(
            [Entry(e["side"], action, e["item_id"], e["person_id"], before)]
        )
        try:
            after = do()
        except PersonsyncError as exc:
            with self.engine.begin() as conn:
                self.journal.settle(conn, [(seq, "failed", None, str(exc))])
            self.cannot(e, str(exc))
            return
        with self.engine.begin() as conn:
            self.journal.settle(conn, [(seq, "done", after, None)])
            if link is not None:
                link(conn, after)  # the link the re-created side had, as `keep` leaves it
            elif e["item_id"]:
                if action == "delete" or unlinks:
                    Links.forget(conn, e["folder"], [e["item_id"]])
                else:
                    Links.mark_stale(conn, e["folder"], [e["item_id"]])
                    agreed_again(conn, e)
        self.report.count("undone")

    def recreate_contact(self, e: dict[str, Any]) -> None:
        """A contact the run deleted (its Person was removed): made again from the journal, with
        the same Customer ID; its link as `keep` would have left it (dormant if its Person is in
        the CRM, a tombstone if not), so the next run does not delete it again."""
        before = e["before"] or {}
        if get_one(self.store(), e["item_id"]) is not None:
            self.cannot(e, "the contact was not deleted")
            return
        again = [c for c in self.store().find_by_customer_id(str(before.get("customer_id") or ""))]
        if again:
            self.cannot(e, f"a contact with Customer ID {before.get('customer_id')} is back")
            return
        record = record_from_dict(before.get("record") or {})
        contact = Contact(record, customer_id=str(before.get("customer_id") or ""))
        pid = e["person_id"]

        def create() -> dict[str, str]:
            ref = self.store().create(contact)
            return {"item_id": ref.item_id, "version": ref.version}

        def relink(conn: Connection, after: Any) -> None:
            if pid is None:
                return
            exists = self.db.get_many([pid], times=False)
            row = link_row(
                pid, after["item_id"], after["version"], LEFT if exists else GONE, record
            )
            Links.save(conn, e["folder"], [row])

        self.write(e, "create", None, create, link=relink)

    def restore_person(self, e: dict[str, Any]) -> None:
        """A Person the run deleted (its contact was deleted in the folder): put back with the
        same id, and its link as a tombstone of the deleted contact, so the next run neither
        deletes it again nor re-creates the contact (unless --recreate)."""
        before, pid = e["before"] or {}, e["person_id"]
        if self.db.get_many([pid], times=False):
            self.cannot(e, "the Person exists")
            return
        person = Person(
            pid,
            record_from_dict(before.get("record") or {}),
            str(before.get("version") or ""),
            before.get("contact_manager_id"),
        )

        def restore() -> dict[str, Any]:
            return {"person_id": pid, "version": self.db.restore(person).version}

        def relink(conn: Connection, after: Any) -> None:
            row = link_row(pid, e["item_id"], GONE, after["version"], person.record)
            Links.save(conn, e["folder"], [row])

        self.write(e, "restore", None, restore, link=relink)

    def person(self, e: dict[str, Any]) -> None:
        after, before = e["after"] or {}, e["before"] or {}
        pid = after.get("person_id", e["person_id"])
        try:
            current = self.db.get(pid)
        except PersonNotFound:
            self.cannot({**e, "person_id": pid}, "the Person is gone")
            return
        if current.version != after.get("version"):
            self.cannot({**e, "person_id": pid}, "the Person changed after the run")
        elif e["action"] == "create":

            def delete() -> dict[str, int]:
                self.db.delete(pid)
                return {"deleted": pid}

            self.write({**e, "person_id": pid}, "delete", {"version": current.version}, delete)
        else:
            changes = {k: v for k, v in before.get("changes", {}).items()}
            old = record_from_dict({k: v for k, v in changes.items() if v is not None})
            values = {k: getattr(old, k) for k in changes}

            def restore() -> dict[str, Any]:
                person = self.db.update(pid, values, expected_version=current.version)
                return {"person_id": pid, "version": person.version}

            self.write(e, "restore", {"version": current.version}, restore)

    def persons(self, es: list[dict[str, Any]]) -> None:
        """`person` for a chunk of Person entries (no two of one Person), written together:
        the chunk's Persons are read at once, and the writes, their journal entries and links
        go in one transaction per kind (Persons and journal share the database: a write is
        never made without its entry). A transaction per Person was three commits each: an
        undo of an import of 20,000 took about half an hour."""
        pids = [(e["after"] or {}).get("person_id", e["person_id"]) for e in es]
        current = self.db.get_many(pids, times=False)
        deletes: list[tuple[dict[str, Any], Person]] = []
        restores: list[Restore] = []
        for e, pid in zip(es, pids, strict=True):
            found = current.get(pid)
            if e["action"] == "create" and pid in self.kept:
                continue  # kept with its contact, named there (`keep_pair`)
            if found is None:
                self.cannot({**e, "person_id": pid}, "the Person is gone")
            elif found.version != (e["after"] or {}).get("version"):
                self.cannot({**e, "person_id": pid}, "the Person changed after the run")
            elif self.journal is None:
                self.report.count("would-undo")
            elif e["action"] == "create":
                deletes.append(({**e, "person_id": pid}, found))
            else:
                changes = (e["before"] or {}).get("changes", {})
                old = record_from_dict({k: v for k, v in changes.items() if v is not None})
                restores.append((e, found, {k: getattr(old, k) for k in changes}))
        if deletes:
            self._delete_persons(deletes)
        if restores:
            self._restore_persons(restores)

    def _delete_persons(self, deletes: list[tuple[dict[str, Any], Person]]) -> None:
        """Persons the run created, deleted where they still have the run's version."""
        assert self.journal is not None
        with self.engine.begin() as conn:
            gone = {
                p.id
                for p in self.db.delete_unchanged(
                    [(p.id, p.version) for _, p in deletes], conn=conn
                )
            }
            done = [(e, p) for e, p in deletes if p.id in gone]
            self.journal.done(
                conn,
                (
                    Entry("person", "delete", e["item_id"], p.id, {"version": p.version})
                    for e, p in done
                ),
                ({"deleted": p.id} for _, p in done),
            )
            Links.forget(conn, self.folder, [e["item_id"] for e, _ in done if e["item_id"]])
        for e, p in deletes:
            if p.id in gone:
                self.report.count("undone")
            else:
                self.cannot(e, "the Person changed after the run")

    def _restore_persons(
        self, restores: list[tuple[dict[str, Any], Person, dict[str, Any]]]
    ) -> None:
        """Persons the run updated, given back the values it overwrote."""
        assert self.journal is not None
        try:
            with self.db.transaction() as conn:
                results = self.db.update_checked(
                    [(p.id, values, p.version) for _, p, values in restores], conn=conn
                )
                done = [
                    (e, p, got)
                    for (e, p, _), got in zip(restores, results, strict=True)
                    if isinstance(got, str)
                ]
                self.journal.done(
                    conn,
                    (
                        Entry("person", "restore", e["item_id"], p.id, {"version": p.version})
                        for e, p, _ in done
                    ),
                    ({"person_id": p.id, "version": got} for _, p, got in done),
                )
                Links.mark_stale(
                    conn, self.folder, [e["item_id"] for e, _, _ in done if e["item_id"]]
                )
                for e, _, _ in done:
                    agreed_again(conn, e)
        except ValueRefused:
            # The database refused an old value by a rule of its own: one by one, the others
            # are undone and the refused one is named.
            for e, _, _ in restores:
                self.person(e)
            return
        for (e, p, _), got in zip(restores, results, strict=True):
            if isinstance(got, str):
                self.report.count("undone")
            else:
                self.cannot({**e, "person_id": p.id}, str(got))


def undo(
    db: PersonsSide,
    run_id: str,
    *,
    options: RunOptions = DEFAULT_OPTIONS,
    on_event: OnEvent | None = None,
) -> RunReport:
    """Restore what run `run_id` changed, where the items have not changed since. Of `options`,
    undo heeds `dry_run` (check every entry and report what would be undone, writing nothing
    and taking no lease), `wait` (for the folder's lease), and the mass-change guard (`yes`,
    `max_share`: undoing more than that share of the contacts in the folder or of the Persons
    asks first, a `GuardQuestion` to `on_event`, and unanswered raises MassChangeRefused),
    `chunk` (entries per chunk of writes) and `crash_after` (the crash tests' kill point).
    `on_event` hears `Progress` (first `done` 0 of the entries' `total`, then each chunk or
    entry), the folder's `Waiting` and `Finished`. A run undone already is not undone again:
    the report names the undo run, no run is made."""
    tell = on_event or ignore
    started = time.perf_counter()
    info = get_run(db.engine, run_id)
    if info.command == "undo":
        raise UsageError(
            f"run {run_id} is an undo; it cannot be undone",
            hint="run the export or import again to redo its changes",
        )
    earlier = undone_by(db.engine, [run_id]).get(run_id)
    if earlier is not None:
        report = RunReport(earlier, "undo", info.folder, run_id)
        report.warnings.append(f"run {run_id} is already undone (by run {earlier})")
        return report
    todo = list(reversed(entries(db.engine, run_id)))
    if options.dry_run:
        report = RunReport("", "undo", info.folder, run_id)
        _walk(_Undo(db, run_id, info.folder, None, report, tell), todo, tell, options.chunk)
        report.duration = time.perf_counter() - started
        return report
    run = new_run_id()
    # An undo writes to the folder: it holds the folder's lease like any run (sync/lease.py).
    with held(db.engine, info.folder, run, wait=options.wait):
        worker = _Undo(
            db, run_id, info.folder, None, RunReport("", "undo", info.folder, run_id), tell
        )
        try:
            _guard(worker, todo, options, tell)
        finally:
            worker.close()
        journal = Journal(db.engine, "undo", info.folder, view=run_id, run_id=run)
        report = RunReport(journal.run_id, "undo", info.folder, run_id)
        worker = _Undo(db, run_id, info.folder, journal, report, tell, options.crash_after)
        _walk(worker, todo, tell, options.chunk)
        report.duration = time.perf_counter() - started
        journal.finish(report.status, report.counts, report.problems())
        tell(Finished(report, report.duration))
        return report


def _writes(todo: list[dict[str, Any]], side: str) -> int:
    return sum(
        1 for e in todo if e["state"] == "done" and e["action"] != "link" and e["side"] == side
    )


def _guard(worker: _Undo, todo: list[dict[str, Any]], options: RunOptions, tell: OnEvent) -> None:
    """The mass-change guard, for an undo: its writes against the sides as they are now."""
    contacts, persons = _writes(todo, "contact"), _writes(todo, "person")
    doing = f"undoing run {worker.run_id} would change"
    try:
        if contacts:
            size = sum(1 for _ in worker.store().list_items())
            check_share(contacts, size, f"contacts in {worker.folder}", options.max_share, doing)
        if persons:
            check_share(persons, worker.db.count(), "Persons", options.max_share, doing)
    except MassChangeRefused as exc:
        if not options.yes and tell(GuardQuestion(exc.message)) is not True:
            raise


def _plain_person(e: dict[str, Any]) -> bool:
    """A Person the run created or updated (undone by `_Undo.persons`, in chunks)."""
    return e["side"] == "person" and e["state"] == "done" and e["action"] in ("create", "update")


def _walk(
    worker: _Undo, todo: list[dict[str, Any]], tell: OnEvent, size: int = DEFAULT_CHUNK
) -> None:
    """Undo `todo` (the run's entries, newest first). Person and contact writes go in chunks
    (`_Undo.persons`, `undo_contacts`) of up to `size`: consecutive entries of one side, no two
    of one Person or contact in a chunk, so each is undone in the journal's order; the rest one
    by one."""
    total = len(todo)
    worker.made = {
        (e["after"] or {}).get("person_id", e["person_id"]): str((e["after"] or {}).get("version"))
        for e in todo
        if _plain_person(e) and e["action"] == "create"
    }
    tell(Progress(0, 0, total))
    done = 0
    chunk: list[dict[str, Any]] = []
    keys: set[object] = set()

    def flush() -> None:
        nonlocal done
        if chunk:
            if chunk[0]["side"] == "person":
                worker.persons(chunk)
            else:
                undo_contacts(worker, chunk)
            done += len(chunk)
            tell(Progress(len(chunk), done, total))
            chunk.clear()
            keys.clear()

    try:
        for e in todo:
            if _plain_person(e) or plain_contact(e):
                key = (
                    ("person", (e["after"] or {}).get("person_id", e["person_id"]))
                    if e["side"] == "person"
                    else ("contact", item_of(e))
                )
                if key in keys or len(chunk) >= size or (chunk and chunk[0]["side"] != e["side"]):
                    flush()  # entries of one Person or contact stay in the journal's order
                chunk.append(e)
                keys.add(key)
                continue
            flush()
            if e["action"] == "delete" and e["side"] == "contact" and e["state"] != "failed":
                # Also a delete the run journaled but did not record (killed between the two):
                # a contact that is gone is made again; one still there was never deleted.
                worker.recreate_contact(e)
            elif e["action"] == "delete" and e["state"] == "done":
                worker.restore_person(e)
            elif e["action"] == "move" and e["state"] in ("done", "intent"):
                undo_move(worker, e)  # a `link` that moved the Person's link (link_move.py)
            elif e["action"] == "link" and e["state"] == "done" and worker.journal is not None:
                with worker.engine.begin() as conn:
                    Links.forget(conn, e["folder"], [e["item_id"]])
            done += 1
            tell(Progress(1, done, total))
        flush()
    finally:
        worker.close()
