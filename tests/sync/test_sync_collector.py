import gc

import pytest

from personsync.sync import collector
from personsync.sync.options import RunOptions


@pytest.fixture
def gc_state():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_paused_switches_the_collector_off_and_back_on(gc_state):
    gc.enable()
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_paused_restores_the_collector_after_an_error(gc_state):
    gc.enable()
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("the run stopped")
    assert gc.isenabled()


def test_paused_leaves_a_collector_switched_off_by_the_caller_off(gc_state):
    gc.disable()
    with collector.paused():
        pass
    assert not gc.isenabled()


def test_a_run_holds_the_collector_back_and_gives_it_back(gc_state, tmp_path, monkeypatch):
    from personsync.persons.repo import PersonsDB
    from personsync.persons.sample import generate
    from personsync.sync import engine, planner

    seen: list[bool] = []
    real_plan = planner.plan

    def spying_plan(*args, **kwargs):
        seen.append(gc.isenabled())
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(planner, "plan", spying_plan)
    gc.enable()
    db = PersonsDB(str(tmp_path / "p.db"))
    db.add_many(list(generate(5, 1)))
    out = engine.run(db, f"vcf:{tmp_path / 'out'}", "export", options=RunOptions(yes=True))
    db.close()
    assert out.report is not None and out.report.counts["create-contact"] == 5
    assert seen == [False]
    assert gc.isenabled()
