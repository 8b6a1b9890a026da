"""The mass-change guard's side checks: a side that is empty while links exist propagates
nothing (exit 3), without false alarms on a first run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sync_fakes import records as generate

from personsync.errors import MassChangeRefused
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.sync import engine
from personsync.sync.options import RunOptions


def _count(url: str) -> int:
    store = open_folder(url, create=False)
    try:
        return sum(1 for _ in store.list_items())
    finally:
        store.close()


@pytest.mark.parametrize("mode", ["export", "sync"])
def test_emptied_folder_stops_the_run(db_url: str, tmp_path: Path, mode: str) -> None:
    folder = tmp_path / "contacts"
    url = f"vcf:{folder}"
    db = PersonsDB(db_url)
    try:
        db.add_many(list(generate(8, 3)))
        # A first run into an empty folder is no alarm.
        first = engine.run(db, url, mode)
        assert first.report is not None and first.report.exit_code == 0
        shutil.rmtree(folder)
        folder.mkdir()
        with pytest.raises(MassChangeRefused, match="is empty, but 8 Persons are linked") as exc:
            engine.run(db, url, mode)
        assert exc.value.exit_code == 3
        assert _count(url) == 0  # nothing written
        # Meant: --yes goes ahead; --recreate brings the deleted contacts back.
        again = engine.run(db, url, mode, options=RunOptions(yes=True, recreate=True))
        assert again.report is not None and _count(url) == 8
    finally:
        db.close()


def test_empty_view_stops_the_run(db_url: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        db.add_many(list(generate(5, 3)))
        engine.run(db, url, "sync")
        db.create_view("Nobody", "last_name = 'No such name'")
        with pytest.raises(MassChangeRefused, match="has no Persons"):
            engine.run(db, url, "sync", view="Nobody")
    finally:
        db.close()
