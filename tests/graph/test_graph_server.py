"""The test server keeps to the documented behaviour of Microsoft Graph (over real HTTP)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from graph_support import USER, make_server

from personsync.graph.testserver import GraphTestServer
from personsync.graph.testserver.limits import ServerConfig


def _client(srv: GraphTestServer, **headers: str) -> httpx.Client:
    return httpx.Client(
        base_url=srv.graph_url,
        headers={"Authorization": f"Bearer {srv.token_for(USER)}", **headers},
        timeout=10,
    )


def _make(c: httpx.Client, n: int, **extra: Any) -> list[str]:
    ids = []
    for i in range(n):
        r = c.post("/me/contacts", json={"givenName": f"P{i}", "surname": "Lee", **extra})
        assert r.status_code == 201
        ids.append(r.json()["id"])
    return ids


def test_bearer_token_is_required(server: GraphTestServer) -> None:
    r = httpx.get(f"{server.graph_url}/me/contacts")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_contact_shapes_and_change_keys(server: GraphTestServer) -> None:
    with _client(server) as c:
        made = c.post(
            "/me/contacts",
            json={
                "givenName": "Ann",
                "surname": "Lee",
                "birthday": "1990-05-06",
                "singleValueExtendedProperties": [{"id": "String 0x3A4A", "value": "42"}],
            },
        ).json()
        assert made["displayName"] == "Ann Lee"
        assert made["jobTitle"] is None and made["homeAddress"] == {} and made["categories"] == []
        assert "singleValueExtendedProperties" not in made  # not echoed
        assert made["birthday"] == "1990-05-06T11:59:00Z"
        assert made["@odata.etag"] == f'W/"{made["changeKey"]}"'
        patched = c.patch(f"/me/contacts/{made['id']}", json={"givenName": "Bo"}).json()
        assert patched["changeKey"] != made["changeKey"]
        assert patched["displayName"] == "Bo Lee"  # regenerated from the name fields
        expand = "singleValueExtendedProperties($filter=id eq 'String 0x3A4A')"
        got = c.get(f"/me/contacts/{made['id']}", params={"$expand": expand}).json()
        assert got["singleValueExtendedProperties"] == [{"id": "String 0x3a4a", "value": "42"}]


def test_paging_default_ten_and_top(server: GraphTestServer) -> None:
    with _client(server) as c:
        _make(c, 23)
        page = c.get("/me/contacts").json()
        assert len(page["value"]) == 10 and "@odata.nextLink" in page
        seen = [v["id"] for v in page["value"]]
        while "@odata.nextLink" in page:
            page = c.get(page["@odata.nextLink"]).json()
            seen += [v["id"] for v in page["value"]]
        assert len(seen) == len(set(seen)) == 23
        assert len(c.get("/me/contacts", params={"$top": "50"}).json()["value"]) == 23


def test_filters_on_extended_property_and_email(server: GraphTestServer) -> None:
    with _client(server) as c:
        c.post(
            "/me/contacts",
            json={
                "emailAddresses": [{"address": "Ann@X.org", "name": "Ann"}],
                "singleValueExtendedProperties": [{"id": "String 0x3A4A", "value": "7"}],
            },
        )
        _make(c, 2)
        flt = "singleValueExtendedProperties/Any(ep: ep/id eq 'String 0x3A4A' and ep/value eq '7')"
        assert len(c.get("/me/contacts", params={"$filter": flt}).json()["value"]) == 1
        email = "emailAddresses/any(a:a/address eq 'ann@x.org')"
        assert len(c.get("/me/contacts", params={"$filter": email}).json()["value"]) == 1
        bad = c.get("/me/contacts", params={"$filter": "givenName eq 'x'"})
        assert bad.status_code == 400


def test_batch_limits_order_and_depends_on(server: GraphTestServer) -> None:
    with _client(server) as c:
        too_many = [{"id": str(i), "method": "GET", "url": "/me/contacts"} for i in range(21)]
        assert c.post("/$batch", json={"requests": too_many}).status_code == 400
        reqs = [
            {"id": "1", "method": "GET", "url": "/me/contacts/nope"},
            {"id": "2", "method": "GET", "url": "/me/contacts", "dependsOn": ["1"]},
            {"id": "3", "method": "POST", "url": "/me/contacts", "body": {"givenName": "x"}},
            {
                "id": "4",
                "method": "POST",
                "url": "/me/contacts",
                "body": {"givenName": "y"},
                "headers": {"Content-Type": "application/json"},
            },
        ]
        answers = {
            a["id"]: a for a in c.post("/$batch", json={"requests": reqs}).json()["responses"]
        }
        assert answers["1"]["status"] == 400  # "nope" is not an id at all
        assert answers["2"]["status"] == 424
        assert answers["3"]["status"] == 400  # a body needs a Content-Type
        assert answers["4"]["status"] == 201


def test_delta_rounds_removals_and_page_size(server: GraphTestServer) -> None:
    with _client(server, Prefer="odata.maxpagesize=500") as c:
        ids = _make(c, 230)
        url = f"/me/contactFolders/{server.mailbox(USER).root.id}/contacts/delta"
        pages, seen, link = 0, set(), ""
        next_url: str | None = url
        while next_url:
            body = c.get(next_url).json()
            pages += 1
            assert len(body["value"]) <= 200  # maxpagesize is capped
            seen |= {v["id"] for v in body["value"]}
            next_url = body.get("@odata.nextLink")
            link = body.get("@odata.deltaLink", link)
        assert pages == 2 and seen == set(ids)
        assert c.get(link).json()["value"] == []  # nothing changed
        c.delete(f"/me/contacts/{ids[0]}")
        c.patch(f"/me/contacts/{ids[1]}", json={"jobTitle": "CEO"})
        changes = c.get(link).json()["value"]
        assert {v["id"]: "@removed" in v for v in changes} == {ids[0]: True, ids[1]: False}


def test_delta_link_expires_with_410_and_mangled_token_is_400(server: GraphTestServer) -> None:
    with _client(server) as c:
        _make(c, 2)
        body = c.get(f"/me/contactFolders/{server.mailbox(USER).root.id}/contacts/delta").json()
        link = body["@odata.deltaLink"]
        assert c.get(link.replace("deltatoken=", "deltatoken=zz")).status_code == 400
        server.mailbox(USER).delta_epoch += 1
        gone = c.get(link)
        assert gone.status_code == 410
        assert gone.json()["error"]["code"] == "SyncStateNotFound"


def test_delta_replays_repeat_items() -> None:
    srv = make_server(ServerConfig(delta_replays=True))
    with srv.serve(), _client(srv) as c:
        ids = _make(c, 25)
        next_url: str | None = f"/me/contactFolders/{srv.mailbox(USER).root.id}/contacts/delta"
        listed: list[str] = []
        while next_url:
            body = c.get(next_url).json()
            listed += [v["id"] for v in body["value"]]
            next_url = body.get("@odata.nextLink")
        assert len(listed) > len(set(listed)) and set(listed) == set(ids)


def test_throttling_window_answers_429_with_retry_after() -> None:
    # A window that 8 requests fit in on a busy machine (0.5 s did not, at a load of 20).
    srv = make_server(ServerConfig(budget=5, window=2.0, integer_retry_after=False))
    with srv.serve(), _client(srv) as c:
        codes = [c.get("/me/contacts").status_code for _ in range(7)]
        assert codes == [200] * 5 + [429, 429]
        throttled = c.get("/me/contacts")
        wait = float(throttled.headers["Retry-After"])
        assert 0 < wait <= 2.0
        time.sleep(wait + 0.05)
        assert c.get("/me/contacts").status_code == 200
        # Requests inside a batch count one by one.
        time.sleep(2.05)
        reqs = [{"id": str(i), "method": "GET", "url": "/me/contacts"} for i in range(7)]
        answers = c.post("/$batch", json={"requests": reqs}).json()["responses"]
        assert sorted(a["status"] for a in answers) == [200] * 5 + [429, 429]


def test_app_token_cannot_use_me_but_can_use_users(server: GraphTestServer) -> None:
    token = server.state.issue_token(
        {"kind": "app", "client_id": "x", "scopes": ["Contacts.ReadWrite"]}
    )
    with httpx.Client(base_url=server.graph_url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.get("/me/contacts").status_code == 400
        assert c.get(f"/users/{USER}/contacts").status_code == 200


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_read_only_token_cannot_write(server: GraphTestServer, method: str) -> None:
    with _client(server) as c:
        item = _make(c, 1)[0]
    token = server.state.issue_token({"kind": "user", "upn": USER, "scopes": ["Contacts.Read"]})
    r = httpx.request(
        method,
        f"{server.graph_url}/me/contacts/{item}",
        json={"givenName": "x"} if method == "PATCH" else None,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 403
