"""Two-way sync (`personsync sync`): one planner and executor with export and import, field by
field against the baseline. Real vCard folders and files, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from folder_help import by_cid, contacts, edit
from sync_fakes import records as generate

from personsync.model import Contact, Record, diff
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.sync import engine
from personsync.sync.options import RunOptions
from personsync.sync.undo import undo


@pytest.fixture(params=["vcf", "vcf-file", "csv"])
def folder_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return {
        "vcf": f"vcf:{tmp_path / 'contacts'}",
        "vcf-file": f"vcf-file:{tmp_path / 'contacts.vcf'}",
        "csv": f"csv:{tmp_path / 'contacts.csv'}",
    }[request.param]


def test_two_way_sync(db_url: str, folder_url: str) -> None:
    db = PersonsDB(db_url)
    try:
        records = list(generate(6, 11))
        ids = db.add_many(records[:5])
        # The folder starts with a copy of Person 0 (unlinked: matched, not duplicated) and a
        # contact of someone the CRM does not know.
        store = open_folder(folder_url, create=True)
        store.create(Contact(records[0]))
        store.create(Contact(records[5]))
        store.close()

        first = engine.run(db, folder_url, "sync", options=RunOptions(yes=True))
        assert first.report is not None and first.report.exit_code == 0, first.report.to_dict()
        assert first.report.counts["create-contact"] == 4
        assert first.report.counts["create-person"] == 1
        assert db.count() == 6 and len(contacts(folder_url)) == 6
        unsupported = open_folder(folder_url).capabilities.unsupported_fields
        for c in contacts(folder_url):
            person = db.get(int(c.customer_id))
            assert set(diff(person.record, c.record)) <= unsupported

        a, b, c, d = (str(i) for i in ids[1:5])
        db.update(int(a), {"job_title": "Treasurer"})  # CRM only
        edit(folder_url, b, department="Outlook Dept")  # Outlook only
        db.update(int(c), {"company": "ACME"})  # both: a conflict
        edit(folder_url, c, company="Umbrella Ltd", home_city="Leeds")
        # E-mails added on each side both survive.
        d_mail = db.get(int(d)).record.email1
        db.update(int(d), {"email1": d_mail, "email2": "crm@example.org", "email3": ""})
        edit(folder_url, d, email2="outlook@example.org", email3="")

        second = engine.run(db, folder_url, "sync")
        assert second.report is not None
        # The conflict is a decision: exit 4, both values named, each side keeps its own.
        assert second.report.exit_code == 4
        assert [(x["field"], x["crm"], x["outlook"]) for x in second.report.decisions()] == [
            ("company", "ACME", "Umbrella Ltd")
        ]
        now = by_cid(folder_url)
        assert now[a].record.job_title == "Treasurer"
        assert db.get(int(b)).record.department == "Outlook Dept"
        assert now[c].record.company == "Umbrella Ltd"
        assert db.get(int(c)).record.company == "ACME"
        assert db.get(int(c)).record.home_city == "Leeds"  # the pair's other field flowed
        mails = {db.get(int(d)).record.email2, db.get(int(d)).record.email3}
        assert mails == {"crm@example.org", "outlook@example.org"}
        outlook_mails = {now[d].record.email2, now[d].record.email3}
        if "email3" not in unsupported:
            assert outlook_mails == mails

        # Both sides agree on every field except the conflict; a second run writes nothing.
        for cid, contact in by_cid(folder_url).items():
            left = set(diff(db.get(int(cid)).record, contact.record)) - unsupported
            assert left == ({"company"} if cid == c else set())
        third = engine.run(db, folder_url, "sync")
        assert third.plan.changes() == 0 and len(third.plan.conflicts()) == 1

        # Settled: the CRM's value goes to Outlook; then nothing is left.
        settled = engine.run(db, folder_url, "sync", options=RunOptions(on_conflict="crm"))
        assert settled.report is not None and settled.report.exit_code == 0
        assert by_cid(folder_url)[c].record.company == "ACME"
        assert engine.run(db, folder_url, "sync").plan.changes() == 0

        # Undo of the second run takes both sides' writes back.
        assert undo(db, second.report.run_id).counts
        assert db.get(int(b)).record.department != "Outlook Dept"
    finally:
        db.close()


def test_sync_cli_dry_run_names_conflicts(sqlite_url: str, tmp_path: Path) -> None:
    folder = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        (pid,) = db.add_many([Record(first_name="Ada", last_name="Lovelace", company="Base")])
        engine.run(db, folder, "sync")
        db.update(pid, {"company": "ACME"})
        edit(folder, str(pid), company="Umbrella Ltd")
    finally:
        db.close()
    cmd = [sys.executable, "-m", "personsync", "sync", "--folder", folder, "--db", sqlite_url]
    dry = subprocess.run([*cmd, "--dry-run", "--json"], capture_output=True, text=True, check=False)
    assert dry.returncode == 0, dry.stderr
    (action,) = json.loads(dry.stdout)["plan"]["actions"]
    assert action["conflicts"][0]["crm"] == "ACME"
    assert action["conflicts"][0]["outlook"] == "Umbrella Ltd"
    wide = {**os.environ, "COLUMNS": "250"}
    shown = subprocess.run(cmd, capture_output=True, text=True, check=False, env=wide)
    assert shown.returncode == 4
    assert "company: CRM ACME · Outlook Umbrella Ltd (changed on both sides)" in shown.stdout


def test_sync_names_a_new_card_it_cannot_read_and_goes_on(db_url: str, tmp_path: Path) -> None:
    # A card Outlook or a person left broken in the folder: the sync says which file and why,
    # as an import does, and the other contacts get their Persons.
    folder = tmp_path / "contacts"
    url = f"vcf:{folder}"
    db = PersonsDB(db_url)
    try:
        store = open_folder(url, create=True)
        store.create(Contact(Record(first_name="Ann", last_name="Lee", email1="ann@example.org")))
        store.close()
        (folder / "broken.vcf").write_bytes(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Half a card\r\n")
        result = engine.run(db, url, "sync", options=RunOptions(yes=True))
        report = result.report
        assert report is not None and db.count() == 1
        skipped = report.to_dict()["skipped"]
        assert [s["item_id"] for s in skipped] == ["broken"], skipped
        assert "broken.vcf" in skipped[0]["reason"]
        assert report.exit_code != 0
    finally:
        db.close()
