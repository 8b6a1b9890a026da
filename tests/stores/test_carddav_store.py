"""The `carddav:` store against two real servers (Radicale, Xandikos): what they store, read
back through a plain HTTP client; listing by sync token; discovery; address book creation;
credentials. The store contract runs against both in test_store_contract.py."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from carddav_servers import Server
from carddav_servers import radicale as radicale
from carddav_servers import server as server
from carddav_servers import xandikos as xandikos

from personsync.errors import ConfigError, FolderNotFound, StoreError, UsageError
from personsync.model import Contact, Record
from personsync.stores import list_folders, open_folder
from personsync.stores.base import GuardedStore, ItemRef, get_one
from personsync.stores.carddav import CardDavStore
from personsync.stores.carddav_auth import find_credentials
from personsync.testing.store_contract import rich_record

PHOTO = base64.b64encode(bytes(range(256)) * 4).decode()


def _inner(store: GuardedStore) -> CardDavStore:
    assert isinstance(store.inner, CardDavStore)
    return store.inner


def _raw(server: Server, href: str) -> str:
    """The card as the server stores it, by a plain GET (not through the store)."""
    reply = httpx.get(server.base + href, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.text.replace("\r\n ", "").replace("\r\n", "\n")


def test_server_keeps_every_field_and_the_customer_id(server: Server) -> None:
    url = server.book()
    store = open_folder(f"carddav:{url}")
    try:
        record = rich_record().replace({"notes": "long note " * 400 + "\nend: Ünïcødé 日本"})
        ref = store.create(Contact(record, customer_id="4711"))
        raw = _raw(server, ref.item_id)
        assert "X-PERSONSYNC-CUSTOMER-ID:4711" in raw
        assert "日本" in raw and "end: Ünïcødé" in raw
        assert "BEGIN:VCARD" in raw and "VERSION:3.0" in raw
        # and a second store object reads every value back from what the server keeps
        again = open_folder(f"carddav:{url}", create=False)
        try:
            got = get_one(again, ref.item_id)
        finally:
            again.close()
        assert got is not None and got.customer_id == "4711"
        assert got.record == record
    finally:
        store.close()


def test_photo_and_unknown_lines_of_a_card_survive_an_update(server: Server) -> None:
    url = server.book()
    store = open_folder(f"carddav:{url}")
    assert list(store.list_items()) == []  # its first use makes the address book
    href = urlsplit(url).path + "outside.vcf"
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:made-elsewhere-1\r\nFN:Zoë Ng\r\nN:Ng;Zoë;;;\r\n"
        f"PHOTO;ENCODING=b;TYPE=JPEG:{PHOTO}\r\nX-FAVOURITE-COLOUR:teal\r\n"
        "EMAIL;TYPE=INTERNET:zoe@example.org\r\nEND:VCARD\r\n"
    )
    put = httpx.put(server.base + href, content=card.encode(), timeout=10)
    assert put.status_code in (200, 201, 204), put.text
    try:
        listed = {r.item_id: r.version for r in store.list_items()}
        assert list(listed) == [href], "the href is kept as the server gave it"
        old = get_one(store, href)
        assert old is not None
        new = dataclasses.replace(
            old, record=old.record.replace({"company": "Acme"}), customer_id="12"
        )
        store.update(old, new)
        raw = _raw(server, href)
        assert PHOTO[:200] in raw.replace("\n", "")
        assert "X-FAVOURITE-COLOUR:teal" in raw
        assert "UID:made-elsewhere-1" in raw, "the card keeps its own UID"
        assert "ORG:Acme" in raw and "X-PERSONSYNC-CUSTOMER-ID:12" in raw
    finally:
        store.close()


def test_no_op_listing_is_one_request_with_the_saved_token(server: Server) -> None:
    url = f"carddav:{server.book()}"
    first = open_folder(url)
    refs = first.create_many([Contact(Record(first_name=f"P{i}")) for i in range(5)])
    listing = {r.item_id: r.version for r in first.list_items()}
    state = first.export_state()
    first.close()
    assert state and json.loads(state)["token"]
    second = open_folder(url, create=False)
    try:
        second.import_state(state)
        assert {r.item_id: r.version for r in second.list_items()} == listing
        # opening asks nothing; the listing is the one request of the run
        assert _inner(second).client.counters.kinds == {"REPORT": 1}
        assert len(listing) == len(refs)
    finally:
        second.close()


def test_listing_by_token_sees_changes_and_deletions(server: Server) -> None:
    url = f"carddav:{server.book()}"
    store = open_folder(url)
    try:
        keep, gone = store.create_many([Contact(Record(first_name=n)) for n in ("Keep", "Gone")])
        assert isinstance(keep, type(gone))
        list(store.list_items())
        state = store.export_state()
        other = open_folder(url, create=False)
        old = get_one(other, keep.item_id)  # type: ignore[union-attr]
        assert old is not None
        changed = other.update(old, dataclasses.replace(old, record=Record(first_name="Kept")))
        other.delete(gone)  # type: ignore[arg-type]
        made = other.create(Contact(Record(first_name="New")))
        other.close()
        store.import_state(state)
        assert {r.item_id: r.version for r in store.list_items()} == {
            changed.item_id: changed.version,
            made.item_id: made.version,
        }
    finally:
        store.close()


def test_the_state_after_writes_is_the_listing_at_its_token_and_misses_no_delete(
    server: Server,
) -> None:
    """What a run keeps after writing is the listing its token names, taken before the writes
    (no request after them): the next run's changes since that token include this run's own
    cards, so one made here and deleted elsewhere is absent even where the server leaves such
    a card out of the changes (Xandikos), and one changed elsewhere has its new ETag."""
    url = f"carddav:{server.book()}"
    store = open_folder(url)
    try:
        assert list(store.list_items()) == []
        made = store.create_many([Contact(Record(first_name=n)) for n in ("A", "B", "C")])
        a, b, c = (r for r in made if isinstance(r, ItemRef))
        before = dict(_inner(store).client.counters.kinds)
        state = store.export_state()
        assert _inner(store).client.counters.kinds == before, "no request after the writes"
    finally:
        store.close()
    other = open_folder(url, create=False)
    try:
        other.delete(a)
        old = get_one(other, b.item_id)
        assert old is not None
        changed = other.update(old, dataclasses.replace(old, record=Record(first_name="B2")))
    finally:
        other.close()
    again = open_folder(url, create=False)
    try:
        again.import_state(state)
        assert {r.item_id: r.version for r in again.list_items()} == {
            changed.item_id: changed.version,
            c.item_id: c.version,
        }
        assert _inner(again).client.counters.kinds == {"REPORT": 1}
    finally:
        again.close()


def test_a_delete_of_a_card_already_gone_is_done(server: Server) -> None:
    """A card someone deleted meanwhile (the server answers 404): the delete is done, no
    error; the store's own delete of it, as the engine sends it, does not fail the record."""
    url = f"carddav:{server.book()}"
    store = open_folder(url)
    try:
        keep, gone = store.create_many([Contact(Record(first_name=n)) for n in ("K", "G")])
        assert isinstance(gone, ItemRef) and isinstance(keep, ItemRef)
        plain = httpx.delete(server.base + gone.item_id, auth=(server.user, "x"), timeout=10)
        assert plain.status_code in (200, 204), plain.text
        store.delete(gone)
        assert {r.item_id for r in store.list_items()} == {keep.item_id}
    finally:
        store.close()


def test_a_forgotten_sync_token_costs_a_full_listing_not_an_error(server: Server) -> None:
    url = f"carddav:{server.book()}"
    store = open_folder(url)
    try:
        ref = store.create(Contact(Record(first_name="Ann")))
        list(store.list_items())
        state = json.loads(store.export_state() or "{}")
        state["token"] = state["token"] + "-forgotten"
        state["versions"] = {"/stale/entry.vcf": '"x"'}
        store.import_state(json.dumps(state))
        assert {r.item_id: r.version for r in store.list_items()} == {ref.item_id: ref.version}
    finally:
        store.close()


def test_discovery_lists_the_users_address_books(server: Server) -> None:
    url = server.book("Discovered")
    _list(open_folder(f"carddav:{url}"))
    host = server.base.removeprefix("http://")
    for start in (f"{server.user}@{host}/", f"{server.user}@{host}/.well-known/carddav"):
        found = list_folders(f"carddav:http://{start}")
        assert f"carddav:{server.plain(url)}" in found, found
        for folder in found:  # every one opens as an address book
            _list(open_folder(folder, create=False, user=server.user))


def _list(store: GuardedStore) -> list[str]:
    """Use the store (its address book is checked on first use), then close it."""
    try:
        return [ref.item_id for ref in store.list_items()]
    finally:
        store.close()


def test_a_missing_address_book_is_made_on_export_only(server: Server) -> None:
    url = f"carddav:{server.book()}"
    with pytest.raises(FolderNotFound, match="no address book"):
        _list(open_folder(url, create=False))
    assert _list(open_folder(url, create=True)) == []
    assert _list(open_folder(url, create=False)) == []


def test_an_address_book_deleted_after_a_run_is_not_listed_from_the_old_state(
    server: Server,
) -> None:
    url = f"carddav:{server.book()}"
    store = open_folder(url)
    store.create(Contact(Record(first_name="Ann")))
    list(store.list_items())
    state = store.export_state()
    store.close()
    gone = httpx.request(
        "DELETE", server.plain(url.removeprefix("carddav:")), auth=(server.user, "x"), timeout=10
    )
    assert gone.status_code in (200, 204), gone.text
    again = open_folder(url, create=False)
    again.import_state(state)
    with pytest.raises(FolderNotFound):
        _list(again)


def test_an_address_that_is_no_address_book_says_so(server: Server) -> None:
    host = server.base.removeprefix("http://")
    with pytest.raises(StoreError, match="not an address book") as caught:
        _list(open_folder(f"carddav:http://{server.user}@{host}{server.home}", create=False))
    assert "folders list" in caught.value.hint


def test_the_store_url_and_state_hold_no_credentials(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONSYNC_CARDDAV_PASSWORD", "s3cret-pw")
    store = open_folder(f"carddav:{server.book()}")
    try:
        store.create(Contact(Record(first_name="Ann")))
        list(store.list_items())
        assert "s3cret" not in store.url and server.user + "@" not in store.url
        assert "s3cret" not in (store.export_state() or "")
    finally:
        store.close()


def test_credentials_come_from_url_env_and_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    env = {"PERSONSYNC_CARDDAV_PASSWORD": "pw"}
    got = find_credentials("https://alice@dav.example.org/", env=env)
    assert got is not None and (got.user, got.password) == ("alice", "pw")
    assert "pw" not in repr(got)
    env2 = {"PERSONSYNC_CARDDAV_USER": "bob", "PERSONSYNC_CARDDAV_PASSWORD": "pw2"}
    got = find_credentials("https://dav.example.org/", env=env2)
    assert got is not None and (got.user, got.password) == ("bob", "pw2")
    assert find_credentials("https://dav.example.org/", env={}) is None
    conf = tmp_path / "personsync" / "carddav.toml"
    conf.parent.mkdir()
    conf.write_text('["dav.example.org"]\nuser = "carol"\npassword = "from-file"\n')
    os.chmod(conf, 0o644)
    with pytest.raises(ConfigError, match="other users"):
        find_credentials("https://dav.example.org/", env={})
    os.chmod(conf, 0o600)
    got = find_credentials("https://dav.example.org/", env={})
    assert got is not None and (got.user, got.password) == ("carol", "from-file")
    with pytest.raises(UsageError, match="password in the folder URL"):
        open_folder("carddav:https://alice:pw@dav.example.org/book/")


def test_wrong_password_is_an_auth_error_with_a_hint(tmp_path: Path) -> None:
    # Radicale with an htpasswd file: the one server here that checks passwords.
    from carddav_servers import running

    users = tmp_path / "users"
    users.write_text("alice:right\n")
    with running("radicale", tmp_path / "store", auth_file=users) as checked:
        with pytest.raises(StoreError) as caught:
            _list(open_folder(f"carddav:{checked.book()}", password="wrong"))
        assert "user name and password" in caught.value.message
        assert "app password" in caught.value.hint
        assert _list(open_folder(f"carddav:{checked.book()}", password="right")) == []


def test_cards_are_read_by_multiget_in_batches(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    import personsync.stores.carddav as carddav

    monkeypatch.setattr(carddav, "MULTIGET", 2)
    store = open_folder(f"carddav:{server.book()}")
    try:
        refs = store.create_many([Contact(Record(first_name=f"P{i}")) for i in range(5)])
        ids = [r.item_id for r in refs if isinstance(r, ItemRef)]
        kinds = _inner(store).client.counters.kinds
        before = kinds["REPORT"]
        got = [c for c in store.get_many(ids) if isinstance(c, Contact)]
        assert sorted(c.record.first_name for c in got) == [f"P{i}" for i in range(5)]
        assert kinds["REPORT"] - before == 3  # 2 + 2 + 1
        assert kinds["GET"] == 0
    finally:
        store.close()
