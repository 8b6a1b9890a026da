"""Three-way, per field (sync/merge.py): each side against the link's baseline.

The decision table row by row on the pure function, then the issue's own cases end to end on a
real vCard folder and SQLite / PostgreSQL: an import after `persons edit company=ACME` while
Outlook says "Umbrella Ltd" names the conflict with both values, the journal keeps the losing
value and `undo` brings it back; an export names the phone changed in Outlook it reverts;
`--on-conflict skip` leaves both and decides the same on the next run.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from folder_help import by_cid, edit
from sync_fakes import records as generate

from personsync.model import Record
from personsync.persons.repo import PersonsDB
from personsync.sync import engine
from personsync.sync.journal import entries
from personsync.sync.merge import merge_set, three_way
from personsync.sync.options import RunOptions
from personsync.sync.undo import undo

B = Record(first_name="Ada", company="Base Ltd", mobile_phone="+44 7700 900001")


def test_changed_on_one_side_flows_named_only_when_reverted() -> None:
    crm = replace(B, company="ACME")  # changed in the CRM only
    fp = three_way(crm, B, B, "export")
    assert fp.to_outlook == {"company": "ACME"} and not fp.conflicts and fp.settled
    # An import would revert the CRM's edit: it does (its source wins), and names it.
    fp = three_way(crm, B, B, "import")
    assert fp.to_crm == {"company": "Base Ltd"}
    (c,) = fp.conflicts
    assert (c.field, c.crm, c.outlook, c.baseline, c.why, c.kept) == (
        "company",
        "ACME",
        "Base Ltd",
        "Base Ltd",
        "changed in the CRM only",
        "outlook",
    )


def test_changed_on_both_sides() -> None:
    crm, outlook = replace(B, company="ACME"), replace(B, company="Umbrella Ltd")
    # To the same value: nothing to do, nothing named.
    assert not three_way(crm, crm, B, "sync").conflicts
    # To different values: a conflict for that field only; the other fields still flow.
    outlook = replace(outlook, first_name="Ada L.")
    fp = three_way(crm, outlook, B, "sync")
    assert fp.to_crm == {"first_name": "Ada L."} and fp.to_outlook == {}
    (c,) = fp.conflicts
    assert (c.field, c.crm, c.outlook, c.why, c.kept) == (
        "company",
        "ACME",
        "Umbrella Ltd",
        "changed on both sides",
        "",
    )
    # Left as it is: the baseline keeps the old value, so the next run decides the same.
    assert not fp.settled and fp.baseline.company == "Base Ltd"
    assert fp.baseline.first_name == "Ada L."
    assert three_way(crm, outlook, B, "sync", "crm").to_outlook["company"] == "ACME"
    assert three_way(crm, outlook, B, "sync", "outlook").to_crm["company"] == "Umbrella Ltd"
    # A one-way run cannot write its source: keeping the target's value leaves the field.
    kept = three_way(crm, outlook, B, "export", "outlook")
    assert "company" not in kept.to_outlook and not kept.settled
    assert not three_way(crm, outlook, B, "export", "newest").settled


def test_first_pairing_without_baseline() -> None:
    crm, outlook = replace(B, company=""), replace(B, company="Umbrella Ltd", department="R&D")
    assert three_way(crm, outlook, None, "export").to_outlook == {
        "company": "",
        "department": "",
    }
    # Two-way fills the empty side.
    fp = three_way(crm, outlook, None, "sync")
    assert fp.to_crm == {"company": "Umbrella Ltd", "department": "R&D"} and fp.settled
    both = three_way(replace(B, company="ACME"), outlook, None, "sync")
    assert [c.why for c in both.conflicts] == ["differ at the first sync"]


def test_emails_and_categories_merge_as_sets_in_two_way() -> None:
    base = replace(B, email1="ada@x.org", categories=("Members",))
    crm = replace(base, email2="ada@crm.org", categories=("Members", "Board"))
    outlook = replace(base, email1="ADA@x.org", email2="ada@home.net", categories=())
    fp = three_way(crm, outlook, base, "sync")
    # Both added addresses survive, in Outlook's slot order; Outlook removed "Members".
    assert fp.to_outlook == {"email3": "ada@crm.org", "categories": ("Board",)}
    assert fp.to_crm == {
        "email2": "ada@home.net",
        "email3": "ada@crm.org",
        "categories": ("Board",),
    }
    assert not fp.conflicts
    assert merge_set(["a", "b"], ["b", "c"], ["a", "b"]) == ["b", "c"]


def test_first_two_way_pairing_merges_emails_as_the_next_run_would() -> None:
    """Found by the state machine: a first pairing named differing e-mails a decision, then the
    next run (with a baseline) merged them, so a second identical run planned writes."""
    crm = replace(B, email1="a@x.org", email2="w@x.org")
    outlook = replace(B, email1="c@x.org", email2="w@x.org")
    first = three_way(crm, outlook, None, "sync")
    assert not first.conflicts and first.settled
    assert first.to_crm == {"email1": "c@x.org", "email3": "a@x.org"}
    assert first.to_outlook == {"email3": "a@x.org"}
    # Both sides now agree, and the agreed baseline plans nothing more.
    crm2, outlook2 = crm.replace(first.to_crm), outlook.replace(first.to_outlook)
    again = three_way(crm2, outlook2, first.baseline, "sync")
    assert not again.to_crm and not again.to_outlook and not again.conflicts


def test_import_names_the_conflict_journals_the_loser_and_undo_restores(
    db_url: str, tmp_path: Path
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids = db.add_many(list(generate(3, 4)))
        assert engine.run(db, url, "export").report is not None
        pid = ids[1]
        db.update(pid, {"company": "ACME"})
        edit(url, str(pid), company="Umbrella Ltd")

        dry = engine.run(db, url, "import", options=RunOptions(dry_run=True))
        (named,) = dry.plan.conflicts()
        assert named[1].to_dict() | {"baseline": None} == {
            "field": "company",
            "crm": "ACME",
            "outlook": "Umbrella Ltd",
            "baseline": None,
            "why": "changed on both sides",
            "kept": "outlook",
        }
        out = engine.run(db, url, "import")
        assert out.report is not None and out.report.exit_code == 0
        assert [
            (c["person_id"], c["field"], c["crm"], c["outlook"]) for c in out.report.conflicts
        ] == [(pid, "company", "ACME", "Umbrella Ltd")]
        assert db.get(pid).record.company == "Umbrella Ltd"
        (entry,) = [e for e in entries(db.engine, out.report.run_id) if e["side"] == "person"]
        assert entry["before"]["changes"] == {"company": "ACME"}
        # undo brings the losing value back.
        undone = undo(db, out.report.run_id)
        assert undone.exit_code == 0
        assert db.get(pid).record.company == "ACME"
    finally:
        db.close()


def test_export_names_the_outlook_edit_it_reverts(db_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids = db.add_many(list(generate(3, 4)))
        engine.run(db, url, "export")
        pid = ids[0]
        edit(url, str(pid), mobile_phone="+1 202 555 0147")
        before = db.get(pid).record.mobile_phone
        out = engine.run(db, url, "export")
        assert out.report is not None
        (c,) = out.report.conflicts
        assert (c["field"], c["outlook"], c["why"], c["kept"]) == (
            "mobile_phone",
            "+1 202 555 0147",
            "changed in Outlook only",
            "crm",
        )
        assert by_cid(url)[str(pid)].record.mobile_phone == before
        # The journal holds the contact as it was: the Outlook edit is not lost.
        (entry,) = [e for e in entries(db.engine, out.report.run_id) if e["side"] == "contact"]
        assert entry["before"]["record"]["mobile_phone"] == "+1 202 555 0147"
    finally:
        db.close()


def test_skip_leaves_both_and_the_next_run_decides_the_same(db_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids = db.add_many(list(generate(3, 4)))
        engine.run(db, url, "export")
        pid = ids[2]
        db.update(pid, {"company": "ACME", "job_title": "CEO"})
        edit(url, str(pid), company="Umbrella Ltd")
        for _ in range(2):
            out = engine.run(db, url, "export", options=RunOptions(on_conflict="skip"))
            assert out.report is not None and out.report.exit_code == 4
            assert [(c["field"], c["kept"]) for c in out.report.decisions()] == [
                ("company", "both (a decision)")
            ]
            contact = by_cid(url)[str(pid)]
            # The other field flowed; the conflicted one stayed as it is on each side.
            assert contact.record.job_title == "CEO"
            assert contact.record.company == "Umbrella Ltd"
            assert db.get(pid).record.company == "ACME"
        settled = engine.run(db, url, "export", options=RunOptions(on_conflict="crm"))
        assert settled.report is not None and settled.report.exit_code == 0
        assert by_cid(url)[str(pid)].record.company == "ACME"
        again = engine.run(db, url, "export")
        assert again.plan.changes() == 0 and not again.plan.conflicts()
    finally:
        db.close()
