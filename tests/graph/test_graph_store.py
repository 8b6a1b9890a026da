"""The `graph:` store against the test server: folders, CRUD, conflicts, delta state, and the
number of requests each operation costs (asserted with the client's counters)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from graph_support import USER, open_graph, store_options

from personsync.errors import ConflictError, FolderNotFound, ItemNotFound
from personsync.graph.testserver import GraphTestServer
from personsync.model import Contact, Record
from personsync.stores import list_folders
from personsync.stores.base import ItemRef, get_one, read_all


def people(n: int, start: int = 0) -> list[Contact]:
    return [
        Contact(
            Record(
                first_name=f"P{i}",
                last_name="Lee",
                email1=f"p{i}@x.org",
                business_fax="+1 212 555 0199",
                birthday=date(1990, 1, 1 + i % 28),
            ),
            customer_id=str(i),
        )
        for i in range(start, start + n)
    ]


def test_folders_are_found_created_and_listed(server: GraphTestServer) -> None:
    with pytest.raises(FolderNotFound) as missing:
        open_graph(server, "Contacts/CRM Members", create=False)
    assert "graph:Contacts/CRM Members" in missing.value.message
    deep = open_graph(server, "Contacts/CRM Members/Board")
    assert deep.url == "graph:Contacts/CRM Members/Board"
    again = open_graph(server, "contacts/crm members/board", create=False)
    assert again.inner.folder.id == deep.inner.folder.id  # type: ignore[attr-defined]
    with pytest.raises(FolderNotFound) as other:
        open_graph(server, "Contacts/Other", create=False)
    assert "graph:Contacts/CRM Members" in other.value.hint  # names the folders that exist
    assert list_folders("graph:", **store_options(server)) == [
        "graph:Contacts",
        "graph:Contacts/CRM Members",
        "graph:Contacts/CRM Members/Board",
    ]


def test_create_read_update_delete(server: GraphTestServer) -> None:
    store = open_graph(server, "Contacts/CRM")
    ref = store.create(people(1)[0])
    got = get_one(store, ref.item_id)
    assert got is not None and got.version == ref.version
    assert got.record == people(1)[0].record and got.customer_id == "0"
    new = Contact(got.record.replace({"last_name": "Ng", "business_fax": ""}), customer_id="0")
    ref2 = store.update(got, new)
    assert ref2.version != ref.version
    back = get_one(store, ref.item_id)
    assert back is not None and back.record.last_name == "Ng" and back.record.business_fax == ""
    assert back.record.email1 == "p0@x.org"  # untouched fields stay
    with pytest.raises(ConflictError):
        store.update(got, new)  # got carries the old changeKey
    with pytest.raises(ConflictError):
        store.delete(ItemRef(ref.item_id, ref.version))
    store.delete(ref2)
    assert get_one(store, ref.item_id) is None
    with pytest.raises(ItemNotFound):
        store.delete(ref2)


def test_conflict_seen_by_the_listing_when_outlook_changed_the_contact(
    server: GraphTestServer,
) -> None:
    store = open_graph(server)
    store.create(people(1)[0])
    [ref] = list(store.list_items())
    contact = get_one(store, ref.item_id)
    assert contact is not None
    server.mailbox(USER).update_contact(ref.item_id, {"jobTitle": "typed in Outlook"})
    fresh = open_graph(server)  # a new run: no cached versions
    [result] = fresh.update_many([(contact, Contact(Record(first_name="X"), customer_id="0"))])
    assert isinstance(result, ConflictError)
    assert server.mailbox(USER).contact(ref.item_id).data["givenName"] == "P0"


def test_find_by_customer_id_uses_the_index(server: GraphTestServer) -> None:
    store = open_graph(server)
    store.create_many(people(30))
    before = store.counters.requests
    found = store.find_by_customer_id("17")
    assert [c.record.first_name for c in found] == ["P17"]
    assert store.counters.requests - before == 1


def test_export_of_n_costs_n_writes_in_batches_of_20(server: GraphTestServer) -> None:
    store = open_graph(server, "Contacts/CRM")
    opened = store.counters.snapshot()["requests"]
    refs = store.create_many(people(205))
    assert all(isinstance(r, ItemRef) for r in refs)
    c = store.counters
    assert c.batches == 11 and c.inner == 205  # ⌈205/20⌉ batches, one write per contact
    assert c.requests - opened == 11
    assert len({r.item_id for r in refs if isinstance(r, ItemRef)}) == 205


def test_no_op_relist_is_one_delta_round_and_k_changes_cost_o_k(server: GraphTestServer) -> None:
    store = open_graph(server)
    store.create_many(people(150))
    listed = {r.item_id: r.version for r in store.list_items()}
    assert len(listed) == 150
    state = store.export_state()
    # Next run: a new store, the saved state handed back.
    rerun = open_graph(server)
    rerun.import_state(state)
    base = rerun.counters.requests
    again = {r.item_id: r.version for r in rerun.list_items()}
    assert again == listed
    assert rerun.counters.requests - base == 1  # one delta round, no per-contact request
    # Outlook changes 3 contacts and deletes 1: the next listing sees exactly that.
    ids = list(listed)
    box = server.mailbox(USER)
    for i in ids[:3]:
        box.update_contact(i, {"jobTitle": "changed"})
    box.delete_contact(ids[3])
    base = rerun.counters.requests
    changed = {r.item_id: r.version for r in rerun.list_items()}
    assert rerun.counters.requests - base == 1
    assert set(changed) == set(ids) - {ids[3]}
    moved = [i for i in ids[:3] if changed[i] != listed[i]]
    assert len(moved) == 3
    base = rerun.counters.requests
    contacts = list(rerun.get_many(moved))
    pairs = [
        (c, Contact(c.record.replace({"job_title": "fixed"}), customer_id=c.customer_id))
        for c in contacts
        if isinstance(c, Contact)
    ]
    results = rerun.update_many(pairs)
    assert all(isinstance(r, ItemRef) for r in results)
    # k=3: one batch to read, one batch to write; no per-contact version check (listing knew).
    assert rerun.counters.requests - base == 2
    assert rerun.counters.inner == 6
    # Every request, delta and inner batch requests included, asked for immutable ids.
    assert len(server.api.log) > 20 and server.api.mutable_id_requests == []


def test_delta_reset_falls_back_to_a_full_listing(server: GraphTestServer) -> None:
    store = open_graph(server)
    store.create_many(people(12))
    first = {r.item_id for r in store.list_items()}
    server.mailbox(USER).delta_epoch += 1  # the service forgets every sync state
    store.create_many(people(2, start=100))
    second = {r.item_id for r in store.list_items()}
    assert first < second and len(second) == 14
    damaged = open_graph(server)
    folder_id = damaged.inner.folder.id  # type: ignore[attr-defined]
    mangled = f"{server.graph_url}/me/contactFolders/{folder_id}/contacts/delta?$deltatoken=%%%"
    damaged.import_state(json.dumps({"folder": folder_id, "delta": mangled, "versions": {}}))
    assert {r.item_id for r in damaged.list_items()} == second


def test_state_of_another_folder_is_ignored(server: GraphTestServer) -> None:
    a = open_graph(server, "Contacts/A")
    a.create_many(people(3))
    list(a.list_items())
    b = open_graph(server, "Contacts/B")
    b.import_state(a.export_state())
    assert list(b.list_items()) == []


def test_read_all_and_unmapped_values(server: GraphTestServer) -> None:
    store = open_graph(server)
    box = server.mailbox(USER)
    box.create_contact(
        box.root.id,
        {
            "givenName": "Many",
            "emailAddresses": [{"address": f"m{i}@x.org", "name": "M"} for i in range(3)],
        },
    )
    [contact] = list(read_all(store))
    assert isinstance(contact, Contact)
    assert contact.record.email3 == "m2@x.org"
    assert not contact.unmapped  # Outlook holds 3 addresses, as many as a Person
