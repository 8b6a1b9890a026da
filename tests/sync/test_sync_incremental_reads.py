"""What a two-way sync reads when little changed: every Person's version once, not a count of
them all beside it (on PostgreSQL each is a scan of the Persons table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from personsync.model import Record
from personsync.persons.repo import PersonsDB
from personsync.sync import engine
from personsync.sync.options import RunOptions


def _three(db: PersonsDB, tmp_path: Path) -> str:
    for first, job in (("Ann", "Dev"), ("Bob", "Dev"), ("Cy", "Ops")):
        db.add(Record(first_name=first, last_name="Lee", job_title=job))
    url = f"vcf:{tmp_path / 'contacts'}"
    engine.run(db, url, "export", options=RunOptions(yes=True))
    ann = min(db.versions())
    db.update_many([(ann, {"company": "Acme"})])
    return url


def test_a_sync_of_every_person_counts_them_from_the_versions_it_lists(
    persons_db: PersonsDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _three(persons_db, tmp_path)
    counted: list[object] = []
    count = PersonsDB.count

    def spy(self: PersonsDB, *args: object, **kw: object) -> int:
        counted.append(args)
        return count(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(PersonsDB, "count", spy)
    outcome = engine.run(persons_db, url, "sync", options=RunOptions(yes=True))
    assert [a.kind for a in outcome.plan.actions] == ["update-contact"]
    assert outcome.plan.persons_size == 3  # every Person, as the count said
    assert counted == []


def test_a_sync_of_a_view_still_counts_every_person(persons_db: PersonsDB, tmp_path: Path) -> None:
    url = _three(persons_db, tmp_path)
    persons_db.create_view("Devs", "job_title = 'Dev'")
    outcome = engine.run(persons_db, url, "sync", view="Devs", options=RunOptions(yes=True))
    assert outcome.plan.persons_seen == 2
    assert outcome.plan.persons_size == 3
