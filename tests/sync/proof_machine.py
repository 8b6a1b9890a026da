"""The engine's Hypothesis state machine on a real Persons database (SQLite or PostgreSQL) and a
real contact folder (`memory:`, `vcf:`, `csv:`), shared by the suite's short profile
(tests/sync/test_sync_state_machine.py) and the long one (`make proof`,
bench/state_machine_long.py).

Steps: a person's edits on both sides (new, edited, deleted and copied records; Persons moving in
and out of the view "Members"), a folder's field rules, and export / import / sync runs with
random conflict policies, view, `--recreate`, delete policies (a Person removed: keep, tag,
delete; a contact deleted: keep, propagate) and "the CRM alone creates". A run on a file folder
may be killed with SIGKILL (as `kill -9`) at a random point: it runs in a forked child process
that kills itself at its N-th executor checkpoint (after a chunk's intents, after its write,
after its outcomes), or right after planning; the same command is then run again, as a person
or cron would.

After every step:
- **nothing duplicated**: a Customer ID is on one contact, plus the copies the user made of it;
  no contact ever had two Persons created for it (the journal), no contact has two links;
After every run (a killed run together with the run that finished its work):
- **no value lost silently**: every value a run changed on either side, and every record it
  deleted, is in the journal (the `before` of its entry); a value a run overwrote that was not
  the one both sides last agreed on (an edit since the last sync; on a two-way sync's first
  pairing, any non-empty value) is named in a conflict entry of the run's record (`runs show`),
  kept from the other side;
- **a second identical run plans nothing**;
- **both sides agree** after a run on every field of every pair it covered (a two-way sync and an
  export: the view's; an import: every contact's), except the fields its rules keep apart (not
  synced; the other way only; never blank out; fill only if empty), the conflicts it lists as
  decisions, and the records it skipped.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import MetaData, delete, func, select

import killed_run
from personsync.errors import MassChangeRefused
from personsync.model import Contact, Person, Record, Value, same
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.stores.base import ContactStore, ItemRef, read_all
from personsync.sync import engine
from personsync.sync.events import OnEvent
from personsync.sync.links import Links, normalise_folder
from personsync.sync.merge import DEFAULT_RULE, EMAILS, FieldRule
from personsync.sync.options import RunOptions
from personsync.sync.plan import without_tag
from personsync.sync.report import UNSETTLED
from personsync.sync.settings import load_settings, set_rule
from personsync.sync.snapshot import LEFT, TAGGED
from personsync.sync.tables import sync_journal, sync_links, sync_runs
from personsync.sync.values import loads, record_from_dict, value_to_json

VIEW = "Members"
AWAY = "Away"  # business_city of a Person outside the view
VIEW_FILTER = f'not business_city = "{AWAY}"'
CHUNK = 2  # small chunks: many kill points in a small folder

VALUES: dict[str, list[str]] = {
    "job_title": ["", "X", "Y z"],
    "company": ["", "Acme", "Beta"],
    "notes": ["", "one", "two\nlines"],
    "email2": ["", "w@x.org", "v@x.org"],
}
RULE_FIELDS = [*sorted(VALUES), "email1", "business_city"]
EDITS = st.sampled_from(sorted(VALUES)).flatmap(
    lambda f: st.tuples(st.just(f), st.sampled_from(VALUES[f]))
)
RECORDS = st.builds(
    Record,
    first_name=st.sampled_from(["Ann", "Bob", "Cy"]),
    last_name=st.sampled_from(["Lee", "Ray", "Ōno"]),
    email1=st.sampled_from(["", "a@x.org", "b@x.org", "c@x.org"]),
    company=st.sampled_from(["", "Acme", "Beta"]),
    business_city=st.sampled_from(["", "Berlin", AWAY]),
)
MODES = st.sampled_from(["export", "import", "sync"])
POLICIES = st.sampled_from([None, "crm", "outlook", "newest", "skip"])
RULES = st.builds(
    FieldRule,
    flow=st.sampled_from(["both", "to-outlook", "to-crm", "none"]),
    never_blank=st.sampled_from([None, True, False]),
    fill_only_if_empty=st.booleans(),
)


@dataclass(frozen=True)
class Run:
    """One run's options, as a person gives them."""

    mode: str
    policy: str | None = None
    view: str | None = None
    recreate: bool = False
    removed: str | None = None  # a Person deleted or gone from the view: keep, tag, delete
    deleted: str | None = None  # a contact deleted in the folder: keep, propagate
    crm_alone_creates: bool | None = None

    def options(self, **more: Any) -> RunOptions:
        return RunOptions(
            on_conflict=self.policy,  # type: ignore[arg-type]
            recreate=self.recreate,
            on_person_removed=self.removed,  # type: ignore[arg-type]
            on_contact_deleted=self.deleted,  # type: ignore[arg-type]
            crm_alone_creates=self.crm_alone_creates,
            **more,
        )


def run_engine(
    db: PersonsDB, folder: str, run: Run, on_event: OnEvent | None = None, **more: Any
) -> engine.Outcome:
    """The engine's library call with these options (the one place the tests spell it)."""
    return engine.run(
        db, folder, run.mode, view=run.view, options=run.options(**more), on_event=on_event
    )


def run_killed(db: PersonsDB, db_url: str, folder: str, run: Run, point: int) -> bool:
    """`run` in a child process killed at `point` (see killed_run); True if it was killed."""
    options = run.options(yes=True, chunk=CHUNK)
    return killed_run.run_killed(db, db_url, folder, run.mode, options, point, run.view)


# --- the two sides as they are --------------------------------------------------------------------
@contextmanager
def opened(folder: str, create: bool = False) -> Iterator[ContactStore]:
    store = open_folder(folder, create=create)
    try:
        yield store
    finally:
        store.close()


def contacts_of(folder: str) -> dict[str, Contact]:
    with opened(folder) as store:
        return {c.item_id: c for c in read_all(store) if isinstance(c, Contact)}


@dataclass
class State:
    persons: dict[int, Person]
    contacts: dict[str, Contact]
    links: dict[int, str]  # person id → item id
    baselines: dict[int, Record]
    tagged: set[int]  # Persons whose link is dormant because the run tagged their contact
    # Persons whose link is dormant because they left the view (`keep`: unlinked, docs/sync.md's
    # delete table; the link stays only so the next run does not re-create the contact)
    left: set[int] = field(default_factory=set)


def email_set(record: Record) -> set[str]:
    return {v.casefold() for v in (getattr(record, f) for f in EMAILS) if v}


def reset(db: PersonsDB) -> None:
    """Every table emptied (faster than a new database per example); the view made again."""
    tables = MetaData()
    tables.reflect(db.engine)
    with db.engine.begin() as conn:
        for table in reversed(tables.sorted_tables):
            if table.name != "alembic_version":
                conn.execute(delete(table))
    db.create_view(VIEW, VIEW_FILTER)


class Proof(RuleBasedStateMachine):
    def __init__(self, db: PersonsDB, db_url: str, folder: str) -> None:
        super().__init__()
        self.db, self.db_url, self.folder = db, db_url, folder
        reset(self.db)
        self.killable = not self.folder.startswith("memory:")
        with opened(self.folder, create=True) as store:
            self.unsupported = store.capabilities.unsupported_fields
            self.url = normalise_folder(store.url)
        self.added: set[int] = set()  # Persons the user added
        self.copied: set[str] = set()  # contacts the user made as copies of others
        # Contacts the user unlinked from their Person (`unlink` without --ignore): each may
        # become one more Person at a later run, as docs/sync.md says.
        self.unlinked: Counter[str] = Counter()
        self.seen_runs: set[str] = set()
        # A run's id → the links' baselines just before it (for an undo of it: the values both
        # sides agreed before the run, those a settled conflict's undo must give back).
        self.bases_before: dict[str, dict[int, Record]] = {}

    # --- the user's edits --------------------------------------------------------------------
    @rule(record=RECORDS)
    def add_person(self, record: Record) -> None:
        self.added.add(self.db.add(record).id)

    @rule(record=RECORDS)
    def add_contact(self, record: Record) -> None:
        with opened(self.folder) as store:
            store.create(Contact(record))

    @rule(index=st.integers(0, 50), edit=EDITS)
    def edit_person(self, index: int, edit: tuple[str, str]) -> None:
        if pid := self._person(index):
            self.db.update(pid, {edit[0]: edit[1]})

    @rule(index=st.integers(0, 50), edit=EDITS)
    def edit_contact(self, index: int, edit: tuple[str, str]) -> None:
        with opened(self.folder) as store:
            if c := self._contact(store, index):
                store.update(c, replace(c, record=c.record.replace({edit[0]: edit[1]})))

    @rule(index=st.integers(0, 50), field=st.sampled_from(sorted(VALUES)), data=st.data())
    def edit_both_sides(self, index: int, field: str, data: st.DataObject) -> None:
        """A Person and the contact linked to it edited in the same field (a conflict)."""
        links = Links(self.db.engine, self.url).load()
        pid = self._person(index)
        if pid is None or pid not in links:
            return
        crm, outlook = data.draw(st.permutations(VALUES[field]))[:2]
        with opened(self.folder) as store:
            contact = next(
                (
                    c
                    for c in read_all(store)
                    if isinstance(c, Contact) and c.item_id == links[pid].item_id
                ),
                None,
            )
            if contact is None:
                return
            store.update(contact, replace(contact, record=contact.record.replace({field: outlook})))
        self.db.update(pid, {field: crm})

    @rule(index=st.integers(0, 50))
    def move_person_across_the_view(self, index: int) -> None:
        if pid := self._person(index):
            away = self.db.get(pid).record.business_city == AWAY
            self.db.update(pid, {"business_city": "Berlin" if away else AWAY})

    @rule(index=st.integers(0, 50))
    def delete_person(self, index: int) -> None:
        if pid := self._person(index):
            self.db.delete(pid)

    @rule(index=st.integers(0, 50))
    def delete_contact(self, index: int) -> None:
        with opened(self.folder) as store:
            if c := self._contact(store, index):
                store.delete(ItemRef(c.item_id, c.version))

    @rule(index=st.integers(0, 50))
    def copy_contact(self, index: int) -> None:
        with opened(self.folder) as store:
            if c := self._contact(store, index):
                self.copied.add(store.create(replace(c, item_id="")).item_id)

    @rule(field=st.sampled_from(RULE_FIELDS), rule_=RULES)
    def set_field_rule(self, field: str, rule_: FieldRule) -> None:
        set_rule(
            self.db.engine,
            self.folder,
            field,
            flow=rule_.flow,
            never_blank=rule_.never_blank,
            fill_only_if_empty=rule_.fill_only_if_empty,
        )

    def _person(self, index: int) -> int | None:
        ids = sorted(self.db.versions(None))
        return ids[index % len(ids)] if ids else None

    def _contact(self, store: ContactStore, index: int) -> Contact | None:
        found = sorted(
            (c for c in read_all(store) if isinstance(c, Contact)), key=lambda c: c.item_id
        )
        return found[index % len(found)] if found else None

    # --- runs ----------------------------------------------------------------------------------
    @rule(
        mode=MODES,
        policy=POLICIES,
        in_view=st.booleans(),
        recreate=st.booleans(),
        kill=st.none() | st.integers(0, 6),
        removed=st.sampled_from([None, "keep", "tag", "delete"]),
        deleted=st.sampled_from([None, "keep", "propagate"]),
        crm_alone=st.sampled_from([None, False, True]),
    )
    def run(
        self,
        mode: str,
        policy: str | None,
        in_view: bool,
        recreate: bool,
        kill: int | None,
        removed: str | None,
        deleted: str | None,
        crm_alone: bool | None,
    ) -> None:
        """A run, killed at checkpoint `kill` (on a file folder) and then run again."""
        view = VIEW if in_view else None
        run = Run(mode, policy, view, recreate, removed, deleted, crm_alone)
        self._runs(run, kill_at=kill if self.killable else None)

    @rule(kill=st.none() | st.integers(0, 6))
    def sync_again(self, kill: int | None) -> None:
        """The unattended case: a plain two-way sync of every Person."""
        self._runs(Run("sync"), kill_at=kill if self.killable else None)

    def _runs(
        self, run: Run, kill_at: int | None, bases: dict[int, dict[str, Value]] | None = None
    ) -> None:
        """`run` (killed first at `kill_at`), then the invariants of a run. `bases`: baseline
        values the run must treat as the agreed ones (an undo gave them back)."""
        before = self.state()
        for pid, values in (bases or {}).items():
            if pid in before.baselines:
                before.baselines[pid] = before.baselines[pid].replace(values)
        if kill_at is not None and run_killed(self.db, self.db_url, self.folder, run, kill_at):
            self.nothing_duplicated()  # even half-way
        try:
            outcome = run_engine(self.db, self.folder, run, yes=True, chunk=CHUNK)
        except MassChangeRefused:
            return  # an emptied side: nothing propagated, nothing to check
        report = outcome.report
        assert report is not None and not report.errors, report.errors
        after = self.state()
        runs = self.new_runs()
        self.bases_before.update(dict.fromkeys(runs, before.baselines))
        self.no_value_lost_silently(before, after, runs, run)
        self.both_sides_agree(after, report.to_dict(), run)
        again = run_engine(self.db, self.folder, run, dry_run=True)
        assert again.plan.changes() == 0, again.plan.to_dict()

    # --- invariants ----------------------------------------------------------------------------
    @invariant()
    def nothing_duplicated(self) -> None:
        found = contacts_of(self.folder)
        by_cid = Counter(c.customer_id for c in found.values() if c.customer_id)
        copies = Counter(
            c.customer_id for i, c in found.items() if c.customer_id and i in self.copied
        )
        for cid, n in by_cid.items():
            assert n - copies[cid] <= 1, f"Customer ID {cid} on {n} contacts ({copies[cid]} copies)"
        j, links = sync_journal, sync_links
        with self.db.engine.connect() as conn:
            made_of = conn.execute(
                select(j.c.item_id, j.c.person_id).where(
                    j.c.side == "person", j.c.action == "create", j.c.state == "done"
                )
            ).all()
            linked_twice = conn.execute(
                select(links.c.item_id, func.count())
                .where(links.c.folder == self.url)
                .group_by(links.c.item_id)
                .having(func.count() > 1)
            ).all()
            made = {pid for _, pid in made_of}
        # A Person the engine made comes from a contact of this folder, journaled in the
        # transaction that made it: one contact, one Person.
        unknown = set(self.db.versions(None)) - self.added - made
        assert not unknown, f"Persons made by no journaled run: {sorted(unknown)}"
        # A contact the engine made a Person of is one Person (an undo may have deleted it and a
        # later run made it again), or one more per time the user unlinked it.
        there = set(self.db.versions(None))
        persons_made = Counter(item for item, pid in made_of if pid in there)
        twice = {i: n for i, n in persons_made.items() if n > 1 + self.unlinked[i]}
        assert not twice, f"a contact became two Persons: {twice}"
        assert not linked_twice, f"a contact linked to two Persons: {linked_twice}"

    def state(self) -> State:
        rows = Links(self.db.engine, self.url).load().values()
        links = {link.person_id: link.item_id for link in rows}
        return State(
            {p.id: p for p in self.db.iter_persons(None)},
            contacts_of(self.folder),
            links,
            Links(self.db.engine, self.url).baselines(links),
            {link.person_id for link in rows if link.person_version == TAGGED},
            {link.person_id for link in rows if link.person_version == LEFT},
        )

    def new_runs(self) -> dict[str, dict[str, Any]]:
        """The runs since the last look: id → their conflict entries and journal."""
        r, j = sync_runs, sync_journal
        out: dict[str, dict[str, Any]] = {}
        with self.db.engine.connect() as conn:
            for run_id, problems in conn.execute(select(r.c.id, r.c.problems)).all():
                if run_id not in self.seen_runs:
                    out[run_id] = {
                        "conflicts": [p for p in loads(problems) if p["kind"] == "conflict"],
                        "journal": [],
                    }
            if out:
                query = select(
                    j.c.run_id, j.c.side, j.c.action, j.c.item_id, j.c.person_id, j.c.before
                ).where(j.c.run_id.in_(list(out)))
                for row in conn.execute(query).all():
                    out[row.run_id]["journal"].append(row)
        self.seen_runs |= set(out)
        return out

    def no_value_lost_silently(
        self, before: State, after: State, runs: dict[str, dict[str, Any]], run: Run
    ) -> None:
        conflicts = [c for r in runs.values() for c in r["conflicts"]]
        journal = [e for r in runs.values() for e in r["journal"]]
        # A record the run deleted (a policy: delete, propagate) is journaled whole.
        deleted = {
            (e.side, e.item_id if e.side == "contact" else e.person_id)
            for e in journal
            if e.action == "delete"
        }
        for item in set(before.contacts) - set(after.contacts):
            assert ("contact", item) in deleted, f"contact {item} gone, not journaled"
        for pid in set(before.persons) - set(after.persons):
            assert ("person", pid) in deleted, f"Person {pid} gone, not journaled"
        for pid, item in after.links.items():
            person0, contact0 = before.persons.get(pid), before.contacts.get(item)
            person1, contact1 = after.persons.get(pid), after.contacts.get(item)
            if before.links.get(pid) == item:
                base = before.baselines.get(pid)
            elif run.mode == "sync":
                base = Record()  # first pairing, two-way: any value it overwrites is named
            else:
                base = None  # first pairing, one way: the source's values, by design
            sides = (
                ("crm", person0 and person0.record, person1 and person1.record),
                ("outlook", contact0 and contact0.record, contact1 and contact1.record),
            )
            for side, old, new in sides:
                if old is None or new is None or old == new:
                    continue
                for name in self._changed(old, new):
                    self._journaled(journal, side, pid, item, name, getattr(old, name))
                    was = old
                    tagged = pid in before.tagged and before.links.get(pid) == item
                    if side == "outlook" and contact0 is not None and tagged:
                        # The engine's own "Removed from CRM", taken off a Person back in the
                        # view (docs/sync.md's delete table): not a value of the user's.
                        was = without_tag(contact0).record
                    if base is not None and self._lost(name, was, new, base):
                        self._named(conflicts, pid, name, side, old)

    def _changed(self, old: Record, new: Record) -> list[str]:
        return [
            f
            for f in type(old).__dataclass_fields__
            if f not in self.unsupported and not same(f, getattr(old, f), getattr(new, f))
        ]

    @staticmethod
    def _lost(name: str, old: Record, new: Record, base: Record) -> bool:
        """Whether `old`'s value of `name` was an edit the run overwrote (not the agreed one)."""
        if name in EMAILS:
            # Merged as a set, in any slot: lost is an address neither agreed nor kept.
            return bool(email_set(old) - email_set(new) - email_set(base))
        if name == "categories":
            return bool(set(old.categories) - set(new.categories) - set(base.categories))
        return not same(name, getattr(old, name), getattr(base, name))

    @staticmethod
    def _journaled(
        journal: list[Any], side: str, pid: int, item: str, name: str, old: Value
    ) -> None:
        for e in journal:
            data = loads(e.before) or {}
            if (
                side == "outlook"
                and e.side == "contact"
                and e.item_id == item
                and "record" in data
                and same(name, getattr(record_from_dict(data["record"]), name), old)
            ):
                return
            if side == "crm" and e.side == "person" and e.person_id == pid:
                changes = data.get("changes", {})
                if name in changes and changes[name] == value_to_json(old):
                    return
        raise AssertionError(
            f"{side} {name}={old!r} of Person {pid} / {item} changed, not journaled"
        )

    @staticmethod
    def _named(
        conflicts: list[dict[str, Any]], pid: int, name: str, side: str, old: Record
    ) -> None:
        group = EMAILS if name in EMAILS else (name,)
        other = "outlook" if side == "crm" else "crm"
        for c in conflicts:
            if c["person_id"] == pid and c["field"] in group and c["kept"] == other:
                return
        raise AssertionError(
            f"{side} {name}={getattr(old, name)!r} of Person {pid} overwritten, named in no "
            f"conflict: {conflicts}"
        )

    def both_sides_agree(self, after: State, report: dict[str, Any], run: Run) -> None:
        rules = load_settings(self.db.engine, self.folder).rules
        left = {(c["person_id"], c["field"]) for c in report["conflicts"] if c["kept"] == UNSETTLED}
        skipped = {s.get("person_id") for s in report["skipped"]} | {
            s.get("item_id") for s in report["skipped"]
        }
        in_view = set(self.db.versions(None if run.mode == "import" else run.view))
        for pid, item in after.links.items():
            person, contact = after.persons.get(pid), after.contacts.get(item)
            if person is None or contact is None or pid not in in_view or pid in after.left:
                continue  # a tombstone, a Person the run did not cover, or left the view
            if pid in after.tagged and run.mode == "import":
                # Dormant, its contact tagged "Removed from CRM": an import leaves it alone
                # (docs/sync.md: a tag never becomes the Person's); a view's run that covers
                # the Person untags it (checked: it is no longer tagged after such a run).
                continue
            if pid in skipped or item in skipped:
                continue
            base = after.baselines.get(pid, Record())
            for name in self._changed(person.record, contact.record):
                c, o = getattr(person.record, name), getattr(contact.record, name)
                rule = rules.get(name, DEFAULT_RULE)
                group = EMAILS if name in EMAILS else (name,)
                if any((pid, f) in left for f in group):
                    continue  # a conflict listed as a decision
                if any(
                    self._barred(
                        f,
                        getattr(person.record, f),
                        getattr(contact.record, f),
                        getattr(base, f),
                        rules.get(f, DEFAULT_RULE),
                        run.mode,
                    )
                    for f in (group if run.mode == "sync" else (name,))
                ) or (
                    run.mode == "sync"
                    and name in EMAILS
                    and self._group_barred(person.record, contact.record, base, rules)
                ):
                    # A sync's e-mail slots go into a side together or not at all
                    # (docs/sync.md): one slot barred keeps the group as it is.
                    continue
                raise AssertionError(
                    f"after a {run.mode}, Person {pid} and {item} differ in {name}: {c!r} / {o!r} "
                    f"(rule {rule}); report {report}"
                )

    @staticmethod
    def _group_barred(
        crm: Record, outlook: Record, base: Record, rules: dict[str, FieldRule]
    ) -> bool:
        """Whether a side's rule refuses the merged e-mails (docs/sync.md's set merge,
        `(c ∪ o) − ((b − c) ∪ (b − o))`): an address of that side the merge drops is a
        blank-out of its slot, e.g. the CRM's address replaced in Outlook, under the default
        "never blank out" into the CRM."""
        c, o, b = email_set(crm), email_set(outlook), email_set(base)
        merged = (c | o) - ((b - c) | (b - o))
        for record, into_crm in ((crm, True), (outlook, False)):
            for f in EMAILS:
                old = getattr(record, f)
                dropped = old and old.strip().casefold() not in merged
                if dropped and rules.get(f, DEFAULT_RULE).refuses(f, into_crm, "", old):
                    return True
        return False

    @staticmethod
    def _barred(name: str, c: Value, o: Value, b: Value, rule: FieldRule, mode: str) -> bool:
        """Whether the folder's rule bars the arrow the run had to follow (an export's into
        Outlook, an import's into the CRM; a sync's from the side changed since the baseline)
        and the field stays as it is on both sides: "never blank out", "fill only if empty",
        a direction. A sync merges e-mails and categories as a group: barred if either arrow
        is (a refused slot leaves the group as it is)."""
        if mode == "export":
            return rule.flow == "to-crm" or rule.refuses(name, False, c, o)
        if mode == "import":
            return rule.flow == "to-outlook" or rule.refuses(name, True, o, c)
        if name in EMAILS or name == "categories":
            return rule.refuses(name, True, o, c) or rule.refuses(name, False, c, o)
        if rule.flow == "none":
            return True  # not synced: neither arrow, whichever side changed
        if same(name, c, b):
            return rule.refuses(name, True, o, c)  # changed in Outlook: o → CRM
        if same(name, o, b):
            return rule.refuses(name, False, c, o)  # changed in the CRM: c → Outlook
        return False  # changed on both sides: only a listed conflict may stay


def folders(kind: str, root: Path) -> Callable[[], str]:
    """A new folder of this kind for each example."""

    def new() -> str:
        name = uuid.uuid4().hex[:10]
        return {
            "memory": f"memory:proof-{name}",
            "vcf": f"vcf:{root / name}",
            "csv": f"csv:{root / name}.csv",
        }[kind]

    return new
