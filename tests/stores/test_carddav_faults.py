"""Faults between the CardDAV store and a real server (a proxy in between, `carddav_proxy`):
503 with Retry-After, a connection dropped after the server did the write, a 412 — on both
servers. Every run converges: no duplicate, no lost value."""

from __future__ import annotations

import dataclasses
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

from personsync.errors import ConflictError, StoreError
from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.persons.sample import generate
from personsync.stores import open_folder
from personsync.stores.base import ItemRef, get_one, read_all
from personsync.stores.carddav import WRITE_ATTEMPTS, CardDavStore
from personsync.stores.carddav_xml import DAV, href_key, parse_multistatus, propfind
from personsync.stores.http import RetryPolicy
from personsync.sync import engine


def _creates(path: str, headers: dict[str, str], body: bytes) -> bool:
    return any(k.lower() == "if-none-match" for k in headers)


def _updates(path: str, headers: dict[str, str], body: bytes) -> bool:
    return any(k.lower() == "if-match" for k in headers)


@pytest.fixture
def proxied(server: Server) -> Iterator[tuple[FaultProxy, str, str]]:
    """(proxy, folder URL through the proxy, the same book's URL straight at the server)."""
    direct = server.book()
    path = urlsplit(direct).path
    proxy = FaultProxy(server.base)
    with proxy.serving():
        host = proxy.base.removeprefix("http://")
        yield proxy, f"carddav:http://{server.user}@{host}{path}", f"carddav:{direct}"


def _cards_on_server(direct: str) -> list[str]:
    """The hrefs the server holds, by a plain PROPFIND (not through the store)."""
    url = direct.removeprefix("carddav:").replace("alice@", "").replace("user@", "")
    reply = httpx.request(
        "PROPFIND",
        url,
        content=propfind((DAV, "getetag")),
        headers={"Depth": "1", "Content-Type": "application/xml"},
        timeout=10,
    )
    assert reply.status_code == 207
    own = href_key(urlsplit(url).path)
    return [r.href for r in parse_multistatus(reply.content).responses if href_key(r.href) != own]


def test_503_with_retry_after_is_waited_for_then_sent_again(
    proxied: tuple[FaultProxy, str, str],
) -> None:
    proxy, url, direct = proxied
    waits: list[tuple[float, str]] = []
    store = open_folder(url, on_wait=lambda s, why: waits.append((s, why)))
    proxy.add(Rule("PUT", "status", times=2, status=503, headers={"Retry-After": "1"}))
    try:
        refs = store.create_many([Contact(Record(first_name=n)) for n in ("Ann", "Bob", "Cy")])
        assert all(isinstance(r, ItemRef) for r in refs)
        assert [s for s, _ in waits] == [1.0, 1.0]
        assert "HTTP 503" in waits[0][1]
        assert isinstance(store.inner, CardDavStore)
        assert store.inner.client.counters.retries == 2
    finally:
        store.close()
    assert len(_cards_on_server(direct)) == 3


def test_a_create_whose_answer_was_lost_is_found_not_doubled(
    proxied: tuple[FaultProxy, str, str],
) -> None:
    proxy, url, direct = proxied
    store = open_folder(url)
    dropped = proxy.add(Rule("PUT", "drop", times=3, when=_creates))
    try:
        refs = store.create_many([Contact(Record(first_name=f"P{i}")) for i in range(6)])
        assert dropped.hits == 3
        assert all(isinstance(r, ItemRef) for r in refs)
        assert {r.item_id for r in refs if isinstance(r, ItemRef)} == set(_cards_on_server(direct))
        assert len(_cards_on_server(direct)) == 6
        assert {r.item_id: r.version for r in store.list_items()} == {
            r.item_id: r.version for r in refs if isinstance(r, ItemRef)
        }
    finally:
        store.close()


def test_an_update_or_delete_whose_answer_was_lost_is_settled(
    proxied: tuple[FaultProxy, str, str],
) -> None:
    proxy, url, direct = proxied
    store = open_folder(url)
    try:
        ref = store.create(Contact(Record(first_name="Ann"), customer_id="5"))
        gone = store.create(Contact(Record(first_name="Gone")))
        old = get_one(store, ref.item_id)
        assert old is not None
        proxy.add(Rule("PUT", "drop", when=_updates))
        new_ref = store.update(old, dataclasses.replace(old, record=Record(first_name="Anna")))
        got = get_one(store, ref.item_id)
        assert got is not None and got.record.first_name == "Anna"
        assert new_ref.version == got.version
        proxy.add(Rule("DELETE", "drop"))
        store.delete(gone)
        assert _cards_on_server(direct) == [ref.item_id]
    finally:
        store.close()


def test_a_delete_whose_every_request_was_lost_is_an_error_and_keeps_the_card(
    proxied: tuple[FaultProxy, str, str],
) -> None:
    """The connection dropped before the server heard of the DELETE, every time: the card is
    still there, so the delete failed (the engine keeps the link and reports it), not done."""
    proxy, url, direct = proxied
    store = open_folder(url)
    try:
        ref = store.create(Contact(Record(first_name="Kept")))
        lost = proxy.add(Rule("DELETE", "lose", times=WRITE_ATTEMPTS))
        with pytest.raises(StoreError, match="lost"):
            store.delete(ref)
        assert lost.hits == WRITE_ATTEMPTS
        assert _cards_on_server(direct) == [ref.item_id]
    finally:
        store.close()


def test_a_412_is_a_conflict_for_that_card_only(proxied: tuple[FaultProxy, str, str]) -> None:
    proxy, url, _ = proxied
    store = open_folder(url)
    try:
        a, b = (
            get_one(store, store.create(Contact(Record(first_name=n))).item_id)
            for n in ("Ann", "Bob")
        )
        assert a is not None and b is not None
        proxy.add(Rule("PUT", "status", status=412, when=lambda p, h, body: b"Bobby" in body))
        results = store.update_many(
            [
                (a, dataclasses.replace(a, record=Record(first_name="Anna"))),
                (b, dataclasses.replace(b, record=Record(first_name="Bobby"))),
            ]
        )
        assert isinstance(results[0], ItemRef) and isinstance(results[1], ConflictError)
        assert {c.record.first_name for c in read_all(store) if isinstance(c, Contact)} == {
            "Anna",
            "Bob",
        }
    finally:
        store.close()


def test_an_export_through_faults_converges(
    proxied: tuple[FaultProxy, str, str], tmp_path: Path
) -> None:
    proxy, url, direct = proxied
    db = PersonsDB(str(tmp_path / "persons.db"))
    try:
        ids = db.add_many(list(generate(12, 3)))
        proxy.add(Rule("PUT", "drop", times=3, when=_creates))
        proxy.add(Rule("PUT", "status", times=1, status=503, headers={"Retry-After": "0"}))
        proxy.add(Rule("REPORT", "drop", times=1))  # a read is simply asked again
        out = engine.run(db, url, "export")
        assert out.report is not None and out.report.exit_code == 0, out.report.to_dict()
        assert len(_cards_on_server(direct)) == 12
        contacts = [c for c in contacts_in(direct) if isinstance(c, Contact)]
        assert sorted(int(c.customer_id) for c in contacts) == sorted(ids)
        for c in contacts:
            person = db.get(int(c.customer_id))
            assert person.contact_manager_id == c.item_id
            assert person.record.first_name == c.record.first_name
        # changes go through dropped answers too, and a re-run has nothing to do
        for pid in ids[:4]:
            db.update(pid, {"company": f"Firm {pid}"})
        proxy.add(Rule("PUT", "drop", times=2, when=_updates))
        out = engine.run(db, url, "export")
        assert out.report is not None and out.report.counts.get("update-contact") == 4
        firms = {int(c.customer_id): c.record.company for c in contacts_in(direct)}  # type: ignore[union-attr]
        assert all(firms[pid] == f"Firm {pid}" for pid in ids[:4])
        again = engine.run(db, url, "export")
        assert again.report is not None and again.plan.actions == ()
        assert again.report.counts.get("unchanged") == 12
        assert len(_cards_on_server(direct)) == 12
    finally:
        db.close()


def test_vcard_4_where_the_address_book_says_it_takes_it(
    proxied: tuple[FaultProxy, str, str], server: Server
) -> None:
    proxy, url, direct = proxied
    three = b'version="3.0" />'
    proxy.add(Rule("PROPFIND", "rewrite", times=9, body=three, into=three.replace(b"3", b"4")))
    store = open_folder(url)
    try:
        record = Record(first_name="Zoë", last_name="Ng", email1="zoe@example.org", notes="a\nb")
        ref = store.create(Contact(record, customer_id="8"))
    finally:
        store.close()
    raw = httpx.get(server.base + ref.item_id, timeout=10).text
    assert "VERSION:4.0" in raw and "X-PERSONSYNC-CUSTOMER-ID:8" in raw
    got = [c for c in contacts_in(direct) if c.item_id == ref.item_id]
    assert [(c.record, c.customer_id) for c in got] == [(record, "8")]


def test_a_server_without_sync_collection_is_listed_by_propfind(
    proxied: tuple[FaultProxy, str, str],
) -> None:
    proxy, url, _ = proxied
    refused = proxy.add(
        Rule("REPORT", "status", times=99, status=501, when=lambda p, h, b: b"sync-coll" in b)
    )
    store = open_folder(url)
    try:
        refs = store.create_many([Contact(Record(first_name=n)) for n in ("Ann", "Bob")])
        assert {r.item_id: r.version for r in store.list_items()} == {
            r.item_id: r.version for r in refs if isinstance(r, ItemRef)
        }
        assert store.export_state() is None  # no token to keep
        assert refused.hits == 1, "asked once, then not again"
        list(store.list_items())
        assert refused.hits == 1
    finally:
        store.close()


def test_a_create_answered_409_by_a_busy_server_is_sent_again(
    proxied: tuple[FaultProxy, str, str],
) -> None:
    # Xandikos, committing another card, answers 409 for a moment: nothing was written.
    proxy, url, direct = proxied
    store = open_folder(url, retry=RetryPolicy(backoff=0.01))
    busy = proxy.add(Rule("PUT", "status", times=2, status=409, when=_creates))
    try:
        refs = store.create_many([Contact(Record(first_name=n)) for n in ("Ann", "Bob")])
    finally:
        store.close()
    assert busy.hits == 2
    assert all(isinstance(r, ItemRef) for r in refs)
    assert len(_cards_on_server(direct)) == 2


def test_an_update_locked_longer_than_the_other_retries_is_waited_for(
    proxied: tuple[FaultProxy, str, str],
) -> None:
    # Xandikos at 10,000 cards: a commit takes seconds and the other requests in flight are
    # answered 423 Locked meanwhile, more times than a server that is down is waited for.
    proxy, url, direct = proxied
    policy = RetryPolicy(backoff=0.001)
    store = open_folder(url, retry=policy)
    try:
        ref = store.create(Contact(Record(first_name="Ann")))
        old = get_one(store, ref.item_id)
        assert old is not None
        locked = proxy.add(
            Rule("PUT", "status", times=policy.max_retries + 2, status=423, when=_updates)
        )
        store.update(old, dataclasses.replace(old, record=Record(first_name="Anna")))
        got = get_one(store, ref.item_id)
    finally:
        store.close()
    assert locked.hits == policy.max_retries + 2
    assert got is not None and got.record.first_name == "Anna"
    assert _cards_on_server(direct) == [ref.item_id]
