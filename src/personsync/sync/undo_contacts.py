"""Undo's contacts side in chunks: the contacts a run created (deleted again) or updated
(given back what it overwrote), each only where it still has the version the run left it with.

Per chunk of up to 500 entries, as the executor writes a run's contacts: the chunk's contacts
are read in one call (a Graph batch, one pass over a vCard folder), the undo's intents are
journaled in one commit before any write, the updates go to the folder in one `update_many`
(deletes one by one: a store has no batch delete), and then the outcomes, the links (ended,
marked stale, or dormant for an undone tag) and the Persons' hidden links go in one
transaction. A write the folder refuses is named and the others proceed (`update_many` has a
result per contact). Until 2026-12-06 each contact was three commits and a read of its own.

Killed between the intents and the outcomes (kill -9, power cut), a chunk's contacts are
written or not, and the undo run is left "running" (the folder's next run marks it
interrupted): an undo of the same run then finds those written changed since the run and
leaves them as they are (restored already), and restores the rest. The links of the written
ones keep the run's item versions, so the next sync or export reads those pairs again.

A contact the run created that a person deleted since has nothing left to delete: its link
ends all the same (`_end_gone`), as the create's undo would have ended it, so the next export
makes its Person a contact again, as it would have before the run.

Undo never splits a pair it cannot undo whole: the Customer ID a run wrote back to the contact
it made a Person of is one pair with that create. Either side edited since (the contact
unreadable, its write refused), both are kept and named once (`_Undo.keep_pair`); undone alone,
the next sync made a second Person and a second contact (issue #12). A contact that no longer
carries the Customer ID (an undo killed mid-way gave it back) is no pair: its Person goes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from personsync.errors import PersonsyncError
from personsync.model import Contact
from personsync.persons.bulk import each_by_key
from personsync.stores.base import ItemRef, ReadProblem
from personsync.sync.apply import Outcome
from personsync.sync.engine import look_elsewhere
from personsync.sync.journal import Entry, get_run
from personsync.sync.links import LinkRow, Links
from personsync.sync.snapshot import GONE, LEFT, TAGGED
from personsync.sync.tables import sync_links
from personsync.sync.values import record_from_dict, written_json

if TYPE_CHECKING:
    from personsync.sync.undo import _Undo

Entry_ = dict[str, Any]  # a journal entry of the run being undone
# An entry, its contact now, the contact to write back, and whether that ends the link (the
# run wrote the Customer ID: it made the link).
Restore = tuple[Entry_, Contact, Contact, bool]


def plain_contact(e: Entry_) -> bool:
    """A contact the run created or updated (undone here, in chunks)."""
    return e["side"] == "contact" and e["state"] == "done" and e["action"] in ("create", "update")


def item_of(e: Entry_) -> str:
    """The contact an entry names (a created one: the id the store gave it)."""
    return str((e["after"] or {}).get("item_id") or e["item_id"])


def undo_contacts(worker: _Undo, es: Sequence[Entry_]) -> None:
    """`_Undo.contact` for a chunk of entries, no two of one contact."""
    ids = [item_of(e) for e in es]
    current: dict[str, Contact] = {}
    unreadable: dict[str, str] = {}
    for got in worker.store().get_many(ids):
        if isinstance(got, ReadProblem):
            unreadable[got.item_id] = str(got.error)
        else:
            current[got.item_id] = got
    deletes: list[tuple[Entry_, Contact]] = []
    restores: list[Restore] = []
    gone: list[Entry_] = []
    edited = _made_edited(worker, es)
    for e, iid in zip(es, ids, strict=True):
        found = current.get(iid)
        if iid in unreadable:
            _not_undone(worker, e, unreadable[iid])
        elif found is None and e["action"] == "create" and e["person_id"] is not None:
            gone.append(e)
        elif found is None:
            worker.cannot(e, "the contact is gone")  # its Person's create undoes alone: no pair
        elif found.version != (e["after"] or {}).get("version"):
            # Kept with its Person while it carries the Customer ID the run wrote: one an
            # undo killed mid-way gave back already is no longer a pair (the module's docstring).
            paired = found.customer_id == str(e["person_id"])
            _not_undone(worker, e, "the contact changed after the run", paired)
        elif e["person_id"] in edited:
            worker.keep_pair(
                e,
                f"Person {e['person_id']} was edited since run {worker.run_id}: kept, and so "
                "its contact keeps its Customer ID and link",
            )
        elif worker.journal is None:
            worker.report.count("would-undo")
        elif e["action"] == "create":
            deletes.append(({**e, "item_id": found.item_id}, found))
        else:
            before = e["before"] or {}
            # A Customer-ID-only write journals no record: the current one is kept.
            record = before.get("record")
            old = replace(
                found,
                record=found.record if record is None else record_from_dict(record),
                customer_id=before.get("customer_id", ""),
            )
            if (taken := _carried_elsewhere(worker, e, old, found)) is not None:
                worker.cannot(e, f"contact {taken} carries Customer ID {old.customer_id} now")
                continue
            ends = old.customer_id != found.customer_id or bool(before.get("links"))
            restores.append((e, found, old, ends))
    if deletes:
        _delete(worker, deletes)
    if restores:
        _restore(worker, restores)
    if gone:
        _end_gone(worker, gone)


def _writes_back(worker: _Undo, e: Entry_) -> bool:
    """Whether `e` is the write-back of a Person the run created to the contact it was made
    from (its Customer ID): one pair with the create, undone whole or not at all."""
    return e["action"] == "update" and e["person_id"] in worker.made


def _made_edited(worker: _Undo, es: Sequence[Entry_]) -> set[int]:
    """The Persons the run created, of the write-backs among `es`, that are there and edited
    since the run: kept by `_Undo.persons`, and so their contacts are too. (One that is gone
    has nothing left to keep: its contact is given back as it was before the run.)"""
    pids = [e["person_id"] for e in es if _writes_back(worker, e)]
    there = worker.db.get_many(pids, times=False) if pids else {}
    return {pid for pid, p in there.items() if p.version != worker.made[pid]}


def _not_undone(worker: _Undo, e: Entry_, why: str, paired: bool = True) -> None:
    """`e` is not undone (`why`); a write-back whose contact is still `paired` (carries the
    Customer ID, or is unread) keeps its Person too (`_Undo.keep_pair`)."""
    if paired and _writes_back(worker, e):
        worker.keep_pair(
            e, f"{why}: kept, and so is Person {e['person_id']}, made from it by the run"
        )
    else:
        worker.cannot(e, why)


def _carried_elsewhere(worker: _Undo, e: Entry_, old: Contact, found: Contact) -> str | None:
    """For an undone `unlink`, or `link` of a contact another Person had: another contact that
    carries the Customer ID the undo would give back to `found` (a run gave that Person a new
    contact since): written back, the Person would have two contacts. Its id, or None. Not for
    other runs: a copied contact a "create new" made a Person of carried its original's
    Customer ID before the run, and gets it back. A "create new" is journaled as a `link` run
    too: a `link`'s own write is told by its entry's `links` (the run made that link). Rare (a
    manual run's one or two writes), so a look-up each is fine."""
    cid = old.customer_id
    if not cid or cid == found.customer_id:
        return None
    command = get_run(worker.engine, worker.run_id).command
    linked = command == "link" and bool((e["before"] or {}).get("links"))
    if command != "unlink" and not linked:
        return None
    # Those that carried it beside this one when the run read it (copies) are no new owner.
    then = {found.item_id, *((e["before"] or {}).get("carriers") or [])}
    others = (c for c in worker.store().find_by_customer_id(cid) if c.item_id not in then)
    return next((c.item_id for c in others), None)


def _delete(worker: _Undo, deletes: Sequence[tuple[Entry_, Contact]]) -> None:
    """Contacts the run created, deleted (each only if unchanged: the store checks)."""
    assert worker.journal is not None
    seqs = worker.journal.intents(
        Entry(
            "contact",
            "delete",
            c.item_id,
            e["person_id"],
            {"version": c.version, "customer_id": c.customer_id},
        )
        for e, c in deletes
    )
    worker.checkpoint()
    results: list[ItemRef | PersonsyncError] = []
    outcomes: list[Outcome] = []
    done: list[tuple[Entry_, Contact]] = []
    for (e, c), seq in zip(deletes, seqs, strict=True):
        ref = ItemRef(c.item_id, c.version)
        try:
            worker.store().delete(ref)
        except PersonsyncError as exc:
            results.append(exc)
            outcomes.append((seq, "failed", None, str(exc)))
        else:
            results.append(ref)
            outcomes.append((seq, "done", {"deleted": c.item_id}, None))
            done.append((e, c))

    def links(conn: Connection) -> None:
        Links.forget(conn, worker.folder, [c.item_id for _, c in done])

    unlinked = [(e["person_id"], c.item_id) for e, c in done if e["person_id"] is not None]
    _record(worker, outcomes, links, unlinked)
    _report(worker, [e for e, _ in deletes], results)


def _end_gone(worker: _Undo, gone: Sequence[Entry_]) -> None:
    """Contacts the run created that are gone from the folder since (a person deleted them;
    perhaps a later run already named them deleted and kept a tombstone link): nothing to
    delete, but the link ends and the Person no longer names the contact, in one transaction
    with a journal entry each, as the undone create's delete would have done them. The next
    export then makes the Person a contact again, as it would have before the run; with the
    link kept (until 2026-12-06) no run re-created it without --recreate. Not for a contact
    the store finds in another folder (`graph:`, `carddav:`: moved, not deleted, so ending its
    link would make the Person a second contact), nor one it did not look for (its bound per
    run): those keep their link, and the next run names them moved or deleted."""
    rows = [LinkRow(e["person_id"], item_of(e), "", "") for e in gone]
    # The same look as a run's (a contact linked in another folder is that folder's own).
    moved, unsearched = look_elsewhere(worker.engine, worker.store(), rows, {})
    ends: list[Entry_] = []
    for e in gone:
        iid = item_of(e)
        if iid in moved:
            worker.cannot(e, f"the contact was moved to the folder {moved[iid]}")
        elif iid in unsearched:
            worker.cannot(e, "the contact is gone (not looked for in other folders)")
        elif worker.journal is None:
            worker.report.count("would-undo")
        else:
            ends.append(e)
    if not ends:
        return
    journal = worker.journal
    assert journal is not None
    cleared = _cleared(worker, [(e["person_id"], item_of(e)) for e in ends])
    with worker.engine.begin() as conn:
        journal.done(
            conn,
            (Entry("contact", "unlink", item_of(e), e["person_id"], None) for e in ends),
            ({"unlinked": item_of(e)} for e in ends),
        )
        Links.forget(conn, worker.folder, [item_of(e) for e in ends])
        worker.db.set_contact_manager_ids(cleared, conn=conn)
    for e in ends:
        worker.report.count("undone")
        worker.report.warnings.append(
            f"contact {item_of(e)} was deleted since run {worker.run_id}: the link to Person "
            f"{e['person_id']} ended, so the next export makes the Person a contact again"
        )


def _restore(worker: _Undo, restores: Sequence[Restore]) -> None:
    """Contacts the run updated, given back what it overwrote, in one batch write (the store
    refuses each one changed since it was read here)."""
    assert worker.journal is not None
    seqs = worker.journal.intents(
        Entry(e["side"], "restore", e["item_id"], e["person_id"], {"version": c.version})
        for e, c, _, _ in restores
    )
    worker.checkpoint()
    results: list[ItemRef | PersonsyncError]
    try:
        results = list(worker.store().update_many([(c, old) for _, c, old, _ in restores]))
    except PersonsyncError as exc:  # the whole batch failed (the folder went away, ...)
        results = [exc] * len(restores)
    outcomes: list[Outcome] = [
        (seq, "done", written_json(got.item_id, got.version), None)
        if isinstance(got, ItemRef)
        else (seq, "failed", None, str(got))
        for seq, got in zip(seqs, results, strict=True)
    ]
    done = [(r, got) for r, got in zip(restores, results, strict=True) if isinstance(got, ItemRef)]
    tagged = _tagged(worker, [r[0] for r, _ in done])
    # An undone tag: the link as `keep` would have left it (dormant while the Person is out of
    # the view, a tombstone if it was deleted), not stale, so that undone stays undone: marked
    # stale, the next tag run tagged the contact again.
    there = worker.db.get_many([pid for pid, _ in tagged], times=False) if tagged else {}

    def links(conn: Connection) -> None:
        ended = [e["item_id"] for (e, _, _, unlinks), _ in done if unlinks]
        Links.forget(conn, worker.folder, ended)
        kept = [(e, got) for (e, _, _, unlinks), got in done if not unlinks]
        untagged = [(e, got) for e, got in kept if (e["person_id"], e["item_id"]) in tagged]
        stale = [e for e, got in kept if (e["person_id"], e["item_id"]) not in tagged]
        Links.mark_stale(conn, worker.folder, [e["item_id"] for e in stale])
        Links.set_versions(
            conn,
            worker.folder,
            [
                (e["person_id"], got.version, LEFT if e["person_id"] in there else GONE)
                for e, got in untagged
            ],
        )
        for e in stale:
            agreed_again(conn, e)

    unlinked = [
        (e["person_id"], c.item_id)
        for (e, c, _, unlinks), _ in done
        if unlinks and e["person_id"] is not None
    ]
    _record(worker, outcomes, links, unlinked)
    _report(worker, [r[0] for r in restores], results)


def _tagged(worker: _Undo, es: Sequence[Entry_]) -> set[tuple[int, str]]:
    """(Person, contact) of those of `es` whose link is dormant `TAGGED` (a tag the run wrote),
    read by Person (a look-up each in the unique index of (Person, folder), whatever the
    statistics)."""
    pids = sorted({e["person_id"] for e in es if e["person_id"] is not None})
    if not pids:
        return set()
    t = sync_links
    query = select(t.c.person_id, t.c.item_id).where(
        t.c.folder == worker.folder, t.c.person_version == TAGGED
    )
    with worker.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            rows = conn.execute(each_by_key(query, t.c.person_id), {"keys": pids}).all()
        else:
            rows = conn.execute(query.where(t.c.person_id.in_(pids))).all()
    return {(int(pid), str(iid)) for pid, iid in rows}


def _record(
    worker: _Undo,
    outcomes: Sequence[Outcome],
    links: Callable[[Connection], None],
    unlinked: Sequence[tuple[int, str]],
) -> None:
    """A chunk's outcomes, its links (`links(conn)`) and the hidden links it ends (those of
    `unlinked`, (Person, contact), whose Person still names the contact), in one
    transaction."""
    assert worker.journal is not None
    worker.checkpoint()
    cleared = _cleared(worker, unlinked)
    with worker.engine.begin() as conn:
        worker.journal.settle(conn, outcomes)
        links(conn)
        worker.db.set_contact_manager_ids(cleared, conn=conn)
    worker.checkpoint()


def _cleared(worker: _Undo, unlinked: Sequence[tuple[int, str]]) -> list[tuple[int, None]]:
    """Of (Person, contact) pairs, those whose Person still names the contact (its
    `contact_manager_id`, the hidden link), to be cleared."""
    pids = [pid for pid, _ in unlinked]
    named = worker.db.get_many(pids, times=False) if pids else {}
    return [
        (pid, None)
        for pid, iid in unlinked
        if (p := named.get(pid)) is not None and p.contact_manager_id == iid
    ]


def agreed_again(conn: Connection, e: Entry_) -> None:
    """An undone write that settled a conflict: its link's baseline of those fields as it was
    before (the journal's `agreed`), so the next sync names the conflict again."""
    was = (e["before"] or {}).get("agreed")
    if was and e["item_id"]:
        Links.restore_agreed(conn, e["folder"], e["item_id"], was)


def _report(
    worker: _Undo, es: Sequence[Entry_], results: Sequence[ItemRef | PersonsyncError]
) -> None:
    for e, got in zip(es, results, strict=True):
        if isinstance(got, ItemRef):
            worker.report.count("undone")
        else:
            _not_undone(worker, e, str(got))
