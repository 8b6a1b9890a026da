"""Field rules per folder (`personsync rules`) and settling decisions (`personsync resolve`),
through the real CLI, a vCard folder and SQLite / PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from folder_help import cli, contacts, edit

from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.sync import engine
from personsync.sync.options import RunOptions


def _only(url: str) -> Contact:
    (found,) = contacts(url)
    return found


ADA = Record(first_name="Ada", last_name="Lovelace", company="Analytical", notes="first")


def test_direction_rule_and_never_blank(db_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        (pid,) = db.add_many([ADA])
        engine.run(db, url, "sync", options=RunOptions(yes=True))
        set_rule = cli("rules", "set", url, "notes", "--direction", "to-outlook", "--db", db_url)
        assert set_rule.returncode == 0, set_rule.stderr
        shown = json.loads(cli("rules", "show", url, "--db", db_url, "--json").stdout)
        assert shown["rules"]["notes"]["flow"] == "to-outlook"

        # notes: CRM → Outlook only (the CRM owns it). An Outlook edit is not taken, and is
        # put back, named; a CRM edit flows.
        edit(url, str(pid), notes="typed in Outlook")
        out = engine.run(db, url, "sync", options=RunOptions(yes=True))
        assert db.get(pid).record.notes == "first"
        assert out.report is not None
        assert [(c["field"], c["why"], c["kept"]) for c in out.report.conflicts] == [
            ("notes", "changed in Outlook only", "crm")
        ]
        assert _only(url).record.notes == "first"
        db.update(pid, {"notes": "from the CRM"})
        engine.run(db, url, "sync", options=RunOptions(yes=True))
        assert _only(url).record.notes == "from the CRM"

        # Never blank out: on by default for company into the CRM, even for an import.
        edit(url, str(pid), company="")
        out = engine.run(db, url, "import", options=RunOptions(yes=True))
        assert db.get(pid).record.company == "Analytical"
        assert out.report is not None and out.report.exit_code == 0
        assert cli("rules", "set", url, "company", "--allow-blank", "--db", db_url).returncode == 0
        engine.run(db, url, "import", options=RunOptions(yes=True))
        assert db.get(pid).record.company == ""
    finally:
        db.close()


def test_resolve_settles_a_runs_decisions(db_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        (pid,) = db.add_many([ADA])
        engine.run(db, url, "sync", options=RunOptions(yes=True))
        db.update(pid, {"company": "ACME", "notes": "crm notes"})
        edit(url, str(pid), company="Umbrella Ltd", notes="outlook notes")
        out = engine.run(db, url, "sync", options=RunOptions(yes=True))
        assert out.report is not None and out.report.exit_code == 4
        run = out.report.run_id
        # Nothing else of the pair changed: each conflict is still named by its Person's name.
        assert [(c["name"], c["field"]) for c in out.report.conflicts] == [
            ("Ada Lovelace", "company"),
            ("Ada Lovelace", "notes"),
        ]
    finally:
        db.close()

    # The command's report says how to settle what it left.
    again = cli("sync", "--folder", url, "--db", db_url)
    assert again.returncode == 4, again.stdout + again.stderr
    assert "conflict Ada Lovelace: company: CRM ACME · Outlook Umbrella Ltd" in again.stdout
    assert "settle with: personsync resolve " in again.stdout
    # A field name mistyped is a usage error naming the nearest field, not "nothing to do".
    typo = cli(
        "resolve", str(pid), "--folder", url, "--take", "crm", "--field", "compnay", "--db", db_url
    )
    assert typo.returncode == 2 and "did you mean company?" in typo.stderr, typo.stderr
    typo = cli("rules", "set", url, "compnay", "--direction", "none", "--db", db_url)
    assert typo.returncode == 2 and "did you mean company?" in typo.stderr, typo.stderr

    # Only company: notes stays a decision.
    first = cli("resolve", run, "--take", "outlook", "--field", "company", "--db", db_url)
    assert first.returncode == 0, first.stdout + first.stderr
    db = PersonsDB(db_url)
    try:
        assert db.get(pid).record.company == "Umbrella Ltd"
        assert _only(url).record.company == "Umbrella Ltd"
        assert db.get(pid).record.notes == "crm notes"
        assert _only(url).record.notes == "outlook notes"
        left = engine.run(db, url, "sync", options=RunOptions(dry_run=True))
        assert [c.field for _, c in left.plan.conflicts()] == ["notes"]
    finally:
        db.close()
    by_person = cli("resolve", str(pid), "--folder", url, "--take", "crm", "--db", db_url)
    assert by_person.returncode == 0, by_person.stdout + by_person.stderr
    assert _only(url).record.notes == "crm notes"
    again = cli("resolve", run, "--take", "crm", "--field", "nickname", "--db", db_url)
    assert again.returncode == 2 and "no conflict to resolve" in again.stderr
    db = PersonsDB(db_url)
    try:
        done = engine.run(db, url, "sync", options=RunOptions(dry_run=True))
        assert done.plan.changes() == 0 and not done.plan.conflicts()
    finally:
        db.close()


def test_a_one_way_run_leaves_a_field_that_flows_the_other_way_only(
    db_url: str, tmp_path: Path
) -> None:
    """Found by the state machine: with notes "to Outlook only", an import wrote the contact's
    old notes over the CRM's new ones, silently (the three-way kept the CRM's value, and the
    import took the contact's record whole); an export did the same to a "to the CRM only"
    field in the contact. A one-way run now leaves such a field on both sides."""
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        (pid,) = db.add_many([ADA])
        engine.run(db, url, "sync", options=RunOptions(yes=True))
        for field, way in (("notes", "to-outlook"), ("company", "to-crm")):
            assert (
                cli("rules", "set", url, field, "--direction", way, "--db", db_url).returncode == 0
            )
        db.update(pid, {"notes": "from the CRM"})
        edit(url, str(pid), company="Typed in Outlook")
        imported = engine.run(db, url, "import", options=RunOptions(yes=True))
        assert imported.report is not None and imported.report.exit_code == 0
        assert db.get(pid).record.notes == "from the CRM"
        assert db.get(pid).record.company == "Typed in Outlook"
        db.update(pid, {"company": "Edited in the CRM"})
        exported = engine.run(db, url, "export", options=RunOptions(yes=True))
        assert exported.report is not None and exported.report.exit_code == 0
        assert _only(url).record.notes == "from the CRM"
        assert _only(url).record.company == "Typed in Outlook"
        # A two-way sync puts the owners' values on both sides.
        engine.run(db, url, "sync", options=RunOptions(yes=True))
        assert db.get(pid).record.company == "Typed in Outlook"
        assert _only(url).record.notes == "from the CRM"
    finally:
        db.close()
