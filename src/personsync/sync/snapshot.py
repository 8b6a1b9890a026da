"""What the planner decides from: the two sides and the links, as plain data.

The planner is pure; the code that *takes* a snapshot (`engine.py`) decides what is worth reading,
with the same `in_step` rule the planner uses: a pair whose item version and Person version both
equal the link's is skipped without reading either side, which is what makes a no-op run cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from personsync.model import Contact, Person, Record
from personsync.stores.base import ReadProblem
from personsync.sync.links import LinkRow


@dataclass(frozen=True)
class FolderSnapshot:
    url: str
    listing: Mapping[str, str]  # every item id → version
    contacts: Mapping[str, Contact]  # the items that were read
    problems: Sequence[ReadProblem] = ()
    unsupported: frozenset[str] = frozenset()  # fields the store cannot hold
    # Linked contacts missing from the listing that the store found in another folder (item
    # id → where, "graph:Contacts/Old"), and those it did not search for (its bound per run).
    moved: Mapping[str, str] = field(default_factory=dict)
    unsearched: frozenset[str] = frozenset()


K = TypeVar("K", int, str)


class _Versioned(Protocol):
    @property
    def version(self) -> str: ...


class ReadVersions(Mapping[K, str]):
    """A listing of versions (a view's Persons', a folder's items') most of whose Persons or
    items were read: a read one's version from the Person or contact itself, only the others'
    held here. Why: a first sync reads every Person of the view and every contact, and a dict
    of their 100,000 versions beside the dict of those read was 5 MB (Persons) and 4 MB
    (contacts) of its peak. Equal to the listing it stands for, in its order: one read at a
    version other than the one listed (changed in between) keeps the listed one here.

    `read` must hold nothing the listing does not (`held_by`); neither may change after."""

    __slots__ = ("_listed", "_read", "_rest")

    def __init__(self, listed: Mapping[K, str], read: Mapping[K, _Versioned]) -> None:
        # Only the order of the listing is kept (its keys: the very objects those read hold).
        self._listed: list[K] = list(listed)
        self._read: Mapping[K, _Versioned] = read
        self._rest: dict[K, str] = {
            key: version
            for key, version in listed.items()
            if (got := read.get(key)) is None or got.version is not version
        }

    def __getitem__(self, key: K) -> str:
        version = self._rest.get(key)
        if version is None:
            version = self._read[key].version
        return version

    def get(self, key: K, default: Any = None) -> Any:  # (in C where it can: no KeyError)
        version = self._rest.get(key)
        if version is not None:
            return version
        got = self._read.get(key)
        return default if got is None else got.version

    def __contains__(self, key: object) -> bool:
        return key in self._read or key in self._rest

    def __iter__(self) -> Iterator[K]:
        return iter(self._listed)

    def __len__(self) -> int:
        return len(self._listed)


def held_by(listed: dict[K, str], read: Mapping[K, _Versioned]) -> Mapping[K, str]:
    """`listed`, or a `ReadVersions` of it when most of it was read (and nothing else was):
    fewer read, the dict costs less than the list of the listing's order does, and answers in
    C (a no-op run, a 1 % one read few)."""
    if len(read) * 2 > len(listed) and read.keys() <= listed.keys():
        return ReadVersions(listed, read)
    return listed


@dataclass(frozen=True)
class PersonsSnapshot:
    versions: Mapping[int, str]  # export: the view's Persons; import: every Person
    persons: Mapping[int, Person]  # the Persons that were read
    total: int = 0  # Persons in the table
    view: str = ""


@dataclass(frozen=True, slots=True)
class ContactDeleted:
    """A Person's contact that a run deleted because the Person was removed from its view."""

    run_id: str
    why: str  # "left the view", or "deleted" (from the CRM)
    view: str  # the run's view


@dataclass(frozen=True)
class Snapshot:
    folder: FolderSnapshot
    persons: PersonsSnapshot
    links: Mapping[int, LinkRow]  # person id → its link in this folder
    # import: item id → the Person an interrupted run created for it (see journal.recover)
    recovered: Mapping[str, int] = field(default_factory=dict)
    # person id → its link's baseline (the values both sides last agreed on), for the linked
    # pairs that were read: the three-way field plan goes by it (sync/merge.py)
    baselines: Mapping[int, Record] = field(default_factory=dict)
    # export, sync: linked Persons not among the view's → why ("deleted" from the CRM, or
    # "left the view"); only for links not handled before (see `settled_gone`)
    removed: Mapping[int, str] = field(default_factory=dict)
    # sync: contacts an earlier run named as not made into Persons (the CRM alone creates)
    noted: frozenset[str] = frozenset()
    # sync: Persons outside the view and unlinked here, named by an unlinked contact's
    # Customer ID, whose contact in this folder a run deleted because they were removed from
    # its view (journal.contacts_deleted): their copies are decisions, never paired again
    deleted_contacts: Mapping[int, ContactDeleted] = field(default_factory=dict)


# A link's version of a side that was deleted and kept so (plan.KeepDeleted): a tombstone.
GONE = "-deleted-"
# The item version of a link whose contact was moved to another folder (plan.Moved): kept so,
# like a deleted one, but never re-created here (not even with --recreate).
MOVED = "-moved-"
# The Person version of a link whose Person left the view and was kept (plan.LeftView), or whose
# contact was tagged (plan.TagContact): *dormant*, left alone by every run until the Person is in
# a run's view again.
LEFT = "-left-view-"
TAGGED = "-tagged-"
DORMANT = (LEFT, TAGGED)


def dormant(link: LinkRow | None) -> bool:
    return link is not None and link.person_version in DORMANT


def import_skips(link: LinkRow | None, listing: Mapping[str, str]) -> bool:
    """Whether an import leaves a dormant pair alone. A Person who left an export's view (or a
    two-way run's) still has its contact: an edit of that contact reaches the CRM by import,
    which covers every contact. A contact tagged as no longer synced stays left alone (its tag
    is this tool's note, not the user's value)."""
    if link is None or not dormant(link):
        return False
    return link.person_version != LEFT or listing.get(link.item_id) == link.item_version


def settled_gone(link: LinkRow) -> bool:
    """A link whose deleted, moved or removed side an earlier run handled already."""
    return (
        link.item_version in (GONE, MOVED)
        or link.person_version == GONE
        or link.person_version in DORMANT
    )


def in_step(
    link: LinkRow | None,
    listing: Mapping[str, str],
    versions: Mapping[int, str],
    recreate: bool = False,
) -> bool:
    """Both sides are as they were when they last agreed: nothing to read, nothing to do."""
    if link is None or link.item_version == "":
        return False
    if (
        listing.get(link.item_id) == link.item_version
        and versions.get(link.person_id) == link.person_version
    ):
        return True  # the common case first (a marker never equals a listed version)
    if link.item_version in (GONE, MOVED):
        # A tombstone of a deleted (or moved) contact: in step while it stays gone and the
        # Person as it was, unless the run re-creates deleted contacts.
        return (
            (not recreate or link.item_version == MOVED)
            and link.item_id not in listing
            and versions.get(link.person_id) == link.person_version
        )
    if link.person_version in DORMANT:
        # The Person left the view (export, sync): left alone while it stays out of it.
        return link.person_id not in versions
    if link.person_version == GONE:
        # A tombstone of a deleted Person: in step while the contact is as it was.
        return listing.get(link.item_id) == link.item_version and link.person_id not in versions
    return False


def persons_out_of_step(
    links: Mapping[int, LinkRow],
    listing: Mapping[str, str],
    versions: Mapping[int, str],
    recreate: bool = False,
) -> list[int]:
    """The Persons of `versions` whose pair is not `in_step`: what an export or sync must read.
    The common case of a no-op run (a link with both versions as they are) is answered here
    without a call per Person (a tenth of a no-op export of 100,000); every other case goes to
    `in_step` itself, so the answer is the same."""
    out = []
    for pid, version in versions.items():
        link = links.get(pid)
        if (
            link is not None
            and link.person_version == version
            and listing.get(link.item_id, GONE) == link.item_version
            and link.item_version != ""
            and link.item_version != GONE
        ):
            continue  # in step: both sides as the link recorded them (in_step's first case)
        if not in_step(link, listing, versions, recreate):
            out.append(pid)
    return out


def named_outside(
    free: Iterable[Contact | None],
    view: Mapping[int, str],
    links: Mapping[int, LinkRow],
    persons: Mapping[int, Person],
) -> set[int]:
    """The Persons read that unlinked contacts' Customer IDs name, outside the view and
    unlinked here: those a two-way run would pair by Customer ID outside its view. Of these
    the snapshot asks the journal which had their contact here deleted (`deleted_contacts`):
    a few, or none, not every Person (never on a no-op run, which reads no unlinked contact)."""
    return {
        pid
        for c in free
        if c is not None
        and c.customer_id.isdigit()
        and (pid := int(c.customer_id)) not in view
        and pid not in links
        and pid in persons
    }
