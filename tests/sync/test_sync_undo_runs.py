"""`undo --dry-run`, "already undone", and `runs list` naming the undo (real CLI, vCard folder,
SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from folder_help import cli, contacts
from sync_fakes import records as generate

from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder


def test_undo_dry_run_already_undone_and_runs_list(db_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        db.add_many(list(generate(5, 2)))
    finally:
        db.close()
    export = json.loads(cli("export", "--to", url, "--db", db_url, "--json").stdout)
    run = export["report"]["run"]
    # One contact edited after the run: undo leaves it alone.
    store = open_folder(url, create=False)
    edited = contacts(url)[0]
    store.update(edited, replace(edited, record=edited.record.replace({"notes": "mine"})))
    store.close()

    dry = json.loads(cli("undo", run, "--dry-run", "--db", db_url, "--json").stdout)["report"]
    assert dry["counts"] == {"would-undo": 4, "not-undone": 1}
    said = cli("undo", run, "--dry-run", "--db", db_url).stdout
    assert said.startswith("Dry run (undo ") and "4 would-undo" in said, said  # no "Run  ("
    assert len(contacts(url)) == 5  # nothing changed
    runs = json.loads(cli("runs", "list", "--db", db_url, "--json").stdout)
    assert [r["command"] for r in runs] == ["export"]  # the dry run made no run

    # The run's 5 writes to the folder's 5 contacts (one of them will be left alone, but undo
    # tries it): more than the guard's half. Not at a terminal, so no question: exit 3, as a run
    # would, and nothing undone.
    stopped = cli("undo", run, "--db", db_url, "--json")
    assert stopped.returncode == 3, stopped.stderr
    assert f"undoing run {run} would change 5 of the 5 contacts" in " ".join(stopped.stderr.split())
    assert len(contacts(url)) == 5
    # 100 % is not more than --max-change 100: it goes ahead (as --yes would).
    done = json.loads(cli("undo", run, "--max-change", "100", "--db", db_url, "--json").stdout)
    done = done["report"]
    assert done["counts"]["undone"] == 4 and len(contacts(url)) == 1
    runs = {r["id"]: r for r in json.loads(cli("runs", "list", "--db", db_url, "--json").stdout)}
    assert runs[run]["undone_by"] == done["run"]

    again = cli("undo", run, "--db", db_url, "--json")
    assert again.returncode == 0
    report = json.loads(again.stdout)["report"]
    assert report["warnings"] == [f"run {run} is already undone (by run {done['run']})"]
    assert len(json.loads(cli("runs", "list", "--db", db_url, "--json").stdout)) == 2
    shown = cli("runs", "list", "--db", db_url).stdout
    assert f"undone by {done['run']}" in shown


def test_runs_started_in_one_minute_get_different_ids() -> None:
    # The id is the runs table's key: 1,000 runs in one minute (a server with many profiles)
    # shared an id almost surely with two random bytes.
    from personsync.sync.journal import new_run_id

    ids = {new_run_id()[14:] for _ in range(1000)}  # the random part alone
    assert len(ids) == 1000


def test_undo_of_many_person_writes_goes_in_chunks_and_spares_later_edits(
    db_url: str, tmp_path: Path
) -> None:
    """An import that updated 30 Persons and created 10 is undone in a few transactions, not
    three per Person (an undo of 20,000 took half an hour); a Person edited or deleted since
    the run is named and left alone, every other one is given its old values back or deleted,
    and each undo write is journaled."""
    from sqlalchemy import event

    from personsync.sync import engine
    from personsync.sync.journal import entries
    from personsync.sync.options import RunOptions
    from personsync.sync.undo import undo

    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids = db.add_many(list(generate(30, 4)))
        before = {pid: db.get(pid).record for pid in ids}
        engine.run(db, url, "export", options=RunOptions(yes=True))
        store = open_folder(url, create=False)
        try:
            cards = contacts(url)
            store.update_many(
                [(c, replace(c, record=c.record.replace({"company": "Outlook Co"}))) for c in cards]
            )
            store.create_many([replace(c, item_id="", customer_id="") for c in contacts(url)[:10]])
        finally:
            store.close()
        run = engine.run(db, url, "import", options=RunOptions(yes=True)).report
        assert run is not None and run.counts["update-person"] == 30, run.counts
        made = [pid for pid in db.versions() if pid not in before]
        assert len(made) == run.counts["create-person"] == 10
        db.update(ids[3], {"notes": "edited after the run"})
        db.delete(ids[4])
        commits: list[object] = []

        def committed(conn: object) -> None:
            commits.append(conn)

        event.listen(db.engine, "commit", committed)
        report = undo(db, run.run_id, options=RunOptions(yes=True))
        event.remove(db.engine, "commit", committed)
        assert report.counts["undone"] >= 38 and report.counts["not-undone"] == 2, report.counts
        named = {(s["person_id"], s["reason"]) for s in report.skipped}
        assert named == {
            (ids[3], "the Person changed after the run"),
            (ids[4], "the Person is gone"),
        }
        # The 10 new contacts' Customer IDs are taken back one by one (three commits each); the
        # 40 Person writes go in a few transactions (three commits each before: 150 in all).
        assert len(commits) < 50, len(commits)
        now = db.get_many(ids)
        for pid in ids:
            if pid not in (ids[3], ids[4]):
                assert now[pid].record.company == before[pid].company
        assert now[ids[3]].record.company == "Outlook Co"
        assert not db.get_many(made)  # the Persons the import made are gone
        journaled = [
            (e["side"], e["action"], e["state"]) for e in entries(db.engine, report.run_id)
        ]
        assert journaled.count(("person", "restore", "done")) == 28
        assert journaled.count(("person", "delete", "done")) == 10
    finally:
        db.close()


def _exported_then_updated(db: PersonsDB, url: str, n: int) -> tuple[list[int], str]:
    """`n` Persons exported, then each one's job title changed in the CRM and exported: the
    second run's id (n contact updates to undo)."""
    from personsync.sync import engine
    from personsync.sync.options import RunOptions

    ids = db.add_many(list(generate(n, 3)))
    engine.run(db, url, "export", options=RunOptions(yes=True))
    db.update_many([(pid, {"job_title": f"Changed {pid}"}) for pid in ids])
    out = engine.run(db, url, "export", options=RunOptions(yes=True))
    assert out.report is not None and out.report.counts["update-contact"] == n
    return ids, out.report.run_id


def test_undo_restores_contacts_in_chunks(db_url: str, tmp_path: Path) -> None:
    """Undo restores a run's contact updates a chunk at a time (one read, one journal commit,
    one batch write, one commit of outcomes and links per chunk), not three commits per
    contact (until 2026-12-06; docs/benchmarks.md has the figures)."""
    from sqlalchemy import event

    from personsync.sync.events import Progress, RunEvent
    from personsync.sync.options import RunOptions
    from personsync.sync.undo import undo

    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids, run = _exported_then_updated(db, url, 40)
        before = {c.customer_id: c.record.job_title for c in contacts(url)}
        commits: list[int] = []
        event.listen(db.engine, "commit", lambda conn: commits.append(1))
        heard: list[RunEvent] = []
        report = undo(db, run, options=RunOptions(yes=True, chunk=25), on_event=heard.append)
        assert report.counts == {"undone": 40}, report.to_dict()
        # The run's start and end, the lease, and per chunk (two here) its intents and its
        # outcomes: a dozen at most, where each contact was three.
        assert 0 < len(commits) <= 12, len(commits)
        assert [e.done for e in heard if isinstance(e, Progress)] == [0, 25, 40]
        after = {c.customer_id: c.record for c in contacts(url)}
        assert all(after[str(p)].job_title != f"Changed {p}" for p in ids)
        assert all(before[str(p)] == f"Changed {p}" for p in ids)
        assert db.get(ids[0]).record.job_title == f"Changed {ids[0]}"  # the CRM keeps its own
    finally:
        db.close()


@pytest.mark.parametrize("point", range(1, 10))
def test_an_undo_killed_at_a_chunk_boundary_is_finished_by_the_next(
    sqlite_url: str, tmp_path: Path, point: int
) -> None:
    """An undo of 8 contact updates in chunks of 3, killed with SIGKILL at each of its nine
    checkpoints (after a chunk's intents, after its writes, after its outcomes): undoing the
    run again restores the rest, no contact is lost or made twice, and the next export puts
    the CRM's values back and is then a no-op."""
    from killed_run import undo_killed
    from personsync.sync import engine
    from personsync.sync.options import RunOptions
    from personsync.sync.undo import undo

    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        ids, run = _exported_then_updated(db, url, 8)
        old = {str(p): c for p, c in zip(ids, generate(8, 3), strict=True)}
        options = RunOptions(yes=True, chunk=3, crash_after=point)
        assert undo_killed(db, sqlite_url, run, options)
        undo(db, run, options=RunOptions(yes=True, chunk=3))
        found = contacts(url)
        assert sorted(c.customer_id for c in found) == sorted(map(str, ids))
        assert all(c.record.job_title == old[c.customer_id].job_title for c in found)
        again = engine.run(db, url, "export", options=RunOptions(yes=True))
        assert again.report is not None and again.report.counts.get("update-contact") == 8
        assert engine.run(db, url, "export").plan.changes() == 0
        found = contacts(url)
        assert len(found) == 8
        assert all(c.record.job_title == f"Changed {c.customer_id}" for c in found)
    finally:
        db.close()


@pytest.mark.parametrize("seen", [False, True], ids=["undone-at-once", "after-a-run-saw-it"])
def test_undo_of_an_export_whose_contact_was_deleted_since_gives_its_person_one_again(
    db_url: str, tmp_path: Path, seen: bool
) -> None:
    """A contact the undone export created, deleted by a person since (and, `seen`, already
    named deleted by a later export, which kept the link as a tombstone): undo has nothing to
    delete, and ends the link, as undoing the create would have. The next export makes the
    Person a contact again, as it would have before the undone run, once (until 2026-12-06 the
    link stayed, and no export re-created the contact without --recreate)."""
    from folder_help import by_cid, delete

    from personsync.sync import engine
    from personsync.sync.options import RunOptions
    from personsync.sync.undo import undo

    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids = db.add_many(list(generate(4, 5)))
        first = engine.run(db, url, "export", options=RunOptions(yes=True)).report
        assert first is not None and first.counts["create-contact"] == 4
        gone = by_cid(url)[str(ids[0])]
        assert db.get(ids[0]).contact_manager_id == gone.item_id
        delete(url, gone)
        if seen:
            later = engine.run(db, url, "export").report
            assert later is not None and not later.counts.get("create-contact"), later.counts

        dry = undo(db, first.run_id, options=RunOptions(yes=True, dry_run=True))
        assert dry.counts == {"would-undo": 4}, dry.to_dict()
        report = undo(db, first.run_id, options=RunOptions(yes=True))
        assert report.counts == {"undone": 4}, report.to_dict()
        assert report.exit_code == 0
        said = "\n".join(report.warnings)
        assert f"contact {gone.item_id} was deleted since run {first.run_id}" in said, said
        assert contacts(url) == []
        assert all(p.contact_manager_id is None for p in db.get_many(ids).values())

        again = engine.run(db, url, "export", options=RunOptions(yes=True)).report
        assert again is not None and again.counts.get("create-contact") == 4, again.counts
        assert sorted(c.customer_id for c in contacts(url)) == sorted(map(str, ids))
        assert engine.run(db, url, "export").plan.changes() == 0
        assert len(contacts(url)) == 4
    finally:
        db.close()


@pytest.mark.parametrize("point", range(1, 8))
def test_an_undo_killed_keeps_a_pair_it_cannot_undo_whole(
    sqlite_url: str, tmp_path: Path, point: int
) -> None:
    """A sync that made 5 Persons of 5 new contacts, one Person edited since, undone in chunks
    of 3 and killed with SIGKILL at each checkpoint (and once not): the edited Person's pair is
    never touched (its contact keeps its Customer ID, its link stays) while the others are
    undone; undone again and synced, nothing is made twice and the edit reaches the contact."""
    from killed_run import undo_killed
    from personsync.model import Contact
    from personsync.sync import engine
    from personsync.sync.links import Links
    from personsync.sync.options import RunOptions
    from personsync.sync.undo import undo

    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        store = open_folder(url, create=True)
        store.create_many([Contact(r) for r in generate(5, 6)])
        store.close()
        made = engine.run(db, url, "sync", options=RunOptions(yes=True)).report
        assert made is not None and made.counts["create-person"] == 5
        kept = sorted(db.versions())[2]
        db.update(kept, {"notes": "edited after the run"})
        pair = {c.customer_id: c for c in contacts(url)}[str(kept)]
        link = Links(db.engine, url).load()[kept]

        def pair_whole() -> None:
            assert {c.customer_id: c for c in contacts(url)}[str(kept)] == pair
            assert Links(db.engine, url).load().get(kept) == link  # the run's, as it was

        options = RunOptions(yes=True, chunk=3, crash_after=point)
        if undo_killed(db, sqlite_url, made.run_id, options):
            pair_whole()  # even half-way
            undo(db, made.run_id, options=RunOptions(yes=True, chunk=3))
        pair_whole()
        assert list(db.versions()) == [kept]
        engine.run(db, url, "sync", options=RunOptions(yes=True))
        cards = contacts(url)
        assert len(cards) == 5 and len(db.versions()) == 5
        assert sorted(c.customer_id for c in cards) == sorted(map(str, db.versions()))
        assert {c.customer_id: c for c in cards}[str(kept)].record.notes == "edited after the run"
    finally:
        db.close()
