"""Field rules per folder (`personsync rules`) and settling decisions (`personsync resolve`),
through the real CLI, a vCard folder and SQLite / PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from folder_help import cli, contacts, edit

from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.sync import engine
from personsync.sync.options import RunOptions
from personsync.sync.report import UNSETTLED
from personsync.sync.resolve import resolve
from personsync.sync.undo import undo


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


def _conflicted(db: PersonsDB, url: str, **outlook: str) -> tuple[int, engine.Outcome]:
    """Ada synced, then company (and notes) changed in the CRM and `outlook` in the contact;
    the sync that names the conflicts (exit 4)."""
    (pid,) = db.add_many([ADA])
    engine.run(db, url, "sync", options=RunOptions(yes=True))
    db.update(pid, {"company": "ACME", "notes": "crm notes"})
    edit(url, str(pid), **outlook)
    out = engine.run(db, url, "sync", options=RunOptions(yes=True))
    assert out.report is not None and out.report.exit_code == 4
    return pid, out


def test_resolve_settles_a_runs_decisions(db_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        pid, out = _conflicted(db, url, company="Umbrella Ltd", notes="outlook notes")
        assert out.report is not None
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


@pytest.mark.parametrize("take", ["outlook", "crm"])
def test_undoing_a_resolve_names_the_conflict_again(db_url: str, tmp_path: Path, take: str) -> None:
    """Undoing a `resolve` brings the conflict back as a decision: the Person or contact gets
    its old value, and the link its old baseline, so the next `sync` names the conflict again
    (until 2026-12-06 the link kept the resolved baseline, and the next sync took the restored
    value for a new edit and wrote it over the other side)."""
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        pid, named = _conflicted(db, url, company="Umbrella Ltd")
        assert named.report is not None
        # notes flowed to Outlook (changed in the CRM only); company is the decision.
        contact = _only(url)
        assert contact.record.notes == "crm notes"

        settled = resolve(db, named.report.run_id, take)
        assert settled.report is not None and settled.report.exit_code == 0
        contact = _only(url)
        winner = "Umbrella Ltd" if take == "outlook" else "ACME"
        assert db.get(pid).record.company == contact.record.company == winner

        undone = undo(db, settled.report.run_id, options=RunOptions(yes=True))
        assert undone.counts.get("undone") == 1, undone.to_dict()
        contact = _only(url)
        assert db.get(pid).record.company == "ACME"
        assert contact.record.company == "Umbrella Ltd"

        # The conflict is back, with the baseline both sides had agreed on before it.
        again = engine.run(db, url, "sync", options=RunOptions(yes=True))
        assert again.report is not None and again.report.exit_code == 4
        assert [
            (c["field"], c["crm"], c["outlook"], c["baseline"], c["kept"])
            for c in again.report.conflicts
        ] == [("company", "ACME", "Umbrella Ltd", "Analytical", UNSETTLED)]
        contact = _only(url)
        assert db.get(pid).record.company == "ACME"
        assert contact.record.company == "Umbrella Ltd"
        # The field that flowed before the conflict stays agreed.
        assert db.get(pid).record.notes == contact.record.notes == "crm notes"
    finally:
        db.close()
