"""A card that changed on the server between the listing and the write (`412 Precondition
Failed` to our `If-Match`) is read again and its pair planned anew in the same run, on both
real servers: the run does not fail and the server's new edit is kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from carddav_proxy import FaultProxy, Rule
from carddav_servers import Server, contacts_in
from carddav_servers import radicale as radicale
from carddav_servers import server as server
from carddav_servers import xandikos as xandikos

from personsync.errors import ExitCode
from personsync.model import Contact
from personsync.persons.repo import PersonsDB
from personsync.persons.sample import generate
from personsync.sync import engine
from personsync.sync.options import RunOptions
from personsync.sync.plan import Plan
from personsync.sync.policies import TAG
from run_events import YES, planned


@pytest.fixture
def linked(server: Server, tmp_path: Path) -> Iterator[tuple[PersonsDB, str, list[int]]]:
    """Four Persons exported (two-way) into a fresh book: (db, folder URL, their ids)."""
    db = PersonsDB(str(tmp_path / "persons.db"))
    ids = db.add_many(list(generate(4, 5)))
    url = f"carddav:{server.book()}"
    first = engine.run(db, url, "sync", options=YES)
    assert first.report is not None and first.report.exit_code == 0
    try:
        yield db, url, ids
    finally:
        db.close()


def _card_of(url: str, pid: int) -> Contact:
    return next(c for c in contacts_in(url) if c.customer_id == str(pid))


def _edit_on_server(server: Server, href: str, line: str) -> None:
    """Someone else's client changes the card: a plain GET and a conditional PUT."""
    with httpx.Client(auth=(server.user, "x"), timeout=30) as http:
        got = http.get(server.base + href)
        assert got.status_code == 200
        body = got.text.replace("\r\nEND:VCARD", f"\r\n{line}\r\nEND:VCARD", 1)
        put = http.put(
            server.base + href,
            content=body.encode(),
            headers={"If-Match": got.headers["ETag"], "Content-Type": "text/vcard"},
        )
        assert put.status_code in (200, 201, 204), put.text


def test_a_card_edited_on_the_server_during_the_run_keeps_both_edits(
    server: Server, linked: tuple[PersonsDB, str, list[int]]
) -> None:
    db, url, ids = linked
    pid = ids[1]
    db.update(pid, {"company": "Changed in the CRM"})
    href = db.get(pid).contact_manager_id
    assert href

    def meanwhile(plan: Plan) -> None:
        _edit_on_server(server, href, "TITLE:Changed on the server")

    out = engine.run(db, url, "sync", on_event=planned(meanwhile))
    report = out.report
    assert report is not None
    assert report.exit_code == ExitCode.CLEAN, report.to_dict()
    assert report.counts["replanned"] == 1
    card = _card_of(url, pid)
    person = db.get(pid).record
    for got in (card.record, person):
        assert (got.company, got.job_title) == ("Changed in the CRM", "Changed on the server")
    again = engine.run(db, url, "sync", options=RunOptions(dry_run=True))
    assert again.plan.changes() == 0


@pytest.fixture
def proxied(server: Server) -> Iterator[tuple[FaultProxy, str]]:
    proxy = FaultProxy(server.base)
    with proxy.serving():
        host = proxy.base.removeprefix("http://")
        yield proxy, host


def test_a_412_from_the_server_is_read_again_and_written(
    server: Server, linked: tuple[PersonsDB, str, list[int]], proxied: tuple[FaultProxy, str]
) -> None:
    # The proxy answers 412 to the first conditional PUT (as a server does for a card changed
    # meanwhile, here without a change): the card is read again and written.
    db, url, ids = linked
    proxy, host = proxied
    through = f"carddav:http://{server.user}@{host}{urlsplit(url.removeprefix('carddav:')).path}"
    relinked = engine.run(db, through, "export", options=YES)  # the same book, by the proxy
    assert relinked.report is not None and relinked.report.counts.get("link") == 4
    for pid in ids[:2]:
        db.update(pid, {"company": f"Firm {pid}"})
    refused = proxy.add(
        Rule("PUT", "status", status=412, when=lambda p, h, b: b"Firm" in b and "If-Match" in h)
    )
    out = engine.run(db, through, "export")
    report = out.report
    assert report is not None
    assert refused.hits == 1
    assert report.exit_code == ExitCode.CLEAN, report.to_dict()
    assert report.counts["replanned"] == 1 and report.counts["update-contact"] == 2
    assert {_card_of(url, pid).record.company for pid in ids[:2]} == {f"Firm {p}" for p in ids[:2]}
    assert len(contacts_in(url)) == 4


def _removal_run(
    server: Server, db: PersonsDB, url: str, pid: int, policy: str, view: str | None = None
) -> engine.Outcome:
    """An export whose plan removes Person `pid`'s contact (`policy`: delete or tag) while
    someone else's client edits that card between the plan and the write: the `DELETE` (or
    the tag's `PUT`) with `If-Match` gets 412."""
    href = next(c.item_id for c in contacts_in(url) if c.customer_id == str(pid))

    def meanwhile(plan: Plan) -> None:
        assert [getattr(a, "person_id", 0) for a in plan.of(f"{policy}-contact")] == [pid]
        _edit_on_server(server, href, "TITLE:Changed on the server")

    options = RunOptions(on_person_removed=policy, yes=True)  # type: ignore[arg-type]
    return engine.run(db, url, "export", view=view, options=options, on_event=planned(meanwhile))


def test_a_delete_refused_as_stale_is_planned_again_in_the_run(
    server: Server, linked: tuple[PersonsDB, str, list[int]]
) -> None:
    # The Person was deleted in the CRM and the run deletes its contact; the card changed
    # meanwhile (412): read again and planned anew in the same run, as a stale update is, and
    # the delete policy decides on the card as it is now. Not an error left to the next run.
    db, url, ids = linked
    pid = ids[2]
    db.delete(pid)
    out = _removal_run(server, db, url, pid, "delete")
    report = out.report
    assert report is not None
    assert report.exit_code == ExitCode.CLEAN, report.to_dict()
    assert report.counts["replanned"] == 1 and report.counts["delete-contact"] == 1
    assert sorted(int(c.customer_id) for c in contacts_in(url)) == sorted(ids[:2] + ids[3:])
    again = engine.run(db, url, "export", options=RunOptions(dry_run=True))
    assert again.plan.changes() == 0 and not again.plan.of("delete-contact", "keep-deleted")


def test_a_tag_refused_as_stale_is_planned_again_as_a_tag(server: Server, tmp_path: Path) -> None:
    # The Person left the view (still in the CRM) and the run tags its contact; the card
    # changed meanwhile (412). Planned again, the pair is still one whose Person left the view:
    # the card is tagged with the new edit kept, not rewritten with the Person's fields.
    db = PersonsDB(str(tmp_path / "persons.db"))
    try:
        db.create_view("Members", "notes is empty")
        ids = db.add_many([r.replace({"notes": ""}) for r in generate(4, 5)])
        url = f"carddav:{server.book()}"
        first = engine.run(db, url, "export", view="Members", options=YES)
        assert first.report is not None and first.report.counts["create-contact"] == 4
        pid = ids[1]
        db.update(pid, {"notes": "former member", "company": "Not sent out"})
        out = _removal_run(server, db, url, pid, "tag", view="Members")
        report = out.report
        assert report is not None
        assert report.exit_code == ExitCode.CLEAN, report.to_dict()
        assert report.counts["replanned"] == 1 and report.counts["tag-contact"] == 1
        card = _card_of(url, pid)
        assert TAG in card.record.categories
        assert card.record.job_title == "Changed on the server"
        assert card.record.company != "Not sent out" and not card.record.notes
        assert len(contacts_in(url)) == 4
    finally:
        db.close()
