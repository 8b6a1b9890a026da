"""Sync profiles: stored through the migration, validated per field, scheduled, run when due
(on SQLite and PostgreSQL), through the library and the real CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from personsync.cli import app
from personsync.errors import ProfileError
from personsync.persons.repo import PersonsDB
from personsync.persons.sample import generate
from personsync.profiles import runner, schedule, store
from personsync.profiles.store import Profile
from personsync.profiles.tables import sync_profiles
from personsync.sync import journal

cli = CliRunner()


def _make_due(db: PersonsDB, name: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            update(sync_profiles)
            .where(sync_profiles.c.name == name)
            .values(next_run_at=datetime.now(UTC) - timedelta(minutes=1))
        )


def test_a_profile_is_stored_and_read_back(persons_db: PersonsDB, tmp_path: Path) -> None:
    persons_db.create_view("Members", "company is not empty")
    saved = store.save(
        persons_db,
        Profile("Members", "export", f"vcf:{tmp_path}/out", "Members", 30.0, every_minutes=15),
    )
    assert saved.created_at is not None
    assert saved.next_run_at is not None
    gap = saved.next_run_at - datetime.now(UTC)
    assert timedelta(minutes=14) < gap <= timedelta(minutes=15)
    [listed] = store.list_profiles(persons_db.engine)
    assert (listed.name, listed.view, listed.max_change, listed.schedule) == (
        "Members",
        "Members",
        30.0,
        "every 15 minutes",
    )
    renamed = store.save(
        persons_db,
        replace(saved, name="Board", cron="0 2 * * *", every_minutes=None),
        replace_name="Members",
    )
    assert renamed.schedule == "cron 0 2 * * *"
    assert renamed.next_run_at is not None and (
        renamed.next_run_at.hour,
        renamed.next_run_at.minute,
    ) == (2, 0)
    with pytest.raises(ProfileError, match="no sync profile named 'Members'"):
        store.get(persons_db.engine, "Members")
    store.delete_profile(persons_db.engine, "Board")
    assert store.list_profiles(persons_db.engine) == []


def test_each_wrong_setting_is_named_by_its_field(persons_db: PersonsDB) -> None:
    bad = Profile("", "sideways", "ftp:x", "Nobody", 150.0, every_minutes=5, cron="61 * * * *")
    fields = {p.field for p in store.validate(persons_db, bad)}
    assert fields == {"name", "direction", "folder", "view", "max_change", "schedule"}
    exported = replace(
        bad,
        name="x",
        direction="export",
        folder="vcf:out",
        view="All Persons",
        max_change=5,
        every_minutes=None,
    )
    [problem] = store.validate(persons_db, exported)
    assert problem.field == "cron" and "not a cron expression" in problem.message
    gone_view = replace(exported, view="Nobody", cron=None, every_minutes=10)
    [problem] = store.validate(persons_db, gone_view)
    assert problem.field == "view" and "no view named 'Nobody'" in problem.message
    # Import reads no view: a missing one is no problem there.
    assert store.validate(persons_db, replace(gone_view, direction="import")) == []


def test_a_name_is_not_taken_twice(persons_db: PersonsDB) -> None:
    store.save(persons_db, Profile("A", "import", "csv:a.csv"))
    with pytest.raises(ProfileError) as caught:
        store.save(persons_db, Profile("A", "import", "csv:b.csv"))
    assert caught.value.field == "name"


def test_schedule_times() -> None:
    at = datetime(2026, 12, 5, 3, 7, tzinfo=UTC)
    assert schedule.next_after(15, None, at) == datetime(2026, 12, 5, 3, 22, tzinfo=UTC)
    assert schedule.next_after(None, "*/15 * * * *", at) == datetime(2026, 12, 5, 3, 15, tzinfo=UTC)
    assert schedule.next_after(None, None, at) is None


def test_run_due_runs_the_due_ones_and_survives_a_failing_one(
    persons_db: PersonsDB, tmp_path: Path
) -> None:
    persons_db.add_many(list(generate(12, seed=3)))
    good = store.save(
        persons_db, Profile("good", "export", f"vcf:{tmp_path}/good", every_minutes=5)
    )
    # Its folder is a file: opening it fails at run time.
    (tmp_path / "blocked").write_text("not a folder")
    store.save(persons_db, Profile("broken", "import", f"vcf:{tmp_path}/blocked", every_minutes=5))
    store.save(persons_db, Profile("later", "export", f"vcf:{tmp_path}/later", every_minutes=5))
    for name in ("good", "broken"):
        _make_due(persons_db, name)

    runs = {r.profile: r for r in runner.run_due(persons_db)}

    assert set(runs) == {"good", "broken"}  # "later" is not due yet
    assert runs["good"].status == "clean" and runs["good"].run_id
    assert len(list((tmp_path / "good").glob("*.vcf"))) == 12
    assert runs["broken"].status == "failed" and runs["broken"].error
    broken = store.get(persons_db.engine, "broken")
    assert broken.last_status == "failed" and broken.last_error == runs["broken"].error
    assert broken.next_run_at is not None and broken.next_run_at > datetime.now(
        UTC
    )  # retried later
    info = journal.get_run(persons_db.engine, runs["good"].run_id or "")
    assert (info.command, info.counts["create-contact"]) == ("export", 12)
    again = store.get(persons_db.engine, "good")
    assert again.last_run_id == runs["good"].run_id and again.last_run_at is not None
    assert again.next_run_at is not None and again.next_run_at > good.next_run_at - timedelta(
        minutes=5
    )
    assert runner.run_due(persons_db) == []  # nothing due any more


def test_an_unattended_run_is_stopped_by_the_guard(persons_db: PersonsDB, tmp_path: Path) -> None:
    persons_db.add_many(list(generate(10, seed=4)))
    profile = store.save(persons_db, Profile("p", "export", f"vcf:{tmp_path}/out", max_change=10))
    assert runner.run_profile(persons_db, profile).status == "clean"  # an empty folder: no guard
    persons_db.update_many([(pid, {"company": "Changed Ltd"}) for pid in persons_db.versions()])
    stopped = runner.run_profile(persons_db, store.get(persons_db.engine, "p"))
    assert stopped.status == "guard" and stopped.run_id is None
    assert "would create or change 10 of the 10" in (stopped.error or "")
    assert store.get(persons_db.engine, "p").last_status == "guard"


def test_the_cli(sqlite_url: str, tmp_path: Path) -> None:
    db = ["--db", sqlite_url]
    with PersonsDB(sqlite_url) as pdb:
        pdb.add_many(list(generate(5, seed=5)))
    folder = f"vcf:{tmp_path}/cli"
    got = cli.invoke(
        app,
        [
            "profiles",
            "create",
            "P",
            "--direction",
            "export",
            "--folder",
            folder,
            "--cron",
            "*/5 * * * *",
            *db,
        ],
    )
    assert got.exit_code == 0, got.output
    got = cli.invoke(
        app,
        [
            "profiles",
            "create",
            "Q",
            "--direction",
            "export",
            "--folder",
            folder,
            "--cron",
            "every tuesday",
            *db,
        ],
    )
    assert got.exit_code == 2 and "not a cron expression" in got.output
    got = cli.invoke(app, ["profiles", "edit", "P", "--every", "7", "--disabled", *db])
    assert got.exit_code == 0 and "every 7 minutes (disabled)" in got.output
    got = cli.invoke(app, ["profiles", "show", "P", "--json", *db])
    shown = json.loads(got.output)
    assert (shown["every_minutes"], shown["cron"], shown["enabled"], shown["next_run_at"]) == (
        7,
        None,
        False,
        None,
    )
    got = cli.invoke(app, ["profiles", "run", "P", "--json", *db])
    assert got.exit_code == 0, got.output
    [result] = json.loads(got.output)
    assert result["status"] == "clean" and len(list((tmp_path / "cli").glob("*.vcf"))) == 5
    got = cli.invoke(app, ["profiles", "list", *db])
    assert "last run:" in got.output and "clean" in got.output
    got = cli.invoke(app, ["run-due", *db])
    assert got.exit_code == 0 and "no profile is due" in got.output  # P is disabled
    got = cli.invoke(app, ["profiles", "delete", "P", *db])
    assert got.exit_code == 1  # asks first; not a terminal: nothing deleted
    got = cli.invoke(app, ["profiles", "delete", "P", "--yes", *db])
    assert got.exit_code == 0
    got = cli.invoke(app, ["profiles", "show", "P", *db])
    assert got.exit_code == 2 and "no sync profile named 'P'" in got.output


def test_a_profile_whose_folder_is_busy_runs_at_its_next_time(
    persons_db: PersonsDB, tmp_path: Path
) -> None:
    from personsync.sync.lease import held

    persons_db.add_many(list(generate(3, seed=6)))
    profile = store.save(persons_db, Profile("p", "export", f"vcf:{tmp_path}/out", every_minutes=5))
    with held(persons_db.engine, profile.folder, "20261205-0000-beef"):  # another process's run
        busy = runner.run_profile(persons_db, profile)
    assert busy.status == "busy" and busy.exit_code == 5 and busy.run_id is None
    assert "is busy" in (busy.error or "")
    assert not list((tmp_path / "out").glob("*.vcf"))
    again = runner.run_profile(persons_db, store.get(persons_db.engine, "p"))
    assert again.status == "clean" and len(list((tmp_path / "out").glob("*.vcf"))) == 3


def _edit_both_sides(db: PersonsDB, folder: str, person_id: int, crm: str, outlook: str) -> None:
    """The same field changed in the CRM and in Outlook since the last run: a conflict."""
    from personsync.stores import open_folder
    from personsync.stores.base import get_one

    db.update(person_id, {"company": crm})
    item = db.get(person_id).contact_manager_id
    assert item
    contacts = open_folder(folder, create=False)
    try:
        contact = get_one(contacts, item)
        assert contact is not None
        contacts.update(
            contact, replace(contact, record=contact.record.replace({"company": outlook}))
        )
    finally:
        contacts.close()


def test_a_profiles_conflict_policy_is_set_by_the_cli_and_used_by_its_runs(
    sqlite_url: str, tmp_path: Path
) -> None:
    db = ["--db", sqlite_url]
    folder = f"vcf:{tmp_path}/both"
    with PersonsDB(sqlite_url) as pdb:
        pdb.add_many(list(generate(5, seed=5)))
    create = ["profiles", "create", "Both", "--direction", "sync", "--folder", folder]
    got = cli.invoke(app, [*create, "--on-conflict", "outlook", "--every", "5", *db])
    assert got.exit_code == 0, got.output
    assert "conflicts: outlook" in got.output
    got = cli.invoke(app, ["profiles", "run", "Both", *db])
    assert got.exit_code == 0, got.output
    with PersonsDB(sqlite_url) as pdb:
        _edit_both_sides(pdb, folder, 2, "CRM Side Ltd", "Outlook Side Ltd")
    assert cli.invoke(app, ["profiles", "run", "Both", *db]).exit_code == 0
    with PersonsDB(sqlite_url) as pdb:
        assert pdb.get(2).record.company == "Outlook Side Ltd"
        got = cli.invoke(app, ["profiles", "edit", "Both", "--on-conflict", "crm", *db])
        assert got.exit_code == 0 and "conflicts: crm" in got.output
        _edit_both_sides(pdb, folder, 3, "CRM Again Ltd", "Outlook Again Ltd")
        assert cli.invoke(app, ["profiles", "run", "Both", *db]).exit_code == 0
        assert pdb.get(3).record.company == "CRM Again Ltd"
        [run] = journal.list_runs(pdb.engine, 1)
        assert run.counts.get("update-contact") == 1 and not run.counts.get("update-person")
    got = cli.invoke(app, ["profiles", "edit", "Both", "--on-conflict", "sideways", *db])
    assert got.exit_code == 2 and "unknown policy" in got.output
    got = cli.invoke(app, ["profiles", "edit", "Both", "--on-conflict", "default", *db])
    assert got.exit_code == 0 and "conflicts: default" in got.output
    got = cli.invoke(app, ["profiles", "show", "Both", "--json", *db])
    assert json.loads(got.output)["options"] == {}
