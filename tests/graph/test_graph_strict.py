"""The test server is as strict as the service where the documentation says so, and accepts
what the service accepts (issue 15, items 8-10), over real HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from graph_support import USER, make_server, open_graph

from personsync.errors import StoreError
from personsync.graph import links
from personsync.graph.testserver import GraphTestServer
from personsync.graph.testserver.limits import ServerConfig
from personsync.model import Contact, Record

IMMUTABLE = {"Prefer": 'IdType="ImmutableId"'}


def _client(srv: GraphTestServer) -> httpx.Client:
    return httpx.Client(
        base_url=srv.graph_url,
        headers={"Authorization": f"Bearer {srv.token_for(USER)}", **IMMUTABLE},
        timeout=10,
    )


def _post(c: httpx.Client, **body: Any) -> httpx.Response:
    return c.post("/me/contacts", json={"givenName": "Ann", **body})


def _error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def test_list_capacities_are_outlooks(server: GraphTestServer) -> None:
    with _client(server) as c:
        emails = [{"address": f"a{i}@x.org", "name": "A"} for i in range(4)]
        assert _post(c, emailAddresses=emails).status_code == 400
        assert _post(c, emailAddresses=emails[:3]).status_code == 201
        assert _post(c, businessPhones=["1", "2", "3"]).status_code == 400
        assert _post(c, businessPhones=["1", "2"]).status_code == 201


def test_delta_takes_select_alone(server: GraphTestServer) -> None:
    root = server.mailbox(USER).root.id
    with _client(server) as c:
        _post(c)
        url = f"/me/contactFolders/{root}/contacts/delta"
        for extra in ("$expand=singleValueExtendedProperties", "$filter=givenName eq 'Ann'",
                      "$top=5"):  # fmt: skip
            assert c.get(f"{url}?{extra}").status_code == 400, extra
        assert c.get(f"{url}?$select=givenName").status_code == 200
        # The SDKs' function-call form of the same request.
        assert c.get(f"/me/contactFolders/{root}/contacts/delta()").status_code == 200


def test_ids_that_are_not_ids_are_malformed(server: GraphTestServer) -> None:
    with _client(server) as c:
        assert _error(c.get("/me/contacts/not-an-id")) == (400, "ErrorInvalidIdMalformed")
        assert _error(c.get("/me/contactFolders/contacts")) == (400, "ErrorInvalidIdMalformed")
        made = _post(c).json()["id"]
        c.delete(f"/me/contacts/{made}")
        assert _error(c.get(f"/me/contacts/{made}")) == (404, "ErrorItemNotFound")
    server.mailbox(USER).well_known_names = True  # a service that knows the name
    with _client(server) as c:
        assert c.get("/me/contactFolders/contacts").status_code == 200


def test_if_match_with_a_stale_change_key_is_412(server: GraphTestServer) -> None:
    with _client(server) as c:
        made = _post(c).json()
        url = f"/me/contacts/{made['id']}"
        fresh = c.patch(url, json={"jobTitle": "A"}, headers={"If-Match": made["@odata.etag"]})
        assert fresh.status_code == 200
        stale = c.patch(url, json={"jobTitle": "B"}, headers={"If-Match": made["@odata.etag"]})
        assert stale.status_code == 412
        assert c.get(url).json()["jobTitle"] == "A"


def test_extended_property_value_filter_is_case_insensitive(server: GraphTestServer) -> None:
    ext = [{"id": "String 0x3A4A", "value": "AbC-7"}]
    with _client(server) as c:
        made = _post(c, singleValueExtendedProperties=ext).json()["id"]
        flt = "singleValueExtendedProperties/Any(ep: ep/id eq 'String 0x3A4A' and ep/value eq "
        found = c.get("/me/contacts", params={"$filter": flt + "'abc-7')"}).json()["value"]
        assert [f["id"] for f in found] == [made]


def test_extended_property_null_is_refused_and_empty_text_kept(server: GraphTestServer) -> None:
    with _client(server) as c:
        made = _post(c, singleValueExtendedProperties=[{"id": "String 0x3A4A", "value": "1"}])
        url = f"/me/contacts/{made.json()['id']}"
        null = c.patch(url, json={"singleValueExtendedProperties": [
            {"id": "String 0x3A4A", "value": None}]})  # fmt: skip
        assert null.status_code == 400
        empty = c.patch(url, json={"singleValueExtendedProperties": [
            {"id": "String 0x3A4A", "value": ""}]})  # fmt: skip
        assert empty.status_code == 200


@pytest.mark.parametrize("immutable", [True, False])
def test_patching_parent_folder_moves_the_contact(server: GraphTestServer, immutable: bool) -> None:
    box = server.mailbox(USER)
    other = box.create_folder(box.root.id, "Other")
    with _client(server) as c:
        made = _post(c).json()["id"]
        link = c.get(f"/me/contactFolders/{box.root.id}/contacts/delta").json()
        headers = IMMUTABLE if immutable else {"Prefer": 'IdType="RestId"'}
        moved = c.patch(f"/me/contacts/{made}", json={"parentFolderId": other.id}, headers=headers)
        assert moved.status_code == 200 and moved.json()["parentFolderId"] == other.id
        assert (moved.json()["id"] == made) is immutable  # a default id changes with the folder
        removed = c.get(link["@odata.deltaLink"]).json()["value"]
        assert removed == [{"id": made, "@removed": {"reason": "deleted"}}]
        listed = c.get(f"/me/contactFolders/{other.id}/contacts").json()["value"]
        assert [x["id"] for x in listed] == [moved.json()["id"]]


def test_newer_email_properties_are_accepted(server: GraphTestServer) -> None:
    with _client(server) as c:
        made = _post(c, primaryEmailAddress={"address": "p@x.org", "name": "P"})
        assert made.status_code == 201
        assert made.json()["primaryEmailAddress"]["address"] == "p@x.org"
        assert made.json()["secondaryEmailAddress"] is None


def test_links_on_another_host_name_are_followed() -> None:
    srv = make_server(ServerConfig(link_host="localhost", delta_page_size=5))
    with srv.serve():
        store = open_graph(srv)
        store.create_many([Contact(Record(first_name=f"P{i}"), customer_id=str(i))
                           for i in range(12)])  # fmt: skip
        assert len(list(store.list_items())) == 12  # three pages, links on "localhost"
        store.create_many([Contact(Record(first_name="New"), customer_id="new")])
        assert len(list(store.list_items())) == 13  # the delta link, on "localhost" too
    assert "localhost" in (store.export_state() or "")


def test_links_to_a_foreign_host_are_not_followed() -> None:
    base = "https://graph.microsoft.com/v1.0"
    links.check(base, "https://graph.microsoft.com/v1.0/me/contacts?$skip=10")
    links.check("http://127.0.0.1:8000/v1.0", "http://localhost:8000/v1.0/me/contacts")
    with pytest.raises(StoreError, match="another host"):
        links.check(base, "https://evil.example.org/v1.0/me/contacts")
    with pytest.raises(StoreError):
        links.check("http://127.0.0.1:8000/v1.0", "http://localhost:9999/v1.0/me/contacts")


def test_tokens_expire_after_their_lifetime(server: GraphTestServer) -> None:
    server.state.token_lifetime = 0.5
    token = server.token_for(USER)
    with httpx.Client(base_url=server.graph_url, timeout=10) as c:
        auth = {"Authorization": f"Bearer {token}"}
        assert c.get("/me/contactFolders", headers=auth).status_code == 200
        time.sleep(0.6)
        late = c.get("/me/contactFolders", headers=auth)
        assert _error(late) == (401, "InvalidAuthenticationToken")
        assert "expired" in late.json()["error"]["message"]
