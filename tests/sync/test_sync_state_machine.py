"""A Hypothesis state machine over the one engine: random edits on both sides (including deletes,
copied contacts and new records) and random export / import / sync runs with random conflict
policies. After every run:

- no contact is duplicated by the engine (a Customer ID is on one contact, plus the copies the
  user made), and no Person is (at most one per Person added and per contact ever made);
- the same run again plans nothing;
- after a clean two-way sync (exit 0: no decision left) every linked pair agrees on every
  field, except an emptied company, e-mail or phone that "never blank out" kept in the CRM.

The CI profile is small (the in-memory store and the stand-in Persons database); the e2e and
crash tests cover the real stores and databases.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sync_fakes import FakePersonsDB

from personsync.errors import MassChangeRefused
from personsync.model import Contact, Record, diff, is_empty
from personsync.stores.base import ItemRef
from personsync.stores.memory import MemoryStore
from personsync.sync import engine
from personsync.sync.links import Links
from personsync.sync.merge import NEVER_BLANK_INTO_CRM
from personsync.sync.options import RunOptions

FIELDS = st.sampled_from(["job_title", "company", "notes", "email2"])
VALUES = st.sampled_from(["", "X", "Y z", "w@x.org"])
RECORDS = st.builds(
    Record,
    first_name=st.sampled_from(["Ann", "Bob", "Cy", "Dee"]),
    last_name=st.sampled_from(["Lee", "Ray", "Ōno"]),
    email1=st.sampled_from(["", "a@x.org", "b@x.org", "c@x.org"]),
    company=st.sampled_from(["", "Acme", "Beta"]),
)
MODES = st.sampled_from(["export", "import", "sync"])
POLICIES = st.sampled_from([None, "crm", "outlook", "skip"])
_names = itertools.count()


class Engine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        name = f"machine{next(_names)}"
        self.url = f"memory:{name}"
        self.store = MemoryStore.named(name)
        self.db = FakePersonsDB()
        self.made = 0  # Persons added and contacts ever made by the user
        self.copies: Counter[str] = Counter()

    # --- the user's edits -------------------------------------------------------------------
    @rule(record=RECORDS)
    def add_person(self, record: Record) -> None:
        self.db.add(record)
        self.made += 1

    @rule(record=RECORDS)
    def add_contact(self, record: Record) -> None:
        self.store.create(Contact(record))
        self.made += 1

    @precondition(lambda self: self.db.rows)
    @rule(index=st.integers(0, 50), field=FIELDS, value=VALUES)
    def edit_person(self, index: int, field: str, value: str) -> None:
        pid = sorted(self.db.rows)[index % len(self.db.rows)]
        self.db.update(pid, {field: value})

    @precondition(lambda self: self.store.items)
    @rule(index=st.integers(0, 50), field=FIELDS, value=VALUES)
    def edit_contact(self, index: int, field: str, value: str) -> None:
        c = self._contact(index)
        self.store.update(c, replace(c, record=c.record.replace({field: value})))

    @precondition(lambda self: self.store.items)
    @rule(index=st.integers(0, 50))
    def delete_contact(self, index: int) -> None:
        c = self._contact(index)
        self.store.delete(ItemRef(c.item_id, c.version))

    @precondition(lambda self: self.db.rows)
    @rule(index=st.integers(0, 50))
    def delete_person(self, index: int) -> None:
        self.db.delete(sorted(self.db.rows)[index % len(self.db.rows)])

    @precondition(lambda self: self.store.items)
    @rule(index=st.integers(0, 50))
    def copy_contact(self, index: int) -> None:
        c = self._contact(index)
        self.store.create(replace(c, item_id=""))
        self.made += 1
        if c.customer_id:
            self.copies[c.customer_id] += 1

    def _contact(self, index: int) -> Contact:
        ordered = sorted(self.store.items.values(), key=lambda c: c.item_id)
        return ordered[index % len(ordered)]

    # --- runs -------------------------------------------------------------------------------
    @rule(mode=MODES, policy=POLICIES, recreate=st.booleans())
    def run(self, mode: str, policy: str | None, recreate: bool) -> None:
        try:
            out = engine.run(
                self.db,
                self.url,
                mode,
                options=RunOptions(yes=True, on_conflict=policy, recreate=recreate),
            )
        except MassChangeRefused:
            return  # an emptied side: nothing propagated, nothing to check
        assert out.report is not None and not out.report.errors, out.report.errors
        if mode == "sync" and out.report.exit_code == 0:
            self._agree()
        again = engine.run(
            self.db, self.url, mode, options=RunOptions(dry_run=True, on_conflict=policy)
        )  # type: ignore[arg-type]
        assert again.plan.changes() == 0, again.plan.to_dict()

    @rule()
    def sync_again(self) -> None:
        """The unattended case: a plain two-way sync (more often than the other runs)."""
        self.run("sync", None, False)

    # --- invariants -------------------------------------------------------------------------
    @invariant()
    def nothing_duplicated(self) -> None:
        cids = Counter(c.customer_id for c in self.store.items.values() if c.customer_id)
        for cid, n in cids.items():
            assert n <= 1 + self.copies[cid], f"Customer ID {cid} on {n} contacts"
        assert len(self.db.rows) <= self.made

    def _agree(self) -> None:
        """Right after a clean two-way sync."""
        links = Links(self.db.engine, self.url).load()
        for pid, link in links.items():
            contact = self.store.items.get(link.item_id)
            if pid not in self.db.rows or contact is None:
                continue  # a tombstone: a side was deleted and kept so
            for f, (crm, outlook) in diff(self.db.rows[pid].record, contact.record).items():
                assert f in NEVER_BLANK_INTO_CRM and is_empty(outlook) and not is_empty(crm), (
                    f,
                    crm,
                    outlook,
                )


TestEngineStateMachine = Engine.TestCase
TestEngineStateMachine.settings = settings(
    max_examples=25,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
