"""The engine as a library: one frozen `RunOptions`, and the run's progress as typed events."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from sync_fakes import FakePersonsDB

from personsync.errors import MassChangeRefused
from personsync.model import Contact, Record
from personsync.stores.memory import MemoryStore
from personsync.sync import engine
from personsync.sync.events import Finished, GuardQuestion, Planned, Progress, RunEvent
from personsync.sync.options import RunOptions

PEOPLE = [Record(first_name=f"P{i}", last_name="Lee", email1=f"p{i}@example.org") for i in range(7)]


@pytest.fixture
def folder() -> tuple[str, MemoryStore]:
    name = f"t{uuid.uuid4().hex[:8]}"
    return f"memory:{name}", MemoryStore.named(name)


def test_options_are_frozen_all_the_way_down() -> None:
    policies = {"company": "crm"}
    persons = {1, 2}
    options = RunOptions(field_policies=policies, only_persons=persons)  # type: ignore[arg-type]
    policies["notes"] = "outlook"
    persons.add(3)
    assert dict(options.field_policies) == {"company": "crm"}
    assert options.only_persons == {1, 2}
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.yes = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        options.field_policies["x"] = "crm"  # type: ignore[index]
    with pytest.raises(ValueError, match="chunk"):
        RunOptions(chunk=0)


def test_events_tell_plan_progress_and_end_in_order(folder: tuple[str, MemoryStore]) -> None:
    url, _ = folder
    db = FakePersonsDB()
    db.add_many(PEOPLE)
    heard: list[RunEvent] = []
    out = engine.run(db, url, "export", options=RunOptions(chunk=3), on_event=heard.append)
    assert out.report is not None and out.report.counts["create-contact"] == 7
    assert isinstance(heard[0], Planned) and heard[0].plan is out.plan
    moves = [e for e in heard if isinstance(e, Progress)]
    # Chunks of 3: the bar moves three times, to the plan's total.
    assert [(m.step, m.done, m.total) for m in moves] == [(3, 3, 7), (3, 6, 7), (1, 7, 7)]
    assert isinstance(heard[-1], Finished) and heard[-1].report is out.report
    assert len(heard) == 5


def test_a_dry_run_tells_only_the_plan(folder: tuple[str, MemoryStore]) -> None:
    url, store = folder
    db = FakePersonsDB()
    db.add_many(PEOPLE)
    heard: list[RunEvent] = []
    engine.run(db, url, "export", options=RunOptions(dry_run=True), on_event=heard.append)
    assert [type(e) for e in heard] == [Planned] and store.items == {}


def test_the_guard_asks_by_an_event_and_the_answer_decides(
    folder: tuple[str, MemoryStore],
) -> None:
    url, store = folder
    db = FakePersonsDB()
    store.create(Contact(Record(first_name="Zed", email1="zed@example.org")))
    db.add_many(PEOPLE[:3])
    asked: list[str] = []

    def refuse(event: RunEvent) -> bool | None:
        if isinstance(event, GuardQuestion):
            asked.append(event.message)
        return None

    with pytest.raises(MassChangeRefused):
        engine.run(db, url, "export", on_event=refuse)
    assert len(asked) == 1 and "3 contacts in" in asked[0] and len(store.items) == 1
    # Asked again, answered yes: the run goes on.
    out = engine.run(db, url, "export", on_event=lambda e: isinstance(e, GuardQuestion))
    assert out.report is not None and len(store.items) == 4
    # With yes in the options nobody is asked.
    db.add_many(PEOPLE[3:])
    asked.clear()
    engine.run(db, url, "export", options=RunOptions(yes=True, max_share=0.01), on_event=refuse)
    assert asked == [] and len(store.items) == 8


def test_undo_asks_the_guard_question_by_an_event(folder: tuple[str, MemoryStore]) -> None:
    from personsync.sync.undo import undo

    url, store = folder
    db = FakePersonsDB()
    db.add_many(PEOPLE[:4])
    run = engine.run(db, url, "export").report
    assert run is not None and len(store.items) == 4
    asked: list[RunEvent] = []

    def refuse(event: RunEvent) -> None:
        asked.append(event)

    # A dry run asks nothing and writes nothing.
    dry = undo(db, run.run_id, options=RunOptions(dry_run=True), on_event=refuse)
    assert dry.counts == {"would-undo": 4} and not any(isinstance(e, GuardQuestion) for e in asked)
    with pytest.raises(MassChangeRefused, match="would change 4 of the 4 contacts"):
        undo(db, run.run_id, on_event=refuse)
    assert [e.message for e in asked if isinstance(e, GuardQuestion)] == [
        f"undoing run {run.run_id} would change 4 of the 4 contacts in {url} (100%, more than 50%)"
    ]
    assert len(store.items) == 4
    done = undo(db, run.run_id, on_event=lambda e: isinstance(e, GuardQuestion))
    assert done.counts == {"undone": 4} and store.items == {}
