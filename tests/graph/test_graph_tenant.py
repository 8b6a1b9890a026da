"""The client meets a real tenant's answers (issue 15, items 1-5 and 7), on the test server over
real HTTP: the default folder without well-known names, emptied extended properties, stale and
foreign ids, tokens that end mid-run, and the service's other errors with their hints."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
from graph_support import FAST, USER, make_server, open_graph, sign_in

from personsync.errors import AuthError, ItemNotFound, StoreError, ThrottledError
from personsync.graph.config import GraphConfig
from personsync.graph.testserver import TEST_CLIENT_ID, TEST_SECRET, GraphTestServer
from personsync.graph.testserver.identity import AppRegistration
from personsync.graph.testserver.limits import Faults, ServerConfig
from personsync.model import Contact, Record
from personsync.stores import graph as graph_store
from personsync.stores import open_folder


def _person(i: int, **more: object) -> Contact:
    record = Record(first_name=f"P{i}", last_name="Lee", **more)  # type: ignore[arg-type]
    return Contact(record, customer_id=str(i))


def _requests(srv: GraphTestServer) -> list[str]:
    return [f"{method} {path}" for method, path, _, _ in srv.api.log]


# --- 1. the default folder -------------------------------------------------------------------


def test_default_folder_of_an_empty_mailbox_without_well_known_names(
    server: GraphTestServer,
) -> None:
    box = server.mailbox(USER)
    assert not box.well_known_names  # the server refuses `contactFolders/contacts`
    store = open_graph(server)
    assert list(store.list_items()) == []  # no contact, no folder: nothing to list
    [made] = store.create_many([_person(1)])
    assert not isinstance(made, StoreError)
    assert box.contacts[made.item_id].folder_id == box.root.id  # created in the default folder
    assert [r.item_id for r in store.list_items()] == [made.item_id]
    # A new run finds the folder from its contacts; nothing ever asked for a well-known name.
    assert [r.item_id for r in open_graph(server).list_items()] == [made.item_id]
    assert not [r for r in _requests(server) if "contactFolders/contacts" in r.casefold()]


def test_default_folder_found_from_a_subfolder(server: GraphTestServer) -> None:
    box = server.mailbox(USER)
    box.create_folder(box.root.id, "Elsewhere")
    store = open_graph(server)
    assert store.inner.folder.id == box.root.id  # type: ignore[attr-defined]
    store.create_many([_person(2)])
    assert {c.folder_id for c in box.contacts.values()} == {box.root.id}


# --- 2. emptying extended properties ---------------------------------------------------------


def test_emptied_text_property_is_written_as_empty_and_read_back_empty(
    server: GraphTestServer,
) -> None:
    store = open_graph(server)
    store.create_many([_person(3, business_fax="+1 212 555 0100")])
    [old] = [c for c in store.find_by_customer_id("3")]
    new = Contact(old.record.replace({"business_fax": ""}), customer_id="3")
    store.update(old, new)
    [stored] = server.mailbox(USER).contacts.values()
    assert stored.ext["string 0x3a24"]["value"] == ""
    [back] = store.find_by_customer_id("3")
    assert back.record.business_fax == ""


def test_a_refused_emptying_does_not_sink_the_other_changes(server: GraphTestServer) -> None:
    store = open_graph(server)
    store.create_many([_person(4, anniversary=date(2001, 6, 2), job_title="Clerk")])
    [old] = store.find_by_customer_id("4")
    new = Contact(
        old.record.replace({"anniversary": None, "job_title": "Treasurer"}), customer_id="4"
    )
    [result] = store.update_many([(old, new)])
    # No page documents emptying a SystemTime property; the server refuses `null` as the
    # service may: the job title is saved all the same, and the refusal is reported.
    assert isinstance(result, StoreError)
    assert "anniversary" in result.message and "saved" in result.message
    [stored] = server.mailbox(USER).contacts.values()
    assert stored.data["jobTitle"] == "Treasurer"
    assert stored.ext["systemtime 0x3a41"]["value"].startswith("2001-06-02")


# --- 3. stale and foreign ids, per item ------------------------------------------------------


def test_malformed_and_deleted_ids_are_skipped_and_the_rest_read(server: GraphTestServer) -> None:
    store = open_graph(server)
    refs = store.create_many([_person(i) for i in range(5, 9)])
    ids = [r.item_id for r in refs if not isinstance(r, StoreError)]
    store.delete(refs[0])  # type: ignore[arg-type]
    asked = ["AAMk-foreign!", ids[0], *ids[1:], "not an id"]
    read = [c for c in store.get_many(asked) if isinstance(c, Contact)]
    assert [c.item_id for c in read] == ids[1:]
    statuses = {status for method, path, _, status in server.api.log if "foreign" in path}
    assert statuses == {400}  # the server answered ErrorInvalidIdMalformed for it


def test_updating_a_foreign_id_fails_that_item_only(server: GraphTestServer) -> None:
    store = open_graph(server)
    store.create_many([_person(9)])
    [good] = store.find_by_customer_id("9")
    stale = Contact(good.record, item_id="stale-id", version="x", customer_id="10")
    changed = Contact(good.record.replace({"job_title": "CFO"}), customer_id="9")
    results = store.update_many([(stale, Contact(stale.record, customer_id="10")), (good, changed)])
    assert isinstance(results[0], ItemNotFound)
    assert not isinstance(results[1], StoreError)
    assert server.mailbox(USER).contacts[good.item_id].data["jobTitle"] == "CFO"


# --- 4. tokens that end mid-run --------------------------------------------------------------


def test_token_ended_mid_run_is_refreshed_once_silently(
    server: GraphTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(server, tmp_path, monkeypatch)
    store = open_folder("graph:Contacts", retry=FAST, timeout=5.0)
    store.create_many([_person(i) for i in range(20)])
    server.state.expire_tokens()  # before their stated end
    refreshes = len(server.identity.refresh)
    read = list(store.get_many([r.item_id for r in store.list_items()]))
    assert len([c for c in read if isinstance(c, Contact)]) == 20
    server.state.expire_tokens()
    store.create_many([_person(99)])  # a $batch refused as a whole: sent again
    assert len(server.mailbox(USER).contacts) == 21
    refused = [s for _, _, _, s in server.api.log if s == 401]
    assert len(refused) == 2  # one refused request each time, then the new token
    assert len(server.identity.refresh) == refreshes  # each refresh token used once, renewed


def test_app_only_token_ended_mid_run_is_renewed(server: GraphTestServer, tmp_path: Path) -> None:
    config = GraphConfig(
        tenant="test",
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_SECRET,
        authority=server.base_url,
        base_url=server.graph_url,
        mailbox=USER,
        directory=tmp_path,
    )
    store = open_folder("graph:Contacts", config=config, retry=FAST, timeout=5.0)
    store.create_many([_person(1)])
    server.state.expire_tokens()
    store.create_many([_person(2)])  # client credentials again, no person needed
    assert len(server.mailbox(USER).contacts) == 2
    assert [s for _, _, _, s in server.api.log].count(401) == 1


def test_short_lived_tokens_are_renewed_before_they_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = make_server()
    srv.state.token_lifetime = 2.0
    with srv.serve():
        sign_in(srv, tmp_path, monkeypatch)
        store = open_folder("graph:Contacts", retry=FAST, timeout=5.0)
        for i in range(3):
            store.create_many([_person(i)])
            time.sleep(1.2)
        assert len(srv.mailbox(USER).contacts) == 3
        assert not [s for _, _, _, s in srv.api.log if s == 401]


def test_revoked_sign_in_says_once_to_sign_in_again(
    server: GraphTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(server, tmp_path, monkeypatch)
    store = open_folder("graph:Contacts", retry=FAST, timeout=5.0)
    server.identity.revoke(USER)
    server.state.expire_tokens()
    with pytest.raises(AuthError) as caught:
        store.create_many([_person(1)])
    assert "personsync graph login" in caught.value.hint
    assert "revoked" in caught.value.hint
    assert not server.mailbox(USER).contacts


# --- 5. the service's other errors -----------------------------------------------------------


def test_full_mailbox(server: GraphTestServer) -> None:
    server.mailbox(USER).quota_full = True
    [result] = open_graph(server).create_many([_person(1)])
    assert isinstance(result, StoreError)
    assert "is full" in result.message and "ErrorQuotaExceeded" in result.message
    assert "free space" in result.hint


def test_mailbox_not_enabled_for_rest(server: GraphTestServer) -> None:
    server.mailbox(USER).rest_enabled = False
    with pytest.raises(StoreError) as caught:
        open_graph(server)
    assert not isinstance(caught.value, ItemNotFound)
    assert "MailboxNotEnabledForRESTAPI" in caught.value.message
    assert "Exchange Online" in caught.value.hint


def test_another_persons_mailbox_is_denied_with_its_name(server: GraphTestServer) -> None:
    server.mailbox("bob@example.org")
    with pytest.raises(AuthError) as caught:
        open_graph(server, mailbox="bob@example.org")
    assert "ErrorAccessDenied" in caught.value.message
    assert "bob@example.org" in caught.value.hint and "shared with you" in caught.value.hint


def test_app_without_admin_consent_is_told_how_to_get_it(
    server: GraphTestServer, tmp_path: Path
) -> None:
    server.identity.register(AppRegistration(TEST_CLIENT_ID, secret=TEST_SECRET, consented=False))
    config = GraphConfig(
        tenant="test",
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_SECRET,
        authority=server.base_url,
        base_url=server.graph_url,
        mailbox=USER,
        directory=tmp_path,
    )
    with pytest.raises(AuthError) as caught:
        open_folder("graph:Contacts", config=config, retry=FAST, timeout=5.0)
    assert "ErrorAccessDenied" in caught.value.message
    assert "Grant admin consent" in caught.value.hint


def test_gateway_timeout_after_retries() -> None:
    faults = Faults()
    faults.add("contactFolders", "504", times=20)
    srv = make_server(faults=faults)
    with srv.serve(), pytest.raises(StoreError) as caught:
        open_graph(srv)
    assert "gateway timed out" in caught.value.message
    assert "run again" in caught.value.hint


def test_throttled_inside_a_batch_to_the_end() -> None:
    faults = Faults()
    faults.add("POST /me/contactFolders", "429", times=200)  # inner requests of the batches
    srv = make_server(ServerConfig(integer_retry_after=False), faults)  # short Retry-After
    with srv.serve():
        results = open_graph(srv, "Contacts/CRM").create_many([_person(i) for i in range(6)])
    assert all(isinstance(r, ThrottledError) for r in results)
    assert all("150 MB" in r.hint for r in results)  # type: ignore[union-attr]
    assert not srv.mailbox(USER).contacts


def test_upload_budget_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    srv = make_server(ServerConfig(upload_budget=25_000, upload_window=1.0))
    waits: list[str] = []
    with srv.serve():
        store = open_graph(srv, on_wait=lambda s, why: waits.append(why))
        for start in (0, 20, 40):
            store.create_many([_person(i, notes="x" * 400) for i in range(start, start + 20)])
    assert len(srv.mailbox(USER).contacts) == 60
    assert any("HTTP 429" in w for w in waits)


# --- 7. Customer ID anywhere in the mailbox, bounded -----------------------------------------


def test_contact_moved_to_another_folder_is_found_by_customer_id(
    server: GraphTestServer,
) -> None:
    store = open_graph(server, "Contacts/CRM")
    [ref] = store.create_many([_person(42)])
    box = server.mailbox(USER)
    other = box.create_folder(box.root.id, "Moved by hand")
    box.move_contact(ref.item_id, other.id, immutable=True)  # type: ignore[union-attr]
    [found] = store.find_by_customer_id("42")
    assert found.item_id == ref.item_id  # type: ignore[union-attr]
    # Found, but not taken for a contact of this folder's listing.
    assert ref.item_id not in {r.item_id for r in store.list_items()}  # type: ignore[union-attr]


def test_a_lost_create_is_not_taken_for_the_same_person_in_another_folder() -> None:
    faults = Faults()
    srv = make_server(faults=faults)
    with srv.serve():
        a = open_graph(srv, "Contacts/A")
        a.create_many([_person(5)])
        b = open_graph(srv, "Contacts/B", timeout=0.5)
        faults.add("POST /v1.0/$batch", "drop_before")  # B's create is lost before it is made
        [made] = b.create_many([_person(5)])
    assert not isinstance(made, StoreError)
    box = srv.mailbox(USER)
    folders = {f.display_name: f.id for f in box.folders.values()}
    assert box.contacts[made.item_id].folder_id == folders["B"]
    assert sorted(c.folder_id for c in box.contacts.values()) == sorted(folders[x] for x in "AB")


def test_customer_id_lookups_are_bounded(
    server: GraphTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph_store, "CUSTOMER_ID_LOOKUPS", 2)
    store = open_graph(server)
    store.find_by_customer_id("1")
    store.find_by_customer_id("2")
    sent = len(server.api.log)
    with pytest.raises(StoreError, match="Customer ID"):
        store.find_by_customer_id("3")
    assert len(server.api.log) == sent  # refused before sending
