"""End to end: real Persons databases (SQLite and PostgreSQL, fixture `db_url`) against every
file store and the in-memory one, and the real vCards Outlook wrote."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sync_fakes import records as generate

from personsync.model import Contact, diff
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.stores.base import read_all
from personsync.sync import engine
from personsync.sync.links import Links
from personsync.sync.options import RunOptions
from realworld import real_vcards


@pytest.fixture(params=["memory", "vcf", "vcf-file", "csv"])
def folder_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return {
        "memory": f"memory:e2e-{uuid.uuid4().hex[:8]}",
        "vcf": f"vcf:{tmp_path / 'contacts'}",
        "vcf-file": f"vcf-file:{tmp_path / 'contacts.vcf'}",
        "csv": f"csv:{tmp_path / 'contacts.csv'}",
    }[request.param]


def _contacts(url: str) -> list[Contact]:
    store = open_folder(url, create=False)
    try:
        return sorted(
            (c for c in read_all(store) if isinstance(c, Contact)), key=lambda c: c.item_id
        )
    finally:
        store.close()


def test_export_change_import_roundtrip(db_url: str, folder_url: str) -> None:
    db = PersonsDB(db_url)
    try:
        ids = db.add_many(list(generate(12, 5)))
        out = engine.run(db, folder_url, "export")
        assert out.report is not None and out.report.exit_code == 0, out.report.to_dict()
        assert out.report.counts["create-contact"] == 12
        contacts = _contacts(folder_url)
        assert sorted(int(c.customer_id) for c in contacts) == sorted(ids)
        unsupported = open_folder(folder_url).capabilities.unsupported_fields
        for c in contacts:
            person = db.get(int(c.customer_id))
            assert person.contact_manager_id == c.item_id
            assert set(diff(person.record, c.record)) <= unsupported

        # A no-op export plans nothing, and reads nothing it need not.
        assert (
            engine.run(db, folder_url, "export", options=RunOptions(dry_run=True)).plan.changes()
            == 0
        )

        # Edit two contacts as Outlook would, then import them back.
        store = open_folder(folder_url, create=False)
        try:
            for c in contacts[:2]:
                new = c.record.replace({"job_title": "Head of Sales", "notes": "edited"})
                store.update(c, replace(c, record=new))
        finally:
            store.close()
        imported = engine.run(db, folder_url, "import")
        assert imported.plan.counts()["update-person"] == 2
        assert imported.plan.counts()["create-person"] == 0
        for c in contacts[:2]:
            assert db.get(int(c.customer_id)).record.job_title == "Head of Sales"
        # Both directions are now in step.
        assert (
            engine.run(db, folder_url, "import", options=RunOptions(dry_run=True)).plan.changes()
            == 0
        )
        assert (
            engine.run(db, folder_url, "export", options=RunOptions(dry_run=True)).plan.changes()
            == 0
        )
        assert db.count() == 12 and len(_contacts(folder_url)) == 12
    finally:
        db.close()


def test_import_real_outlook_vcards(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "outlook"
    folder.mkdir()
    for f in real_vcards().glob("*.vcf"):
        shutil.copy(f, folder / f.name)
    url = f"vcf:{folder}"
    db = PersonsDB(db_url)
    try:
        out = engine.run(db, url, "import")
        assert out.report is not None and not out.report.errors, out.report.to_dict()
        created = out.report.counts.get("create-person", 0)
        assert created == len(_contacts(url)) >= 4
        # rfc2426-example.vcf holds two cards: the file is reported, neither card is synced.
        assert [s["item_id"] for s in out.report.skipped] == ["rfc2426-example"]
        names = {p.record.last_name for p in db.iter_persons()}
        assert "Doe" in names  # John_Doe_MS_OUTLOOK.vcf
        # Customer IDs were written back into the cards; nothing else of them was lost.
        for c in _contacts(url):
            assert c.customer_id and not diff(db.get(int(c.customer_id)).record, c.record)
        # The links hold the new Persons' real versions (known, not read back), so the next run
        # finds every pair in step without reading it.
        links = Links(db.engine, url).load()
        assert {pid: link.person_version for pid, link in links.items()} == db.versions()
        again = engine.run(db, url, "import", options=RunOptions(dry_run=True)).plan
        assert again.changes() == 0 and again.unchanged == created
        assert engine.run(db, url, "export", options=RunOptions(dry_run=True)).plan.changes() == 0
        text = (folder / "outlook-2007.vcf").read_text(encoding="utf-8", errors="replace")
        assert "X-MS-" in text or "PHOTO" in text  # Outlook's own lines are kept
    finally:
        db.close()


def test_export_view_leaves_other_contacts_alone(db_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'c'}"
    db = PersonsDB(db_url)
    try:
        records = list(generate(10, 9))
        ids = db.add_many(records)
        engine.run(db, url, "export")
        db.create_view("first five", f"id <= {sorted(ids)[4]}")
        for pid in ids:
            db.update(pid, {"notes": "changed"})
        out = engine.run(db, url, "export", view="first five", options=RunOptions(yes=True))
        assert out.plan.counts()["update-contact"] == 5
        notes = {int(c.customer_id): c.record.notes for c in _contacts(url)}
        assert sorted(p for p, n in notes.items() if n == "changed") == sorted(ids)[:5]
    finally:
        db.close()
