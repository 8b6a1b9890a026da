"""`undo --dry-run`, "already undone", and `runs list` naming the undo (real CLI, vCard folder,
SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

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
