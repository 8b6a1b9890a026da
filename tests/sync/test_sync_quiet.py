"""A no-op run that reads nothing (`sync/quiet.py`): a quiet run records the marks of both sides,
the next run with the same marks is answered without reading; any change of either side after
it (a Person, a view, a card, even one rewritten in place in the same second, a link, a rule)
is still seen."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from personsync.model import Record
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.sync import engine
from personsync.sync.events import Planned
from personsync.sync.links import Links, set_ignored
from personsync.sync.options import RunOptions
from personsync.sync.settings import set_rule

# The store's racy margin, lowered from 3 s so that a test waits 0.1 s, not 3: still ten times
# the tick of the clock that stamps files on Linux.
OPTIONS = RunOptions(folder_options={"racy_ms": 100})


def _settle() -> None:
    """Let the files written so far become older than the racy margin."""
    time.sleep(0.12)


def _run(
    db: PersonsDB, url: str, direction: str = "export", view: str | None = None, **kw: Any
) -> engine.Outcome:
    return engine.run(db, url, direction, view=view, options=replace(OPTIONS, **kw))


def quiet(db: PersonsDB, tmp_path: Path, direction: str = "export", view: str | None = None) -> str:
    """Three Persons exported, then a quiet run of `direction` recorded, and shown to answer
    the next run without reading: the folder's URL."""
    for first, last in (("Ann", "Lee"), ("Bob", "Ray"), ("Cy", "Ono")):
        db.add(Record(first_name=first, last_name=last, job_title="Dev"))
    url = f"vcf:{tmp_path / 'contacts'}"
    engine.run(db, url, "export", options=OPTIONS)
    _settle()
    read = _run(db, url, direction, view=view)
    assert read.plan.actions == () and read.plan.unread == ""
    answered = _run(db, url, direction, view=view)
    assert answered.plan.unread.startswith("neither side changed since run ")
    return url


def _kinds(outcome: engine.Outcome) -> list[str]:
    assert outcome.plan.unread == ""  # read in full
    return sorted(a.kind for a in outcome.plan.actions)


def test_a_run_after_a_quiet_one_reads_neither_side(
    persons_db: PersonsDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = quiet(persons_db, tmp_path)

    def unread(*args: object, **kw: object) -> object:
        raise AssertionError("read")

    monkeypatch.setattr(Links, "load", unread)
    monkeypatch.setattr(PersonsDB, "versions", unread)
    outcome = _run(persons_db, url)
    assert outcome.plan.actions == ()
    assert outcome.plan.counts()["unchanged"] == 3
    assert outcome.report is not None and outcome.report.status == "clean"
    # A dry run is the same computation.
    assert _run(persons_db, url, dry_run=True).plan.unread


def test_a_person_changed_added_or_deleted_after_a_quiet_run_is_seen(
    persons_db: PersonsDB, tmp_path: Path
) -> None:
    url = quiet(persons_db, tmp_path)
    ann, bob, _ = sorted(persons_db.versions())
    persons_db.update(ann, {"job_title": "CEO"})
    assert _kinds(_run(persons_db, url)) == ["update-contact"]
    _settle()
    assert _run(persons_db, url).plan.unread == ""  # the run that wrote recorded nothing
    assert _run(persons_db, url).plan.unread  # the quiet one after it did
    persons_db.add(Record(first_name="Dee", last_name="Day"))
    assert _kinds(_run(persons_db, url, yes=True)) == ["create-contact"]
    _settle()
    _run(persons_db, url)
    assert _run(persons_db, url).plan.unread
    persons_db.delete(bob)
    assert _kinds(_run(persons_db, url, yes=True)) == ["keep-deleted"]


def test_a_person_who_leaves_the_view_or_a_view_redefined_is_seen(
    persons_db: PersonsDB, tmp_path: Path
) -> None:
    persons_db.create_view("Devs", 'job_title = "Dev"')
    url = quiet(persons_db, tmp_path, view="Devs")
    ann = min(persons_db.versions())
    persons_db.update(ann, {"job_title": "CEO"})  # no longer in the view
    assert _kinds(_run(persons_db, url, view="Devs")) == ["left-view"]
    _settle()
    _run(persons_db, url, view="Devs")
    assert _run(persons_db, url, view="Devs").plan.unread
    persons_db.create_view("Devs", 'job_title = "Dev" OR job_title = "CEO"', replace=True)
    outcome = _run(persons_db, url, view="Devs")
    assert outcome.plan.unread == ""


def _rewrite_in_place(path: Path, old: bytes, new: bytes, mtime_ns: int) -> None:
    """Another program's edit in place (same inode, same size), then the file's mtime set."""
    assert len(old) == len(new)
    before = path.stat()
    with path.open("r+b") as handle:
        data = handle.read()
        assert old in data
        handle.seek(0)
        handle.write(data.replace(old, new))
    os.utime(path, ns=(mtime_ns, mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_ino) == (before.st_size, before.st_ino)


def _card_of(tmp_path: Path, name: str) -> Path:
    (found,) = [p for p in (tmp_path / "contacts").iterdir() if p.name.startswith(name)]
    return found


def test_a_card_rewritten_in_place_in_the_same_second_is_seen(
    persons_db: PersonsDB, tmp_path: Path
) -> None:
    url = quiet(persons_db, tmp_path, direction="sync")
    card = _card_of(tmp_path, "Lee Ann")
    mtime = card.stat().st_mtime_ns
    same_second = mtime // 10**9 * 10**9 + (mtime + 1) % 10**9
    _rewrite_in_place(card, b"TITLE:Dev", b"TITLE:Ops", same_second)
    outcome = _run(persons_db, url, "sync")
    assert _kinds(outcome) == ["update-person"]
    ann = min(persons_db.versions())
    assert persons_db.get(ann).record.job_title == "Ops"


def test_a_card_rewritten_with_its_mtime_put_back_makes_the_run_read(
    persons_db: PersonsDB, tmp_path: Path
) -> None:
    # Same inode, same size, the very same mtime: its version is as the link recorded it, but
    # its ctime moved, so the folder's mark does not answer the run.
    url = quiet(persons_db, tmp_path, direction="sync")
    card = _card_of(tmp_path, "Lee Ann")
    store = open_folder(url, racy_ms=100)
    _settle()
    marked = store.change_mark()
    _rewrite_in_place(card, b"TITLE:Dev", b"TITLE:Ops", card.stat().st_mtime_ns)
    assert store.change_mark() is None  # its ctime is now, within the racy margin
    _settle()
    assert store.change_mark() not in (None, marked)
    assert _run(persons_db, url, "sync").plan.unread == ""


def test_a_card_added_or_deleted_after_a_quiet_run_is_seen(
    persons_db: PersonsDB, tmp_path: Path
) -> None:
    url = quiet(persons_db, tmp_path, direction="sync")
    (tmp_path / "contacts" / "Zed.vcf").write_bytes(
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zed Zee\r\nN:Zee;Zed;;;\r\nEND:VCARD\r\n"
    )
    assert _kinds(_run(persons_db, url, "sync", yes=True)) == ["create-person"]
    _settle()
    _run(persons_db, url, "sync")
    assert _run(persons_db, url, "sync").plan.unread
    _card_of(tmp_path, "Ono Cy").unlink()
    assert _kinds(_run(persons_db, url, "sync", yes=True)) == ["keep-deleted"]


def test_a_link_or_rule_changed_after_a_quiet_run_makes_the_run_read(
    persons_db: PersonsDB, tmp_path: Path
) -> None:
    url = quiet(persons_db, tmp_path)
    item = next(iter(Links(persons_db.engine, url).load().values())).item_id
    set_ignored(persons_db.engine, url, item, True)  # `unlink --ignore`: the run sees it no more
    assert _kinds(_run(persons_db, url, yes=True)) == ["keep-deleted"]
    _settle()
    _run(persons_db, url)
    assert _run(persons_db, url).plan.unread
    set_rule(persons_db.engine, url, "job_title", flow="to-crm")
    assert _run(persons_db, url).plan.unread == ""


def test_cards_written_within_the_racy_margin_leave_no_mark(tmp_path: Path) -> None:
    store = open_folder(f"vcf:{tmp_path}", racy_ms=1000)
    store.create_many([])
    (tmp_path / "a.vcf").write_bytes(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\n")
    assert store.change_mark() is None
    # The listing the mark was made of is the one listed next.
    assert [ref.item_id for ref in store.list_items()] == ["a"]


def test_a_run_with_something_to_report_is_not_recorded(
    persons_db: PersonsDB, tmp_path: Path
) -> None:
    # An unreadable card is named by every run, not only by the first after it appeared.
    url = quiet(persons_db, tmp_path, direction="import")
    (tmp_path / "contacts" / "broken.vcf").write_bytes(b"not a card\r\n")
    _settle()
    for _ in range(2):
        outcome = _run(persons_db, url, "import")
        assert _kinds(outcome) == ["skip"]


def test_a_link_written_while_a_quiet_run_reads_leaves_no_record(
    persons_db: PersonsDB, tmp_path: Path
) -> None:
    # `unlink --ignore` takes no lease: a contact left alone while a run plans (here, as its
    # plan is told) was read by that run as not left alone; its quiet record would hide that.
    url = quiet(persons_db, tmp_path)
    persons_db.update(min(persons_db.versions()), {"notes": "x"})
    _run(persons_db, url)  # the contact written: the next run reads all again
    _settle()
    item = next(iter(Links(persons_db.engine, url).load().values())).item_id

    def ignore_meanwhile(event: object) -> None:
        if isinstance(event, Planned):
            set_ignored(persons_db.engine, url, item, True)

    quiet_run = engine.run(persons_db, url, "export", options=OPTIONS, on_event=ignore_meanwhile)
    assert quiet_run.plan.actions == () and quiet_run.plan.unread == ""
    assert _kinds(_run(persons_db, url, yes=True)) == ["keep-deleted"]
