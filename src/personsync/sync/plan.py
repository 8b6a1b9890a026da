"""A plan: what a run will do, as data. Computed by `planner` with no I/O, applied by `apply`.

Each action carries everything the executor needs to make its write (the contact as read, with
its version, so an update fails cleanly if the item changed meanwhile) and everything a person
needs to judge it (who, which fields, old → new).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

from personsync.model import Contact, Record, Value, diff
from personsync.sync.merge import Conflict
from personsync.sync.policies import TAG
from personsync.sync.values import value_to_json

Direction = Literal["export", "import", "sync"]
Changes = tuple[tuple[str, Value, Value], ...]  # (field, old, new)


@dataclass(frozen=True, slots=True)
class CreateContact:
    """Export: a Person without a contact gets one (Customer ID set in the same write)."""

    kind: ClassVar[str] = "create-contact"
    person_id: int
    person_version: str
    contact: Contact
    name: str = ""


@dataclass(frozen=True, slots=True)
class UpdateContact:
    """Export: make the contact's mapped fields match the Person's."""

    kind: ClassVar[str] = "update-contact"
    person_id: int
    person_version: str
    old: Contact
    new: Contact
    changes: Changes
    link: str = ""  # how the link was found when it is being made now ("" = already linked)
    name: str = ""
    # Three-way (sync/merge.py): the fields named (overwritten edits, conflicts), the agreed
    # values when they are not the written record, and False when a field was left different
    # (the link is then stale, so the next run reads the pair again and decides the same).
    conflicts: tuple[Conflict, ...] = ()
    baseline: Record | None = None
    settled: bool = True
    # Two-way, a pair written on both sides: the baseline to record instead should the
    # Person's half be refused (a constraint of the CRM, not a stale version): the fields the
    # Person was to take keep the values agreed before, so the link claims no agreement the CRM
    # never made and the next run offers them to the CRM again (`_sync_pair`).
    alone: Record | None = None


@dataclass(frozen=True, slots=True)
class CreatePerson:
    """Import: a contact with no Person gets one; its Customer ID is written back afterwards."""

    kind: ClassVar[str] = "create-person"
    contact: Contact
    record: Record

    @property
    def name(self) -> str:
        # Made when asked (a report, a dry run), not held: the names of an import's 100,000 new
        # Persons were 8 MB of its peak memory.
        return self.record.display_name


@dataclass(frozen=True, slots=True)
class UpdatePerson:
    """Import: make the Person's mapped fields match the contact's."""

    kind: ClassVar[str] = "update-person"
    person_id: int
    person_version: str
    contact: Contact
    record: Record  # the Person's record after the update: the new baseline
    changes: Changes
    link: str = ""
    name: str = ""
    # Three-way (sync/merge.py): the fields named (overwritten edits, conflicts), the agreed
    # values when they are not the written record, and False when a field was left different
    # (the link is then stale, so the next run reads the pair again and decides the same).
    conflicts: tuple[Conflict, ...] = ()
    baseline: Record | None = None
    settled: bool = True


@dataclass(frozen=True, slots=True)
class Link:
    """Both sides already agree: only the link is made (Customer ID written if missing)."""

    kind: ClassVar[str] = "link"
    person_id: int
    person_version: str
    contact: Contact
    record: Record  # the agreed values: the baseline
    link: str
    # The pair's name when it is not the agreed record's own ("" = the record's): held only then,
    # made when asked otherwise (a first sync's 100,000 Links held 8 MB of names).
    other_name: str = ""
    # Three-way (sync/merge.py): the fields named (overwritten edits, conflicts), the agreed
    # values when they are not the written record, and False when a field was left different
    # (the link is then stale, so the next run reads the pair again and decides the same).
    conflicts: tuple[Conflict, ...] = ()
    baseline: Record | None = None
    settled: bool = True

    @classmethod
    def named(
        cls,
        person_id: int,
        person_version: str,
        contact: Contact,
        record: Record,
        link: str,
        name: str,
        **three: Any,
    ) -> Link:
        """A Link shown under `name`, which it holds only when `record`'s own name differs."""
        other = "" if name == record.display_name else name
        return cls(person_id, person_version, contact, record, link, other, **three)

    @property
    def name(self) -> str:
        return self.other_name or self.record.display_name


@dataclass(frozen=True, slots=True)
class Refresh:
    """An item or Person was touched but nothing mapped differs: only the link's versions move."""

    kind: ClassVar[str] = "refresh"
    person_id: int
    person_version: str
    contact: Contact
    record: Record
    # Three-way (sync/merge.py): the fields named (overwritten edits, conflicts), the agreed
    # values when they are not the written record, and False when a field was left different
    # (the link is then stale, so the next run reads the pair again and decides the same).
    conflicts: tuple[Conflict, ...] = ()
    baseline: Record | None = None
    settled: bool = True
    # Who, for the plan and report, when the pair has conflicts to name ("" otherwise: a first
    # sync refreshes 100,000 pairs, and a name each would be 100,000 strings made for nothing).
    name: str = ""


@dataclass(frozen=True, slots=True)
class KeepDeleted:
    """One side of a link was deleted (`side`: the contact in the folder, or the Person in the
    CRM); the other stays as it is. The link becomes a tombstone, so no later run re-creates
    the deleted one (export `--recreate` does)."""

    kind: ClassVar[str] = "keep-deleted"
    side: str  # contact | person: the one that was deleted
    person_id: int
    person_version: str  # the Person's ("" when the Person is the one deleted)
    item_id: str
    item_version: str  # the contact's ("" when the contact is the one deleted)
    name: str = ""
    mark: str = "-deleted-"  # the deleted side's version in the link (snapshot.GONE, MOVED)
    # A tombstone of an earlier run whose other side changed: only its version moves (not
    # named again, not counted by the guard, counted as unchanged).
    again: bool = False

    @property
    def reason(self) -> str:
        if self.side == "contact" and self.mark != "-deleted-":
            return "its contact was moved to another folder: the Person stays"
        if self.side == "contact":
            return (
                "its contact was deleted in the folder: the Person stays "
                "(--recreate brings it back)"
            )
        return f"its Person {self.person_id} was deleted in the CRM: the contact stays"


def without_tag(contact: Contact) -> Contact:
    """The contact as if it had never been tagged "Removed from CRM" (`policies.TAG`)."""
    kept = tuple(c for c in contact.record.categories if c.casefold() != TAG.casefold())
    return replace(contact, record=contact.record.replace({"categories": kept}))


REMOVED_WHY = {
    "deleted": "was deleted from the CRM",
    "left the view": "left the view",
}


@dataclass(frozen=True, slots=True)
class LeftView:
    """Export, sync (`--on-person-removed keep`): a linked Person left the view; the contact stays
    as it is and the link goes dormant (`snapshot.LEFT`): no run touches the pair until the
    Person is in a run's view again."""

    kind: ClassVar[str] = "left-view"
    person_id: int
    item_id: str
    item_version: str
    name: str = ""

    @property
    def reason(self) -> str:
        return f"its Person {self.person_id} left the view: the contact stays, unlinked"


@dataclass(frozen=True, slots=True)
class TagContact:
    """Export, sync (`--on-person-removed tag`): a linked Person was deleted from the CRM or left
    the view; its contact gets the Outlook category `policies.TAG` (`new`; equal to `old` when
    it has it already) and the link goes dormant (`snapshot.TAGGED`), so it is tagged once. A
    Person back in the view has the tag taken off by its pair's update."""

    kind: ClassVar[str] = "tag-contact"
    person_id: int
    why: str  # deleted | left the view
    old: Contact
    new: Contact
    baseline: Record  # the link's, kept for the day the Person comes back
    name: str = ""

    @property
    def item_id(self) -> str:
        return self.old.item_id

    @property
    def reason(self) -> str:
        return f"its Person {self.person_id} {REMOVED_WHY[self.why]}: the contact is tagged"


@dataclass(frozen=True, slots=True)
class DeleteContact:
    """Export, sync (`--on-person-removed delete`): a linked Person was deleted from the CRM or
    left the view; its contact is deleted (journaled whole: undo re-creates it, with the same
    Customer ID) and the link ends."""

    kind: ClassVar[str] = "delete-contact"
    person_id: int
    why: str  # deleted | left the view
    contact: Contact  # as read: deleted only if it still has this version
    name: str = ""

    @property
    def item_id(self) -> str:
        return self.contact.item_id

    @property
    def reason(self) -> str:
        return f"its Person {self.person_id} {REMOVED_WHY[self.why]}: the contact is deleted"


@dataclass(frozen=True, slots=True)
class DeletePerson:
    """`--on-contact-deleted propagate`: a linked contact was deleted in the folder, so its
    Person is deleted (only if it still has `person_version`; journaled whole: undo restores it
    with the same id, and its link)."""

    kind: ClassVar[str] = "delete-person"
    person_id: int
    person_version: str
    item_id: str
    name: str = ""

    @property
    def reason(self) -> str:
        return "its contact was deleted in the folder: the Person is deleted"


@dataclass(frozen=True, slots=True)
class Moved:
    """A linked contact is no longer in the folder but the store found it in another one (a
    person moved it): nothing is deleted or created, and the link ends as a tombstone
    (`snapshot.MOVED`), so no later run re-creates it here."""

    kind: ClassVar[str] = "moved"
    person_id: int
    person_version: str
    item_id: str
    where: str  # the folder it is in now
    name: str = ""

    @property
    def reason(self) -> str:
        return f"its contact was moved to the folder {self.where}: the link ends, nothing deleted"


@dataclass(frozen=True, slots=True)
class NotCreated:
    """Sync, when the folder's rules say the CRM alone creates: a new contact with no Person is
    named (once: the journal remembers it), and no Person is made for it."""

    kind: ClassVar[str] = "not-created"
    item_id: str
    item_version: str
    name: str = ""

    @property
    def reason(self) -> str:
        return (
            "a new contact in the folder; the CRM alone creates here, so no Person was made "
            "(`personsync link` pairs it with one)"
        )


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing is written for this record, for `reason` (an unreadable item, ...)."""

    kind: ClassVar[str] = "skip"
    reason: str
    name: str = ""
    item_id: str = ""
    person_id: int | None = None


@dataclass(frozen=True, slots=True)
class NeedsDecision:
    """Not guessed: a person decides with `personsync link` / `unlink`."""

    kind: ClassVar[str] = "decide"
    reason: str
    name: str = ""
    email: str = ""
    item_id: str = ""
    person_id: int | None = None
    candidates: tuple[str, ...] = ()


Action = (
    CreateContact
    | UpdateContact
    | CreatePerson
    | UpdatePerson
    | Link
    | Refresh
    | KeepDeleted
    | LeftView
    | TagContact
    | DeleteContact
    | DeletePerson
    | Moved
    | NotCreated
    | Skip
    | NeedsDecision
)
WRITES = (
    "create-contact",
    "update-contact",
    "create-person",
    "update-person",
    "link",
    "tag-contact",
    "delete-contact",
    "delete-person",
)
# What a run notes without writing either side (the link ends, or a contact is named once).
NOTED = ("keep-deleted", "left-view", "moved", "not-created")


@dataclass(frozen=True)
class Plan:
    direction: Direction
    folder: str
    view: str
    actions: tuple[Action, ...]
    unchanged: int = 0  # pairs skipped without reading: versions equal to the link's
    folder_size: int = 0  # items in the folder before the run
    persons_size: int = 0  # Persons in the table before the run
    links: int = 0  # links of this folder before the run (the emptied-side guard)
    persons_seen: int = 0  # Persons the run looked at (the view's; import: every Person)
    warnings: tuple[str, ...] = field(default=())
    # Why nothing was read, when the run found neither side changed since the folder's last
    # quiet run (sync/quiet.py); "" when the run read both sides.
    unread: str = ""
    # Two-way: Persons outside the run's view that its contacts half links (matched among every
    # Person). The view's runs leave such a pair alone (its link dormant, as for a Person who
    # left the view), so the next run does not take it for a Person who left.
    outside_view: frozenset[int] = frozenset()

    def counts(self) -> dict[str, int]:
        c = Counter(_counted(a) for a in self.actions)
        c["unchanged"] = self.unchanged + c.pop("refresh", 0)
        keys = (*WRITES, *NOTED, "skip", "decide", "unchanged")
        return {k: c.get(k, 0) for k in keys}

    def only(self, person_ids: Collection[int]) -> Plan:
        """This plan, with only the actions about these Persons."""
        wanted = set(person_ids)
        kept = tuple(a for a in self.actions if getattr(a, "person_id", None) in wanted)
        return replace(self, actions=kept, unchanged=0)

    def settling(self, person_ids: Collection[int]) -> Plan:
        """This plan for `resolve`: only the field writes of these Persons' pairs that were
        linked before the run, and the decisions and skips that name them. Any other write or
        note for one of them (a contact or a link to make, a delete or a tag, a link ended)
        means its pair was unlinked, deleted or moved since the conflict was listed: all that
        Person's actions are named as one skip and not done, because settling a field never
        makes, links or deletes anything (a `resolve` of a Person unlinked since made it a
        second contact). All of them: a new pairing written on both sides is an UpdatePerson
        that makes the link and an UpdateContact that does not say so."""
        wanted = set(person_ids)
        mine = [a for a in self.actions if getattr(a, "person_id", None) in wanted]
        unpaired: dict[int, Action] = {}
        for a in reversed(mine):  # (the first action of a Person ends up its skip)
            settles = isinstance(a, UpdateContact | UpdatePerson) and not a.link
            # A decision or a skip writes nothing (a copy of the Person's contact is named
            # beside the pair's own write, which still goes).
            if not (settles or isinstance(a, Refresh | NeedsDecision | Skip)):
                unpaired[getattr(a, "person_id", 0)] = a
        kept: list[Action] = []
        for a in mine:
            pid = getattr(a, "person_id", None)
            if pid not in unpaired:
                kept.append(a)
            elif unpaired[pid] is a:
                why = (
                    f"no linked pair to resolve: Person {pid} was unlinked, or its contact "
                    f"deleted or moved, since its conflict was listed (planned now: {a.kind}); "
                    "nothing written, the next sync decides it"
                )
                kept.append(Skip(why, a.name, item_of(a), pid))
        return replace(self, actions=tuple(kept), unchanged=0)

    def conflicts(self) -> list[tuple[Action, Conflict]]:
        """Every field named (overwritten edits and conflicts), with its pair's action."""
        return [(a, c) for a in self.actions for c in conflicts_of(a)]

    def changes(self) -> int:
        """How many writes the plan makes (links count: they write Customer IDs)."""
        return sum(1 for a in self.actions if a.kind in WRITES)

    def of(self, *kinds: str) -> list[Action]:
        return [a for a in self.actions if a.kind in kinds]

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "folder": self.folder,
            "view": self.view,
            "counts": self.counts(),
            "actions": [
                action_to_dict(a) for a in self.actions if a.kind != "refresh" or conflicts_of(a)
            ],
            "warnings": list(self.warnings),
            **({"unread": self.unread} if self.unread else {}),
        }


def _counted(a: Action) -> str:
    return "refresh" if isinstance(a, KeepDeleted) and a.again else a.kind


def conflicts_of(a: Action) -> tuple[Conflict, ...]:
    """The fields a pair's action names (none for creates, skips and decisions)."""
    if isinstance(a, UpdateContact | UpdatePerson | Link | Refresh):
        return a.conflicts
    return ()


def item_of(a: Action) -> str:
    """The contact an action is about ("" for one not made yet)."""
    if isinstance(a, UpdateContact):
        return a.old.item_id
    if isinstance(a, CreatePerson | UpdatePerson | Link | Refresh):
        return a.contact.item_id
    if isinstance(a, CreateContact):
        return ""
    return a.item_id


def action_to_dict(a: Action) -> dict[str, Any]:
    out: dict[str, Any] = {"action": a.kind}
    if isinstance(a, CreateContact):
        out |= {"person_id": a.person_id, "name": a.name}
        out["fields"] = {k: value_to_json(v) for k, v in a.contact.record.non_empty().items()}
    elif isinstance(a, CreatePerson):
        out |= {"item_id": a.contact.item_id, "name": a.name}
        out["fields"] = {k: value_to_json(v) for k, v in a.record.non_empty().items()}
    elif isinstance(a, UpdateContact | UpdatePerson):
        item = a.old.item_id if isinstance(a, UpdateContact) else a.contact.item_id
        out |= {"person_id": a.person_id, "item_id": item, "name": a.name, "link": a.link}
        out["changes"] = {f: [value_to_json(o), value_to_json(n)] for f, o, n in a.changes}
    elif isinstance(a, Link | Refresh):
        out |= {"person_id": a.person_id, "item_id": a.contact.item_id}
        if isinstance(a, Link):
            out |= {"name": a.name, "link": a.link}
        elif a.name:
            out["name"] = a.name
    elif isinstance(a, KeepDeleted | Skip | LeftView | DeleteContact | DeletePerson | Moved):
        out |= {"reason": a.reason, "name": a.name, "item_id": a.item_id, "person_id": a.person_id}
        if isinstance(a, DeleteContact):
            out["why"] = a.why
        if isinstance(a, Moved):
            out["moved_to"] = a.where
    elif isinstance(a, TagContact):
        out |= {"reason": a.reason, "name": a.name, "item_id": a.item_id, "person_id": a.person_id}
        out |= {"why": a.why, "tag": "categories" in diff(a.old.record, a.new.record)}
    elif isinstance(a, NotCreated):
        out |= {"reason": a.reason, "name": a.name, "item_id": a.item_id}
    else:
        out |= {
            "reason": a.reason,
            "name": a.name,
            "email": a.email,
            "item_id": a.item_id,
            "person_id": a.person_id,
            "candidates": list(a.candidates),
        }
    if conflicts_of(a):
        out["conflicts"] = [c.to_dict() for c in conflicts_of(a)]
    return out
