"""A no-op run that reads nothing: neither side changed since the folder's last quiet run.

A run is *quiet* when its plan has no action at all (nothing to write, nothing skipped, nothing
to decide) and it ended clean. It records, per folder (`sync_quiet`), what the run was (`key`: a
digest of the direction, the view and its definition, the folder's rules and the run's
policies, the store's options and this code's version) and the marks both sides had *before*
it read them: the Persons table's (`PersonsRepo.change_mark`: any insert, delete or change of a
Person changes it) and the folder's (`MarksChanges.change_mark`: for `vcf:`, every file's name,
version and ctime, as the listing the run then planned from). The next run of the same key that
finds the same two marks plans nothing without reading the links, the Persons' versions or
any contact: the planner would have got the same snapshot, and it is a pure function of it.

Why marks taken *before* the run read: a change made while a quiet run was reading changes the
marks after the ones recorded, so the next run sees marks that differ and reads everything.

What ends a record (the next run then takes the whole way, and records again if quiet):
- any write to the folder's links or to its contacts left alone (`sync/links.py`, in the same
  transaction: runs, `link`, `unlink`, `undo`, `resolve`, the web console's decisions);
- the start of every run of the folder that is not answered here, before it reads or writes
  anything: it leaves a claim in the record's place, which it turns into its own record at its
  end if quiet, unless a write to the links deleted the claim meanwhile (`unlink --ignore` and
  the web console's decisions take no lease);
- a different key (another view, view definition, rule, policy, option or personsync version).
A store without a change mark (Graph, CardDAV, CSV for now), a run of some Persons only
(`only_persons`), a store that mended a half-made write, or a folder with a file written within
`vcf_folder.RACY_MS` of the run (its mark is not to be trusted yet) is always read in full.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select, update

from personsync import __version__
from personsync.fields import FIELD_NAMES
from personsync.persons import ALL_PERSONS
from personsync.stores.base import ContactStore, change_mark
from personsync.sync.links import end_quiet, normalise_folder, now
from personsync.sync.merge import Choices
from personsync.sync.options import RunOptions
from personsync.sync.plan import Plan
from personsync.sync.tables import sync_quiet

if TYPE_CHECKING:
    from personsync.sync.persons_side import PersonsSide

# Bump when a plan comes to depend on something the key and the marks do not show.
FORMAT = 1
_SIZES = ("unchanged", "folder_size", "persons_size", "links", "persons_seen")


@dataclass(frozen=True)
class Marks:
    """A run's key and the marks of both sides before it read them."""

    key: str
    persons: str
    folder: str


def take_marks(
    db: PersonsSide,
    store: ContactStore,
    direction: str,
    view: str | None,
    choices: Choices,
    options: RunOptions,
) -> Marks | None:
    """The marks of this run, or None when this run is to be read in full whatever they are."""
    if options.only_persons is not None:
        return None
    folder = change_mark(store)
    if folder is None:
        return None
    spec = db.get_view(view or ALL_PERSONS)
    what = (
        FORMAT,
        __version__,
        FIELD_NAMES,
        direction,
        normalise_folder(store.url),
        view or "",
        spec.filter,
        spec.sort,
        choices.policy,
        sorted(choices.fields.items()),
        sorted(choices.rules.items()),
        choices.recreate,
        choices.on_person_removed,
        choices.on_contact_deleted,
        choices.crm_alone_creates,
        choices.explicit,
        sorted(options.folder_options.items()),
    )
    key = hashlib.sha256(repr(what).encode()).hexdigest()
    return Marks(key, db.change_mark(), folder)


def unchanged_plan(
    engine: Engine, url: str, direction: str, view: str | None, marks: Marks
) -> Plan | None:
    """The empty plan of a run whose marks are those its folder's last quiet run recorded; None
    when they differ (or no quiet run is on record)."""
    t = sync_quiet
    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.folder == normalise_folder(url))).first()
    if row is None or (row.run_key, row.persons_mark, row.folder_mark) != (
        marks.key,
        marks.persons,
        marks.folder,
    ):
        return None
    sizes = json.loads(row.plan)
    when = row.saved_at.strftime("%Y-%m-%d %H:%M") if row.saved_at else "?"
    return Plan(
        direction,  # type: ignore[arg-type]  # the key holds the direction
        url,
        view or "",
        (),
        int(sizes["unchanged"]),
        folder_size=int(sizes["folder_size"]),
        persons_size=int(sizes["persons_size"]),
        links=int(sizes["links"]),
        persons_seen=int(sizes["persons_seen"]),
        unread=f"neither side changed since run {row.run_id} ({when} UTC): nothing was read",
    )


def claim(engine: Engine, url: str, run_id: str) -> None:
    """End the folder's record and put a claim of this run in its place (matching no key):
    a run that is not answered here does so before it reads or writes anything. Any write to
    the folder's links after this deletes the claim (`links.end_quiet`), and `remember` then
    records nothing: the run's reading may predate that write."""
    with engine.begin() as conn:
        end_quiet(conn, normalise_folder(url))
        conn.execute(
            sync_quiet.insert().values(
                folder=normalise_folder(url),
                run_key="",
                persons_mark="",
                folder_mark="",
                plan="{}",
                run_id=run_id,
                saved_at=now(),
            )
        )


def remember(engine: Engine, url: str, marks: Marks, plan: Plan, run_id: str) -> None:
    """Record a quiet run in place of its claim, if the claim is still there: its key, the
    marks it started from, its plan's sizes."""
    t = sync_quiet
    sizes = json.dumps({name: getattr(plan, name) for name in _SIZES})
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.c.folder == normalise_folder(url), t.c.run_id == run_id, t.c.run_key == "")
            .values(
                run_key=marks.key,
                persons_mark=marks.persons,
                folder_mark=marks.folder,
                plan=sizes,
                saved_at=now(),
            )
        )
