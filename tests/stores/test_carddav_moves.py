"""A card a person moved to another address book of the same account is not a deleted one: the
CardDAV store searches the user's other address books by Customer ID (`carddav_moves`) before
the engine calls a linked card missing from its folder deleted. Each test runs its own real
server (a fresh account), so no other test's cards carry the same Customer IDs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from personsync.model import Record
from personsync.persons.repo import PersonsDB
from personsync.stores import carddav_moves, open_folder
from personsync.sync import engine
from personsync.sync.options import RunOptions
from personsync.testing.carddav_servers import SERVER_KINDS, Server, running

PROPAGATE = RunOptions(on_contact_deleted="propagate", yes=True)


@pytest.fixture(params=SERVER_KINDS)
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    with running(request.param, tmp_path / "server") as server:
        yield server


def _make_book(url: str) -> None:
    """A second address book of the same account (made by extended MKCOL, as export makes one)."""
    store = open_folder(f"carddav:{url}", create=True)
    try:
        assert list(store.list_items()) == []
    finally:
        store.close()


def _move(server: Server, href: str, to_book: str) -> None:
    """What a client's "move to address book" does: copy the card there, delete it here."""
    with httpx.Client(auth=(server.user, "x"), timeout=30) as http:
        got = http.get(server.base + href)
        assert got.status_code == 200
        made = http.put(
            server.plain(to_book) + href.rstrip("/").rpartition("/")[2],
            content=got.content,
            headers={"Content-Type": "text/vcard", "If-None-Match": "*"},
        )
        assert made.status_code in (201, 204), made.text
        assert http.delete(server.base + href).status_code in (200, 204)


def _delete(server: Server, href: str) -> None:
    with httpx.Client(auth=(server.user, "x"), timeout=30) as http:
        assert http.delete(server.base + href).status_code in (200, 204)


@pytest.mark.parametrize("mode", ["export", "sync", "import"])
def test_a_card_moved_to_another_book_is_neither_recreated_nor_its_person_deleted(
    own_server: Server, tmp_path: Path, mode: str
) -> None:
    server = own_server
    db = PersonsDB(str(tmp_path / "persons.db"))
    try:
        ids = db.add_many(
            [Record(first_name=f"F{i}", last_name=f"L{i}", email1=f"p{i}@x.org") for i in range(4)]
        )
        url, other = f"carddav:{server.book('crm')}", server.book("old-members")
        assert engine.run(db, url, "export").report is not None
        _make_book(other)
        hrefs = {pid: db.get(pid).contact_manager_id for pid in ids}
        _move(server, hrefs[ids[0]], other)
        _delete(server, hrefs[ids[1]])

        out = engine.run(db, url, mode, options=PROPAGATE)
        moved = {a.person_id: a.where for a in out.plan.of("moved")}  # type: ignore[union-attr]
        assert moved == {ids[0]: f"carddav:{server.plain(other)}"}
        assert [a.person_id for a in out.plan.of("delete-person")] == [ids[1]]  # type: ignore[union-attr]
        assert not out.plan.of("create-contact", "create-person")
        # The moved card's Person stays; the deleted one's went (propagate).
        assert sorted(db.get_many(ids)) == sorted([ids[0], ids[2], ids[3]])
        again = engine.run(db, url, mode, options=RunOptions(recreate=True, yes=True))
        assert not again.plan.of("create-contact", "moved", "delete-person")
    finally:
        db.close()


def test_a_search_the_server_refuses_keeps_the_link(
    own_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that cannot answer the query: the card is not searched, so it is neither taken
    for deleted (no Person deleted) nor for moved; the next run asks again."""
    monkeypatch.setattr(carddav_moves, "query", lambda ids: b"<<not xml")
    server = own_server
    db = PersonsDB(str(tmp_path / "persons.db"))
    try:
        ids = db.add_many(
            [Record(first_name=n, last_name="B", email1=f"{n}@x.org") for n in ("a", "c")]
        )
        url = f"carddav:{server.book('crm')}"
        engine.run(db, url, "export")
        _make_book(server.book("other"))
        _delete(server, db.get(ids[0]).contact_manager_id)
        out = engine.run(db, url, "sync", options=PROPAGATE)
        assert not out.plan.of("delete-person", "moved")
        assert len(out.plan.of("skip")) == 1
        assert sorted(db.get_many(ids)) == sorted(ids)
    finally:
        db.close()
