"""A two-way run of a view that links Persons outside it (matched among every Person, or made
from a new contact the view's filter does not take) writes those pairs' links dormant as it
makes them (`Executor._dormant`) and names them at its end (`Executor._outside_view`). Killed
with SIGKILL at any point, or with its view deleted while it ran, no later run takes those
Persons for ones who left the view: nothing is tagged or deleted, no Person or contact is made
twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from folder_help import by_cid

from killed_run import run_killed
from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.sync import engine
from personsync.sync.events import Planned, RunEvent
from personsync.sync.options import RunOptions
from personsync.sync.policies import TAG

VIEW = "Members"
TAG_REMOVED = RunOptions(yes=True, on_person_removed="tag", chunk=1)


def _outsiders(db: PersonsDB, url: str) -> int:
    """Two members synced; then a new contact matching Olga (no member) by e-mail, and a new
    contact who makes a Person outside the view. The Persons' count before the run."""
    db.create_view(VIEW, "notes is empty")
    db.add_many([Record(first_name=f"M{i}", last_name="Member") for i in range(2)])
    engine.run(db, url, "sync", view=VIEW, options=RunOptions(yes=True))
    outsider = Record(first_name="Olga", last_name="Outside", email1="olga@example.org")
    db.add_many([outsider.replace({"notes": "not a member"})])
    store = open_folder(url, create=True)
    try:
        store.create(Contact(outsider))
        store.create(Contact(Record(first_name="Nina", last_name="New", notes="a guest")))
    finally:
        store.close()
    return db.count()


def _left_alone(db: PersonsDB, url: str, persons: int) -> None:
    """Later runs of the view finish the work, then leave the outsiders' pairs alone."""
    for _ in range(2):
        out = engine.run(db, url, "sync", view=VIEW, options=TAG_REMOVED)
        assert out.report is not None and not out.report.errors, out.report.errors
        assert not out.plan.of("left-view", "tag-contact", "delete-contact"), out.plan.to_dict()
    assert engine.run(db, url, "sync", view=VIEW, options=TAG_REMOVED).plan.changes() == 0
    cards = by_cid(url)
    assert all(TAG not in c.record.categories for c in cards.values())
    assert db.count() == persons + 1 and len(cards) == persons + 1  # Nina's Person made once


@pytest.mark.parametrize("point", range(1, 8))
def test_a_run_killed_before_it_told_its_outsiders_leaves_them_alone_after(
    sqlite_url: str, tmp_path: Path, point: int
) -> None:
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(sqlite_url)
    try:
        persons = _outsiders(db, url)
        assert run_killed(db, sqlite_url, url, "sync", TAG_REMOVED, point, VIEW)
        _left_alone(db, url, persons)
    finally:
        db.close()


def test_a_view_deleted_while_its_run_goes_on_loses_nothing(db_url: str, tmp_path: Path) -> None:
    """The view is deleted after the plan (another user, the web console): the run ends with
    its writes recorded and a warning that says why its new Persons were left alone; a view
    made again under the name leaves them alone too."""
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        persons = _outsiders(db, url)

        def delete_the_view(event: RunEvent) -> None:
            if isinstance(event, Planned):
                db.delete_view(VIEW)

        out = engine.run(db, url, "sync", view=VIEW, options=TAG_REMOVED, on_event=delete_the_view)
        assert out.report is not None and not out.report.errors, out.report.errors
        assert out.report.counts["create-person"] == 1
        said = [w for w in out.report.warnings if "was deleted" in w]
        assert len(said) == 1 and VIEW in said[0], out.report.warnings
        db.create_view(VIEW, "notes is empty")
        _left_alone(db, url, persons)
    finally:
        db.close()


def test_outsiders_links_are_written_dormant_once(db_url: str, tmp_path: Path) -> None:
    """Every link row of an outsider is written dormant as it is made (`Executor._dormant`):
    the run's end sends no second statement to make them so (it did until 2026-12-06: an
    UPDATE of every outsider's link, in a transaction of its own), and still says so."""
    from sqlalchemy import event, select

    from personsync.sync.links import normalise_folder
    from personsync.sync.snapshot import LEFT
    from personsync.sync.tables import sync_links

    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(db_url)
    try:
        _outsiders(db, url)
        sent: list[str] = []

        def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
            sent.append(" ".join(statement.split()).lower())

        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            out = engine.run(db, url, "sync", view=VIEW, options=RunOptions(yes=True))
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
        assert out.report is not None and not out.report.errors, out.report.errors
        assert any("outside the view" in w for w in out.report.warnings), out.report.warnings
        assert any("sync_links" in s for s in sent)  # the listener heard the run's writes
        assert not [s for s in sent if s.startswith("update sync_links set person_version")]
        t = sync_links
        with db.engine.connect() as conn:
            rows = dict(
                conn.execute(
                    select(t.c.person_id, t.c.person_version).where(
                        t.c.folder == normalise_folder(url)
                    )
                ).all()
            )
        members = set(db.versions(VIEW))
        outside = {p: v for p, v in rows.items() if p not in members}
        assert len(outside) == 2 and set(outside.values()) == {LEFT}, rows
    finally:
        db.close()
