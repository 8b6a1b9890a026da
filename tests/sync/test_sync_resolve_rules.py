"""`personsync resolve` against the folder's field rules (issue 12): the side a person takes for
a listed conflict overrides the guards of automatic flows ("fill only if empty", "never blank
out") for that field of that pair, and says so; a direction rule that bars the side taken
refuses the field by name, while the pair's other fields are settled. Through the real CLI, a
vCard folder and SQLite / PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

from folder_help import cli, contacts, edit

from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.sync import engine
from personsync.sync.merge import FieldRule, three_way
from personsync.sync.options import RunOptions
from personsync.sync.report import UNSETTLED
from personsync.sync.resolve import resolve
from personsync.sync.settings import set_rule
from personsync.sync.undo import undo

ADA = Record(first_name="Ada", last_name="Lovelace", company="Analytical", job_title="Countess")
WIDE = {"COLUMNS": "1000"}  # the messages name the folder twice: no wrapping in the middle


def _only(url: str) -> Contact:
    (found,) = contacts(url)
    return found


def _listed(db: PersonsDB, url: str, crm: dict[str, str], outlook: dict[str, str]) -> str:
    """Ada synced, then `crm` changed in the CRM and `outlook` in the contact; the id of the
    sync that lists each field as a decision."""
    (pid,) = db.add_many([ADA])
    engine.run(db, url, "sync", options=RunOptions(yes=True))
    db.update(pid, crm)
    edit(url, str(pid), **outlook)
    out = engine.run(db, url, "sync", options=RunOptions(yes=True))
    assert out.report is not None
    assert sorted((c["field"], c["kept"]) for c in out.report.conflicts) == [
        (f, UNSETTLED) for f in sorted(crm)
    ]
    return out.report.run_id


def test_taking_an_empty_value_overrides_never_blank_out(db_url: str, tmp_path: Path) -> None:
    """company is "never blank out" into the CRM by default: `resolve --take outlook` of an
    emptied company wrote nothing and left the decision listed for ever."""
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        _listed(db, url, {"company": "ACME"}, {"company": ""})
        (pid,) = db.versions(None)
    finally:
        db.close()
    took = cli("resolve", str(pid), "--folder", url, "--take", "outlook", "--db", db_url, "--json")
    assert took.returncode == 0, took.stdout + took.stderr
    report = json.loads(took.stdout)["report"]
    assert [(c["field"], c["kept"], c.get("rule")) for c in report["conflicts"]] == [
        ("company", "outlook", "never blank out")
    ]
    db = PersonsDB(db_url)
    try:
        assert db.get(pid).record.company == _only(url).record.company == ""
        after = engine.run(db, url, "sync", options=RunOptions(dry_run=True))
        assert after.plan.changes() == 0 and not after.plan.conflicts()
        # Journaled as every write: undo gives the CRM its value back, and the decision.
        undone = undo(db, report["run"], options=RunOptions(yes=True))
        assert undone.counts.get("undone") == 1, undone.to_dict()
        assert db.get(pid).record.company == "ACME"
        again = engine.run(db, url, "sync", options=RunOptions(dry_run=True))
        assert [(c.field, c.kept) for _, c in again.plan.conflicts()] == [("company", "")]
    finally:
        db.close()


def test_the_report_says_which_guard_the_choice_overrode(db_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        run = _listed(db, url, {"job_title": "Engineer"}, {"job_title": "Analyst"})
        set_rule(db.engine, url, "job_title", fill_only_if_empty=True)
    finally:
        db.close()
    took = cli("resolve", run, "--take", "outlook", "--db", db_url, env=WIDE)
    assert took.returncode == 0, took.stdout + took.stderr
    assert "job_title: rule 'fill only if empty' overridden by your choice" in took.stdout
    assert _only(url).record.job_title == "Analyst"


def test_a_direction_rule_refuses_the_field_and_the_others_are_settled(
    db_url: str, tmp_path: Path
) -> None:
    """job_title changed to "to Outlook only" after the conflict was listed: `resolve --take
    outlook` wrote the CRM's job_title into Outlook (the Person's whole pair), or left it a
    decision without a word (the field named)."""
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        run = _listed(
            db,
            url,
            {"company": "ACME", "job_title": "Engineer"},
            {"company": "Umbrella Ltd", "job_title": "Analyst"},
        )
        (pid,) = db.versions(None)
        set_rule(db.engine, url, "job_title", flow="to-outlook")
    finally:
        db.close()
    why = (
        f"job_title flows to Outlook only (personsync rules show {url}): take crm, or change "
        f"the rule with personsync rules set {url} job_title --direction both"
    )
    person = ("resolve", str(pid), "--folder", url, "--db", db_url)

    # The one field asked for is refused: a usage error, no run made.
    one = cli(*person, "--take", "outlook", "--field", "job_title", env=WIDE)
    assert one.returncode == 2, one.stdout + one.stderr
    assert why in one.stderr

    # The whole pair: company settled, job_title refused and named, exit 4 (a decision left).
    both = cli(*person, "--take", "outlook", env=WIDE)
    assert both.returncode == 4, both.stdout + both.stderr
    assert why in both.stdout
    made = re.search(r"^Run (\S+) ", both.stdout, re.M)
    assert made is not None
    shown = cli("runs", "show", made.group(1), "--db", db_url, env=WIDE)  # and the journal
    assert why in shown.stdout, shown.stdout
    db = PersonsDB(db_url)
    try:
        crm, outlook = db.get(pid).record, _only(url).record
        assert crm.company == outlook.company == "Umbrella Ltd"
        assert (crm.job_title, outlook.job_title) == ("Engineer", "Analyst")

        # Not synced at all: the run's conflicts, taken as a whole, name job_title so.
        set_rule(db.engine, url, "job_title", flow="none")
        whole = resolve(db, run, "crm")
        assert whole.report is not None and whole.report.exit_code == 4
        assert [(c["field"], c["kept"], c.get("rule")) for c in whole.report.conflicts] == [
            ("job_title", UNSETTLED, "none")
        ]
        assert (db.get(pid).record.job_title, _only(url).record.job_title) == (
            "Engineer",
            "Analyst",
        )

        # The side the rule lets through settles it.
        set_rule(db.engine, url, "job_title", flow="to-outlook")
        crm_side = resolve(db, str(pid), "crm", folder=url)
        assert crm_side.report is not None and crm_side.report.exit_code == 0
        assert db.get(pid).record.job_title == _only(url).record.job_title == "Engineer"
        after = engine.run(db, url, "sync", options=RunOptions(dry_run=True))
        assert after.plan.changes() == 0 and not after.plan.conflicts()
    finally:
        db.close()


def test_an_edit_a_one_way_field_puts_back_is_a_conflict_the_choice_settles_too() -> None:
    """notes "to Outlook only" and "fill only if empty", edited in Outlook: a sync puts the
    CRM's notes back, but the guard refuses it, so the sync lists a decision. Taking the CRM's
    value settles it (the guard overridden); taking Outlook's is refused by the direction."""
    crm, base = Record(notes="from the CRM"), Record(notes="from the CRM")
    outlook = Record(notes="typed in Outlook")
    rules = {"notes": FieldRule("to-outlook", fill_only_if_empty=True)}
    plain = three_way(crm, outlook, base, "sync", "crm", rules=rules)
    assert [(c.why, c.kept) for c in plain.conflicts] == [("changed in Outlook only", "")]
    chosen = three_way(crm, outlook, base, "sync", "crm", rules=rules, explicit=True)
    assert chosen.to_outlook == {"notes": "from the CRM"} and not chosen.left
    assert [(c.kept, c.rule) for c in chosen.conflicts] == [("crm", "fill only if empty")]
    refused = three_way(crm, outlook, base, "sync", "outlook", rules=rules, explicit=True)
    assert not refused.to_crm and not refused.to_outlook and refused.left == ("notes",)
    assert [(c.kept, c.rule) for c in refused.conflicts] == [("", "to-outlook")]
