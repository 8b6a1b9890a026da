"""The sync commands through the real CLI (Typer's CliRunner), on a real SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from typer.testing import CliRunner

from personsync.cli import app
from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.stores.base import read_all

runner = CliRunner()
NAMES = ["Ann Lee", "Bo Ray", "Cy Po", "Dee Ng", "Eve Ott", "Fay Hu", "Gus Ek", "Hal Yu"]


def generate(n: int, seed: int) -> list[Record]:
    out = []
    for i, name in enumerate(NAMES[:n]):
        first, last = name.split()
        out.append(
            Record(
                first_name=first,
                last_name=last,
                email1=f"{first.lower()}@example.org",
                company="Acme" if i % 2 else "",
                job_title="Engineer",
            )
        )
    return out


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "p.db"
    pdb = PersonsDB(str(path))
    pdb.add_many(list(generate(8, 3)))
    pdb.close()
    return str(path)


def _cards(url: str) -> list[Contact]:
    store = open_folder(url, create=False)
    try:
        return [c for c in read_all(store) if isinstance(c, Contact)]
    finally:
        store.close()


def test_export_dry_run_json_then_run_then_runs_and_undo(db: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'out'}"
    got = runner.invoke(app, ["export", "--to", url, "--db", db, "--dry-run", "--json"])
    assert got.exit_code == 0, got.output
    plan = json.loads(got.stdout)["plan"]
    assert plan["counts"]["create-contact"] == 8
    assert {a["action"] for a in plan["actions"]} == {"create-contact"}
    assert not (tmp_path / "out").exists() or not _cards(url)

    got = runner.invoke(app, ["export", "--to", url, "--db", db])
    assert got.exit_code == 0, got.output
    assert "create contact" in got.stdout and "clean" in got.stdout
    assert len(_cards(url)) == 8

    runs = json.loads(runner.invoke(app, ["runs", "list", "--db", db, "--json"]).stdout)
    assert [r["command"] for r in runs] == ["export"] and runs[0]["status"] == "clean"
    run_id = runs[0]["id"]
    shown = json.loads(runner.invoke(app, ["runs", "show", run_id, "--db", db, "--json"]).stdout)
    assert len(shown["journal"]) == 8 and {e["state"] for e in shown["journal"]} == {"done"}

    got = runner.invoke(app, ["undo", run_id, "--db", db, "--yes"])
    assert got.exit_code == 0, got.output
    assert _cards(url) == []


def test_unknown_run_is_one_readable_line(db: str) -> None:
    got = runner.invoke(app, ["runs", "show", "nope", "--db", db])
    assert got.exit_code == 2
    assert "no run 'nope'" in got.output and "Traceback" not in got.output


def test_mass_change_guard_exit_code_3(db: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'out'}"
    assert runner.invoke(app, ["export", "--to", url, "--db", db]).exit_code == 0
    pdb = PersonsDB(db)
    for pid in pdb.versions():
        pdb.update(pid, {"notes": "all changed"})
    pdb.close()
    got = runner.invoke(app, ["export", "--to", url, "--db", db])
    assert got.exit_code == 3, got.output
    assert "8 of the 8" in got.output and "--yes" in got.output
    assert {c.record.notes for c in _cards(url)} != {"all changed"}
    assert runner.invoke(app, ["export", "--to", url, "--db", db, "--yes"]).exit_code == 0
    assert {c.record.notes for c in _cards(url)} == {"all changed"}


def test_decision_exit_code_4_then_link_resolves_it(db: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'out'}"
    assert runner.invoke(app, ["export", "--to", url, "--db", db]).exit_code == 0
    store = open_folder(url)
    original = sorted(_cards(url), key=lambda c: c.item_id)[0]
    store.create(Contact(original.record, customer_id=original.customer_id))  # a copy
    store.close()
    got = runner.invoke(app, ["import", "--from", url, "--db", db, "--json"])
    assert got.exit_code == 4, got.output
    report = json.loads(got.stdout)["report"]
    (skipped,) = report["skipped"]
    assert "copied contact" in skipped["reason"] and skipped["name"] == original.display_name
    copy_id = skipped["item_id"]
    # The person decides: the copy is not that Person's contact.
    got = runner.invoke(
        app,
        [
            "unlink",
            "--folder",
            url,
            "--item",
            copy_id,
            "--person",
            original.customer_id,
            "--db",
            db,
        ],
    )
    assert got.exit_code == 0, got.output
    got = runner.invoke(app, ["import", "--from", url, "--db", db, "--json"])
    assert got.exit_code == 0, got.output
    assert json.loads(got.stdout)["report"]["counts"]["create-person"] == 1


def test_wizard_walks_the_steps_with_piped_answers(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no contact folders here: the folder is typed, not chosen
    url = f"vcf:{tmp_path / 'wiz'}"
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text("\r")  # direction: the first choice, export
        pipe.send_text("\x15" + url + "\r")  # folder: clear the default, type ours
        pipe.send_text("\r")  # view: All Persons
        pipe.send_text("\r")  # Finish? yes
        got = runner.invoke(app, ["wizard", "--db", db])
    assert got.exit_code == 0, got.output
    assert "Plan" in got.stdout and "clean" in got.stdout
    assert len(_cards(url)) == 8


def test_wizard_unattended_with_options(db: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'wiz'}"
    args = ["wizard", "--direction", "export", "--folder", url, "--view", "All Persons", "--yes"]
    got = runner.invoke(app, [*args, "--db", db])
    assert got.exit_code == 0, got.output
    assert len(_cards(url)) == 8


def test_demo_runs_the_main_job(tmp_path: Path) -> None:
    got = runner.invoke(app, ["demo", "--dir", str(tmp_path / "demo"), "--persons", "40"])
    assert got.exit_code == 0, got.output
    out = got.stdout
    for step in ("1. ", "2. ", "3. ", "4. ", "5. ", "6. ", "7. "):
        assert step in out
    assert "copied contact" in out  # the demo's copied contact is named, not guessed
    assert (tmp_path / "demo" / "contacts.csv").exists()


def test_delete_options_in_rules_and_on_the_command_line(db: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'out'}"
    pdb = PersonsDB(db)
    pdb.create_view("Engineers", "job_title = 'Engineer'")
    pdb.close()
    assert (
        runner.invoke(app, ["export", "--to", url, "--view", "Engineers", "--db", db]).exit_code
        == 0
    )
    got = runner.invoke(
        app,
        ["rules", "set", url, "--on-person-removed", "tag", "--crm-alone-creates", "--db", db],
    )
    assert got.exit_code == 0, got.output
    shown = runner.invoke(app, ["rules", "show", url, "--db", db])
    assert "a Person removed (deleted, or left the view): tag" in " ".join(shown.output.split())
    assert "new records: the CRM alone create" in " ".join(shown.output.split())
    data = json.loads(runner.invoke(app, ["rules", "show", url, "--db", db, "--json"]).output)
    assert (data["on_person_removed"], data["on_contact_deleted"], data["crm_alone_creates"]) == (
        "tag",
        None,
        True,
    )
    pdb = PersonsDB(db)
    pdb.update(1, {"job_title": "Retired"})  # leaves the view
    pdb.delete(2)
    pdb.close()
    # The folder's rule (tag), named per Person with why, in the plan people read.
    plan = runner.invoke(
        app, ["export", "--to", url, "--view", "Engineers", "--db", db, "--dry-run"]
    )
    text = " ".join(plan.output.split())
    assert "tag contact" in text and "Person 1 left the view" in text
    assert "Person 2 was deleted from the CRM" in text
    # The run's own option over the folder's, in the plan's JSON.
    got = runner.invoke(
        app,
        [
            "export",
            "--to",
            url,
            "--view",
            "Engineers",
            "--db",
            db,
            "--dry-run",
            "--json",
            "--on-person-removed",
            "delete",
        ],
    )
    actions = json.loads(got.output)["plan"]["actions"]
    assert sorted((a["action"], a["person_id"], a["why"]) for a in actions) == [
        ("delete-contact", 1, "left the view"),
        ("delete-contact", 2, "deleted"),
    ]
    bad = runner.invoke(app, ["export", "--to", url, "--db", db, "--on-person-removed", "burn"])
    assert bad.exit_code == 2


def test_plan_with_a_contact_deleted_in_the_folder_prints(db: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'out'}"
    assert runner.invoke(app, ["export", "--to", url, "--db", db]).exit_code == 0
    next((tmp_path / "out").iterdir()).unlink()  # deleted in Outlook
    got = runner.invoke(app, ["export", "--to", url, "--db", db, "--dry-run"])
    assert got.exit_code == 0, got.output  # was a KeyError in the plan's counts line
    assert "1 kept deleted" in " ".join(got.output.split())


def test_undo_names_a_pair_it_keeps_whole(tmp_path: Path) -> None:
    """`undo RUN` of a sync that made a Person of a new contact, the Person edited since: the
    dry run and the undo name the pair once, kept whole (the contact keeps its Customer ID and
    link), and the next sync brings the edit to the contact: no second Person, no second
    contact (issue #12)."""
    db = str(tmp_path / "p.db")
    url = f"vcf:{tmp_path / 'out'}"
    store = open_folder(url, create=True)
    store.create(Contact(Record(first_name="Ann", last_name="Lee")))
    store.close()
    assert runner.invoke(app, ["sync", "--folder", url, "--db", db, "--yes"]).exit_code == 0
    run_id = json.loads(runner.invoke(app, ["runs", "list", "--db", db, "--json"]).stdout)[0]["id"]
    pdb = PersonsDB(db)
    try:
        (pid,) = pdb.versions()
        pdb.update(pid, {"job_title": "Edited"})
    finally:
        pdb.close()
    (item,) = [c.item_id for c in _cards(url)]
    line = (
        f"not undone contact {item} in {url}: Person {pid} was edited since run {run_id}: kept, "
        "and so its contact keeps its Customer ID and link"
    )
    for dry in (["--dry-run"], []):
        got = runner.invoke(
            app, ["undo", run_id, "--db", db, "--yes", *dry], env={"COLUMNS": "250"}
        )
        said = " ".join(got.stdout.split())
        assert line in said and "1 not-undone" in said, got.output
        assert said.count(f"Person {pid}") == 1, got.output  # the pair, once
    assert runner.invoke(app, ["sync", "--folder", url, "--db", db, "--yes"]).exit_code == 0
    (card,) = _cards(url)
    assert card.customer_id == str(pid) and card.record.job_title == "Edited"
    pdb = PersonsDB(db)
    try:
        assert list(pdb.versions()) == [pid]
    finally:
        pdb.close()
