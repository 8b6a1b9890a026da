"""Deletes (keep, the default): a contact deleted in the folder is not re-created (its Person
stays and is named once; `--recreate` brings it back), a Person deleted in the CRM leaves its
contact and no standing decision. Real vCard folder, SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from folder_help import by_cid, delete
from sync_fakes import records as generate

from personsync.persons.repo import PersonsDB
from personsync.sync import engine
from personsync.sync.options import RunOptions


@pytest.mark.parametrize("mode", ["export", "sync"])
def test_contact_deleted_in_the_folder_stays_deleted(
    db_url: str, tmp_path: Path, mode: str
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids = db.add_many(list(generate(4, 9)))
        engine.run(db, url, mode)
        delete(url, by_cid(url)[str(ids[2])])

        out = engine.run(db, url, mode, options=RunOptions(yes=True))
        assert out.report is not None and out.report.exit_code == 0
        assert out.report.counts["keep-deleted"] == 1 and out.plan.changes() == 0
        assert any("its contact was deleted in the folder" in w for w in out.report.warnings)
        assert str(ids[2]) not in by_cid(url)
        assert db.get(ids[2]).record  # the Person stays

        # Kept so: the next run finds the tombstone in step, names nothing, reads nothing.
        again = engine.run(db, url, mode)
        assert again.plan.changes() == 0 and again.plan.counts()["keep-deleted"] == 0
        assert again.plan.unchanged == 4

        back = engine.run(db, url, mode, options=RunOptions(recreate=True, yes=True))
        assert back.report is not None and back.report.counts["create-contact"] == 1
        assert sorted(by_cid(url)) == sorted(str(i) for i in ids)
    finally:
        db.close()


def test_person_deleted_in_the_crm_leaves_its_contact(db_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        ids = db.add_many(list(generate(4, 9)))
        engine.run(db, url, "export")
        db.delete(ids[1])
        out = engine.run(db, url, "import", options=RunOptions(yes=True))
        # No standing decision: named once, exit 0, the contact stays, no Person re-created.
        assert out.report is not None and out.report.exit_code == 0
        assert out.report.counts["keep-deleted"] == 1
        assert db.count() == 3 and str(ids[1]) in by_cid(url)
        again = engine.run(db, url, "import")
        assert again.plan.changes() == 0 and again.plan.counts()["keep-deleted"] == 0
        assert not again.plan.of("decide")
    finally:
        db.close()
