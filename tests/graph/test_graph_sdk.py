"""Microsoft's own SDK (msgraph-sdk, async) lists, creates, reads and updates contacts on the
test server over loopback, extended property included: the server speaks real Graph."""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any

import httpx
import pytest
from graph_support import USER
from graph_support import open_graph as open_graph_store

from personsync.graph.testserver import GraphTestServer
from personsync.model import Contact as PContact
from personsync.model import Record as PRecord

pytest.importorskip("msgraph")

# The SDK warns about its own generated classes (at import and at use); not ours to fix.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kiota_abstractions.authentication import (
        AccessTokenProvider,
        AllowedHostsValidator,
        BaseBearerTokenAuthenticationProvider,
    )
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.generated.models.contact import Contact
    from msgraph.generated.models.email_address import EmailAddress
    from msgraph.generated.models.single_value_legacy_extended_property import (
        SingleValueLegacyExtendedProperty,
    )
    from msgraph.generated.users.item.contacts.item.contact_item_request_builder import (
        ContactItemRequestBuilder,
    )
    from msgraph.graph_request_adapter import options as sdk_options
    from msgraph_core import GraphClientFactory

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class FixedToken(AccessTokenProvider):
    def __init__(self, token: str) -> None:
        self.token = token

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: Any = None
    ) -> str:
        return self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator([])


def _sdk(srv: GraphTestServer) -> GraphServiceClient:
    auth = BaseBearerTokenAuthenticationProvider(FixedToken(srv.token_for(USER)))
    # The SDK's own middleware (retry, /me rewriting, ...) over a plain httpx client.
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(), options=sdk_options
    )
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = srv.graph_url
    return GraphServiceClient(request_adapter=adapter)


def test_msgraph_sdk_round_trip(server: GraphTestServer) -> None:
    async def scenario() -> None:
        client = _sdk(server)
        made = await client.me.contacts.post(
            Contact(
                given_name="Ann",
                surname="Lee",
                email_addresses=[EmailAddress(address="ann@example.org", name="Ann")],
                single_value_extended_properties=[
                    SingleValueLegacyExtendedProperty(id="String 0x3A4A", value="42")
                ],
            )
        )
        assert made is not None and made.id and made.change_key
        assert made.display_name == "Ann Lee"
        listed = await client.me.contacts.get()
        assert listed is not None and [c.id for c in listed.value or []] == [made.id]
        params = ContactItemRequestBuilder.ContactItemRequestBuilderGetQueryParameters(
            expand=["singleValueExtendedProperties($filter=id eq 'String 0x3A4A')"]
        )
        got = await client.me.contacts.by_contact_id(made.id).get(
            request_configuration=RequestConfiguration(query_parameters=params)
        )
        assert got is not None
        ext = got.single_value_extended_properties or []
        assert [(p.id, p.value) for p in ext] == [("String 0x3a4a", "42")]
        changed = await client.me.contacts.by_contact_id(made.id).patch(Contact(job_title="CTO"))
        assert changed is not None and changed.job_title == "CTO"
        assert changed.change_key != made.change_key

    asyncio.run(scenario())
    # And our own store reads what the SDK wrote.
    from graph_support import open_graph

    [contact] = [c for c in open_graph(server).find_by_customer_id("42")]
    assert (contact.record.first_name, contact.record.job_title) == ("Ann", "CTO")
    assert contact.record.email1 == "ann@example.org"


def test_msgraph_sdk_delta_batch_paging_and_expand(server: GraphTestServer) -> None:
    """The SDK's own request builders: delta rounds (`delta()`), paging with its PageIterator,
    `$batch` with BatchRequestContent, and extended properties through `$expand`."""
    from msgraph.generated.users.item.contact_folders.item.contacts.delta.delta_request_builder import (  # noqa: E501
        DeltaRequestBuilder,
    )
    from msgraph.generated.users.item.contacts.contacts_request_builder import (
        ContactsRequestBuilder,
    )
    from msgraph_core import PageIterator
    from msgraph_core.requests.batch_request_content import BatchRequestContent
    from msgraph_core.requests.batch_request_item import BatchRequestItem

    store = open_graph_store(server)
    made = store.create_many(
        [
            PContact(PRecord(first_name=f"P{i}", last_name="Lee"), customer_id=f"c{i}")
            for i in range(25)
        ]
    )
    ids = {r.item_id for r in made}  # type: ignore[union-attr]
    folder = server.mailbox(USER).root.id

    async def scenario() -> None:
        client = _sdk(server)
        contacts = client.me.contact_folders.by_contact_folder_id(folder).contacts
        # Delta: a first round over pages of 10, then the delta link sees one change.
        params = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            select=["givenName", "changeKey"]
        )
        page = await contacts.delta.get(RequestConfiguration(query_parameters=params))
        seen: set[str] = set()
        while page is not None:
            seen |= {c.id for c in page.value or [] if c.id}
            if page.odata_next_link:
                page = await contacts.delta.with_url(page.odata_next_link).get()
            else:
                delta_link = page.odata_delta_link
                break
        assert seen == ids and delta_link
        first = next(iter(sorted(ids)))
        await client.me.contacts.by_contact_id(first).patch(Contact(job_title="Chair"))
        changes = await contacts.delta.with_url(delta_link).get()
        assert changes is not None and [c.id for c in changes.value or []] == [first]

        # Paging: the SDK's PageIterator follows @odata.nextLink (default pages of 10).
        listed = await client.me.contacts.get(
            RequestConfiguration(
                query_parameters=ContactsRequestBuilder.ContactsRequestBuilderGetQueryParameters(
                    select=["givenName"]
                )
            )
        )
        names: list[str] = []

        def collect(item: Contact) -> bool:
            names.append(item.given_name or "")
            return True

        await PageIterator(listed, client.request_adapter).iterate(collect)
        assert sorted(names) == sorted(f"P{i}" for i in range(25))

        # $batch of GETs, each expanding the Customer ID.
        expand = ContactItemRequestBuilder.ContactItemRequestBuilderGetQueryParameters(
            expand=["singleValueExtendedProperties($filter=id eq 'String 0x3A4A')"]
        )
        batch = BatchRequestContent()
        for n, item_id in enumerate(sorted(ids)[:5]):
            info = client.me.contacts.by_contact_id(item_id).to_get_request_information(
                RequestConfiguration(query_parameters=expand)
            )
            batch.add_request(str(n), BatchRequestItem(info, id=str(n)))
        answer = await client.batch.post(batch)
        statuses = answer.get_response_status_codes()  # type: ignore[union-attr]
        assert statuses == {str(n): 200 for n in range(5)}
        # The SDK drops inner bodies that are JSON objects, as the service sends them
        # (microsoft/kiota-python#737): the same batch, sent by the SDK, read as bytes.
        info = await client.batch.to_post_request_information(batch)
        raw = await client.request_adapter.send_primitive_async(info, "bytes", {})
        bodies = {r["id"]: r["body"] for r in json.loads(raw)["responses"]}
        for n in range(5):
            [ext] = bodies[str(n)]["singleValueExtendedProperties"]
            assert ext["id"] == "String 0x3a4a" and ext["value"].startswith("c")

    asyncio.run(scenario())
    # The SDK asked in its own words: the function-call form of delta.
    assert any(path.endswith("/contacts/delta()") for _, path, _, _ in server.api.log)
