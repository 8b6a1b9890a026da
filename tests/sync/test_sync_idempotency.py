"""Idempotency (Hypothesis): after any run, the same run again plans zero changes, whatever the
Persons, the edits on either side and the view; and a run never duplicates a Person or a contact."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sync_fakes import FakePersonsDB

from personsync.model import Contact, Record, diff
from personsync.stores.memory import MemoryStore
from personsync.sync import engine
from personsync.sync.merge import NEVER_BLANK_INTO_CRM
from personsync.sync.options import RunOptions

NAMES = st.sampled_from(["Ann", "Bob", "Cy", "Dee", "Émile", ""])
RECORDS = st.builds(
    Record,
    first_name=NAMES,
    last_name=st.sampled_from(["Lee", "Ray", "Ōno", ""]),
    email1=st.sampled_from(["", "a@x.org", "B@x.org", "c@x.org", "d@x.org"]),
    mobile_phone=st.sampled_from(["", "+1 212 555 0100", "(212) 555-0199"]),
    company=st.sampled_from(["", "Acme", "Beta"]),
    job_title=st.sampled_from(["", "CEO", "Dev"]),
    categories=st.sampled_from([(), ("VIP",), ("a", "b")]),
)
EDITS = st.lists(
    st.tuples(
        st.booleans(),
        st.integers(0, 20),
        st.sampled_from(["job_title", "notes", "company"]),
        st.sampled_from(["", "X", "Y z"]),
    ),
    max_size=6,
)
_names = itertools.count()


def _folder() -> tuple[str, MemoryStore]:
    name = f"idem{next(_names)}"
    return f"memory:{name}", MemoryStore.named(name)


def _edit(db: FakePersonsDB, store: MemoryStore, edits: list[tuple[bool, int, str, str]]) -> None:
    for on_person, index, field, value in edits:
        if on_person and db.rows:
            pid = sorted(db.rows)[index % len(db.rows)]
            db.update(pid, {field: value})
        elif not on_person and store.items:
            c = sorted(store.items.values(), key=lambda c: c.item_id)[index % len(store.items)]
            store.update(c, replace(c, record=c.record.replace({field: value})))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    persons=st.lists(RECORDS, max_size=8),
    contacts=st.lists(RECORDS, max_size=5),
    edits=EDITS,
    odd_only=st.booleans(),
    direction=st.sampled_from(["export", "import"]),
)
def test_second_run_plans_nothing(
    persons: list[Record],
    contacts: list[Record],
    edits: list[tuple[bool, int, str, str]],
    odd_only: bool,
    direction: str,
) -> None:
    url, store = _folder()
    db = FakePersonsDB()
    db.views["odd"] = lambda p: p.id % 2 == 1
    view = "odd" if odd_only else None
    db.add_many(persons)
    for r in contacts:
        store.create(Contact(r))
    engine.run(db, url, direction, view=view, options=RunOptions(yes=True))
    again = engine.run(db, url, direction, view=view, options=RunOptions(dry_run=True)).plan
    assert again.changes() == 0, again.to_dict()
    _edit(db, store, edits)
    before_persons, before_items = len(db.rows), len(store.items)
    first = engine.run(db, url, direction, view=view, options=RunOptions(yes=True))
    second = engine.run(db, url, direction, view=view, options=RunOptions(yes=True))
    assert second.plan.changes() == 0, second.plan.to_dict()
    assert second.report is not None and not second.report.errors

    # Never a duplicate: one contact per Customer ID, one link per Person.
    cids = Counter(c.customer_id for c in store.items.values() if c.customer_id)
    copies = {c for c, n in cids.items() if n > 1}
    assert not copies
    if direction == "export":
        assert len(db.rows) == before_persons
        created = first.plan.counts()["create-contact"]
        assert len(store.items) == before_items + created
        # Every Person of the view that is linked now has a contact matching it.
        by_cid = {c.customer_id: c for c in store.items.values()}
        for pid in db.versions(view):
            if str(pid) in by_cid:
                assert not diff(by_cid[str(pid)].record, db.rows[pid].record)
    else:
        assert len(store.items) == before_items
        created = first.plan.counts()["create-person"]
        assert len(db.rows) == before_persons + created
        for c in store.items.values():
            if c.customer_id:
                left = diff(db.rows[int(c.customer_id)].record, c.record)
                # "Never blank out" (on by default into the CRM for company, e-mails and
                # phones): an emptied value in Outlook does not erase the Person's.
                assert all(f in NEVER_BLANK_INTO_CRM and new == "" for f, (_, new) in left.items())
