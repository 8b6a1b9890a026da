"""`link P ITEM` of a Person linked to another contact OLD of the folder: the link MOVES.

One journal entry, `move` (side contact), names OLD; its `before` holds what the move takes away:
OLD's link row, its Customer ID and version (None: OLD was gone), the Person's
contact_manager_id, and the other contacts that carried the Person's id then (a copy): what
`undo` needs to give the old link back exactly. It is committed with the new contact's intent
before any write; then OLD's Customer ID is cleared (only if it carries the Person's id: a
user's other value is left and named), then, in one transaction, the entry is settled and OLD's
link row dropped. Killed between the clear and that transaction, the entry stays an intent and
the link row is still there: `undo_move` puts the Customer ID back.

Undone newest first, the new contact (whose entry says `links`) is given back and its link ended
before the move is: the old link comes back only if the Person has no link now, OLD has no
other, OLD is as the run left it, and no contact carries the Person's id that did not before
(else the Person would have two contacts); otherwise it is named, not undone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select

from personsync.errors import PersonsyncError
from personsync.model import Contact, Person
from personsync.stores.base import ContactStore, get_one
from personsync.sync.crash import Checkpoints
from personsync.sync.journal import Entry, Journal
from personsync.sync.links import Links, normalise_folder, set_ignored
from personsync.sync.links import now as now_
from personsync.sync.report import RunReport
from personsync.sync.tables import sync_links

if TYPE_CHECKING:
    from personsync.sync.persons_side import PersonsSide
    from personsync.sync.undo import _Undo


class Move:
    """Person `person`'s link, taken from the contact of link row `row` by a `link` run."""

    def __init__(
        self,
        db: PersonsSide,
        store: ContactStore,
        journal: Journal,
        person: Person,
        row: dict[str, Any],
        to: str,
    ) -> None:
        self.db, self.store, self.journal, self.person = db, store, journal, person
        self.row, self.to = row, to
        self.item_id = str(row["item_id"])
        self.old: Contact | None = get_one(store, self.item_id)
        cid = str(person.id)
        self.carriers = sorted(
            c.item_id for c in store.find_by_customer_id(cid) if c.item_id != self.item_id
        )

    @property
    def clears(self) -> bool:
        return self.old is not None and self.old.customer_id == str(self.person.id)

    def entry(self) -> Entry:
        old = self.old
        before = {
            # None: OLD carried the Person's id with no link row (`carrier`): none comes back.
            "link": None
            if self.row.get("unlinked")
            else {k: self.row[k] for k in ("item_version", "person_version", "baseline")},
            "customer_id": None if old is None else old.customer_id,
            "version": None if old is None else old.version,
            "contact_manager_id": self.person.contact_manager_id,
            "carriers": self.carriers,
            "to": self.to,
        }
        return Entry("contact", "move", self.item_id, self.person.id, before)

    def apply(self, seq: int, report: RunReport, checkpoint: Checkpoints) -> None:
        """Clear OLD's Customer ID (if it carries the Person's id), then settle the entry and
        drop OLD's link row in one transaction (`checkpoint`: the crash tests' kill points)."""
        after: dict[str, Any] = {"item_id": self.item_id}
        if self.old is not None and self.clears:
            try:
                ref = self.store.update(self.old, replace(self.old, customer_id=""))
            except PersonsyncError as exc:
                with self.db.engine.begin() as conn:
                    self.journal.settle(conn, [(seq, "failed", None, str(exc))])
                raise
            after["version"] = ref.version
        checkpoint()
        with self.db.engine.begin() as conn:
            self.journal.settle(conn, [(seq, "done", after, None)])
            Links.forget(conn, self.journal.folder, [self.item_id])
            if self.old is not None:
                # A contact of no one now, with the Person's values: made a Person by the next
                # sync, it was a second one of them. Left alone, as `unlink --ignore` leaves it.
                set_ignored(self.db.engine, self.journal.folder, self.item_id, True, conn=conn)
        checkpoint()
        report.count("unlink")
        report.warnings.append(self.said())

    def said(self) -> str:
        pid, old, moved = self.person.id, self.item_id, f"moved to contact {self.to}"
        if self.old is None:
            return f"contact {old} is no longer in the folder: Person {pid}'s link {moved}"
        alone = f"runs leave contact {old} alone (`link PERSON {old}` pairs it again)"
        if self.clears:
            return (
                f"contact {old}'s Customer ID {pid} was cleared: Person {pid}'s link {moved}; "
                f"{alone}"
            )
        cid = self.old.customer_id
        carries = f"carries Customer ID {cid}" if cid else "carries no Customer ID"
        return (
            f"contact {old} {carries}, not Person {pid}'s: left as it is; "
            f"Person {pid}'s link {moved}; {alone}"
        )


def undo_move(worker: _Undo, e: dict[str, Any]) -> None:
    """Give the link a `move` entry took back to its contact (see the module doc)."""
    before, after = e["before"] or {}, e["after"] or {}
    pid, iid, folder = int(e["person_id"]), str(e["item_id"]), str(e["folder"])
    links = Links(worker.engine, folder)
    now = get_one(worker.store(), iid)
    was = before.get("customer_id")
    if e["state"] == "intent":
        # Killed before the entry was settled: the link row is still there; the Customer ID
        # was cleared if OLD carries none now and was written since.
        if (
            links.owner(iid) == pid
            and now is not None
            and was == str(pid)
            and not now.customer_id
            and now.version != before.get("version")
        ):
            worker.write(e, "restore", {"version": now.version}, _give_back(worker, now, was))
        return
    why = _why_not(worker, e, now, links)
    if why:
        worker.cannot(e, why)
        return
    cleared = "version" in after and now is not None

    def put_back() -> dict[str, Any]:
        if cleared:
            assert now is not None and was is not None
            return _give_back(worker, now, was)()
        return {"item_id": iid}

    def relink(conn: Connection, _: Any) -> None:
        # The row as it was (its baseline too: the next sync compares with it, as before).
        if before.get("link") is not None:
            row = {**before["link"], "person_id": pid, "item_id": iid, "synced_at": now_()}
            Links.save(conn, folder, [row])
        set_ignored(worker.engine, folder, iid, False, conn=conn)  # the move left it alone
        person = worker.db.get_many([pid], times=False).get(pid)
        if person is not None and person.contact_manager_id in (None, "", before.get("to")):
            worker.db.set_contact_manager_ids([(pid, before.get("contact_manager_id"))], conn=conn)

    state = {"version": now.version} if now is not None else None
    worker.write(e, "restore", state, put_back, link=relink)


def _why_not(worker: _Undo, e: dict[str, Any], now: Contact | None, links: Links) -> str:
    """Why the old link cannot come back ("" if it can). A dry run has not given the new
    contact back (its own entry says whether it would be): it is taken to be."""
    before, after = e["before"] or {}, e["after"] or {}
    pid, iid = int(e["person_id"]), str(e["item_id"])
    pending = {str(before.get("to"))} if worker.journal is None else set()
    linked = link_of(worker.engine, links.folder, pid)
    if linked is not None and linked["item_id"] not in pending:
        return f"Person {pid} is linked to contact {linked['item_id']} now"
    owner = links.owner(iid)
    if owner is not None:
        return f"the contact is linked to Person {owner} now"
    if "version" in after:
        if now is None:
            return "the contact is gone"
        if now.version != after["version"]:
            return "the contact changed after the run"
    carriers = set(before.get("carriers") or [])
    new = [c.item_id for c in worker.store().find_by_customer_id(str(pid)) if c.item_id != iid]
    others = sorted(set(new) - carriers - pending)
    if others:
        return f"contact {others[0]} carries Customer ID {pid} now"
    return ""


def carrier(
    store: ContactStore, links: Links, person_id: int, item_id: str
) -> dict[str, Any] | None:
    """For `link` of a Person with no link here: the one other contact that carries its
    Customer ID, linked to no one (the Person's contact by Customer ID: the next run would pair
    them again, e.g. after an undo killed mid-way gave the id back before the link), as a link
    row to move (`unlinked`). None when there is none, or several (copies: named decisions)."""
    found = [c for c in store.find_by_customer_id(str(person_id)) if c.item_id != item_id]
    if len(found) != 1 or links.owner(found[0].item_id) is not None:
        return None
    return {"item_id": found[0].item_id, "unlinked": True}


def link_of(engine: Engine, folder: str, person_id: int) -> dict[str, Any] | None:
    """Person `person_id`'s link row in `folder` (its baseline as text), or None."""
    t = sync_links
    cols = (t.c.person_id, t.c.item_id, t.c.item_version, t.c.person_version, t.c.baseline)
    query = select(*cols).where(t.c.folder == normalise_folder(folder), t.c.person_id == person_id)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else dict(row._mapping)


def _give_back(worker: _Undo, now: Contact, customer_id: str) -> Callable[[], dict[str, Any]]:
    def write() -> dict[str, Any]:
        ref = worker.store().update(now, replace(now, customer_id=customer_id))
        return {"item_id": ref.item_id, "version": ref.version}

    return write
