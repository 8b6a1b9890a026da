"""Microsoft's own SDK (msgraph-sdk, async) lists, creates, reads and updates contacts on the
test server over loopback, extended property included: the server speaks real Graph."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import httpx
import pytest
from graph_support import USER

from personsync.graph.testserver import GraphTestServer

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
