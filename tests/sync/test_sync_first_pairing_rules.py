"""A two-way sync's first pairing (no baseline) of a field one side owns by the folder's rule
(`rules set F FIELD --direction to-outlook|to-crm`): the owner's value wins, as in that one-way
run, and the other side's different value is named, as the two-way table names any two
different values at a first sync. Found by the state machine's long profile: the overwritten
value was named in no conflict (to-outlook), or the difference was left unnamed until the next
run named it (to-outlook with fill only if empty)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from proof_machine import Run, contacts_of, opened, run_engine

from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.sync.settings import set_rule


def _first_sync(db: PersonsDB, **rule: Any) -> tuple[str, int, dict[str, Any]]:
    """Ann (company Beta) and a contact of hers (same e-mail, company Acme), never linked, a
    rule for company, then a two-way sync: they pair by e-mail."""
    folder = f"memory:first-{uuid.uuid4().hex[:10]}"
    pid = db.add(Record(first_name="Ann", last_name="Lee", email1="a@x.org", company="Beta")).id
    with opened(folder, create=True) as store:
        store.create(
            Contact(Record(first_name="Ann", last_name="Lee", email1="a@x.org", company="Acme"))
        )
    set_rule(db.engine, folder, "company", **rule)
    report = run_engine(db, folder, Run("sync"), yes=True).report
    assert report is not None
    return folder, pid, report.to_dict()


@pytest.mark.parametrize(
    ("flow", "kept", "value"), [("to-outlook", "crm", "Beta"), ("to-crm", "outlook", "Acme")]
)
def test_the_owner_wins_and_the_overwritten_value_is_named(
    persons_db: PersonsDB, flow: str, kept: str, value: str
) -> None:
    folder, pid, report = _first_sync(persons_db, flow=flow)
    named = [(c["field"], c["crm"], c["outlook"], c["why"], c["kept"]) for c in report["conflicts"]]
    assert named == [("company", "Beta", "Acme", "differ at the first sync", kept)]
    (contact,) = contacts_of(folder).values()
    assert persons_db.get(pid).record.company == contact.record.company == value
    again = run_engine(persons_db, folder, Run("sync"), dry_run=True)
    assert again.plan.changes() == 0 and not again.plan.conflicts(), again.plan.to_dict()


def test_fill_only_if_empty_names_the_difference_it_leaves_at_once(persons_db: PersonsDB) -> None:
    folder, pid, report = _first_sync(persons_db, flow="to-outlook", fill_only_if_empty=True)
    (contact,) = contacts_of(folder).values()
    assert (persons_db.get(pid).record.company, contact.record.company) == ("Beta", "Acme")
    named = [(c["field"], c["why"], c["kept"]) for c in report["conflicts"]]
    assert named == [("company", "differ at the first sync", "both (a decision)")]
    again = run_engine(persons_db, folder, Run("sync"), dry_run=True)
    assert again.plan.changes() == 0, again.plan.to_dict()
