"""No process-wide state: a run leaves Python's garbage collector as it found it, even while it
runs (many runs share one web console or worker process, and so its collector)."""

import gc

import pytest

from personsync.sync.events import RunEvent
from personsync.sync.options import RunOptions


@pytest.fixture
def gc_state():
    was, thresholds = gc.isenabled(), gc.get_threshold()
    yield
    (gc.enable if was else gc.disable)()
    gc.set_threshold(*thresholds)


@pytest.mark.parametrize("direction", ["export", "import", "sync"])
def test_a_run_leaves_the_collector_on_and_its_thresholds_alone(gc_state, tmp_path, direction):
    from personsync.persons.repo import PersonsDB
    from personsync.persons.sample import generate
    from personsync.sync import engine

    gc.enable()
    gc.set_threshold(700, 10, 10)
    db = PersonsDB(str(tmp_path / "p.db"))
    db.add_many(list(generate(6, 1)))
    url = f"vcf:{tmp_path / 'out'}"
    engine.run(db, url, "export", options=RunOptions(yes=True))
    db.update_many([(p.id, {"job_title": "Changed"}) for p in db.iter_persons()])
    seen: list[tuple[str, bool, tuple[int, ...]]] = []

    def hear(event: RunEvent) -> None:
        seen.append((type(event).__name__, gc.isenabled(), gc.get_threshold()))

    out = engine.run(db, url, direction, options=RunOptions(yes=True, chunk=2), on_event=hear)
    db.close()
    assert out.report is not None and out.plan.changes() == 6
    # Heard while the run held its snapshot and plan, and while it wrote: the collector on.
    assert {name for name, _, _ in seen} == {"Planned", "Progress", "Finished"}
    assert all(on and thresholds == (700, 10, 10) for _, on, thresholds in seen), seen
    assert gc.isenabled() and gc.get_threshold() == (700, 10, 10)
