"""The shared HTTP layer (`stores/http.py`) as the CardDAV store meets it: foreign errors become
the project's errors with a hint, retries follow the server's word, lost answers of writes are
uncertain, never retried blindly."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from carddav_proxy import FaultProxy, Rule
from carddav_servers import Server
from carddav_servers import radicale as radicale
from carddav_servers import xandikos as xandikos

from personsync.errors import ConflictError, StoreError, UncertainOutcome
from personsync.model import Contact, Record
from personsync.stores import open_folder
from personsync.stores.http import HttpClient, RetryPolicy, retry_after
from personsync.testing.carddav_servers import free_port


@pytest.fixture
def proxy(radicale: Server) -> Iterator[FaultProxy]:
    with FaultProxy(radicale.base).serving() as running:
        yield running


def test_tls_to_a_plain_http_server_says_tls(radicale: Server) -> None:
    host = radicale.base.removeprefix("http://")
    store = open_folder(f"carddav:https://alice@{host}/alice/x/")
    with pytest.raises(StoreError) as caught:
        list(store.list_items())
    store.close()
    assert "secure connection" in caught.value.message
    assert "certificate" in caught.value.hint


def test_nothing_listening_says_cannot_reach() -> None:
    client = HttpClient("", service="the test server", retry=RetryPolicy(max_retries=1, backoff=0))
    try:
        with pytest.raises(StoreError) as caught:
            client.send("PROPFIND", f"http://127.0.0.1:{free_port()}/")
    finally:
        client.close()
    assert "cannot reach the test server" in caught.value.message
    assert "network" in caught.value.hint
    assert client.counters.retries == 1


def test_a_refused_card_says_why(proxy: FaultProxy, radicale: Server) -> None:
    host = proxy.base.removeprefix("http://")
    store = open_folder(f"carddav:http://alice@{host}/alice/refusing/")
    proxy.add(Rule("PUT", "status", status=415, body=b"vCard 2.1 is not supported here"))
    try:
        with pytest.raises(StoreError) as caught:
            store.create(Contact(Record(first_name="Ann")))
    finally:
        store.close()
    assert "vCard 2.1 is not supported here" in caught.value.message
    assert "HTTP 415" in caught.value.message


def test_a_lost_answer_of_a_write_is_uncertain_and_a_read_is_asked_again(
    proxy: FaultProxy,
) -> None:
    client = HttpClient("", service="the test server", retry=RetryPolicy(backoff=0))
    url = f"{proxy.base}/alice/"
    proxy.add(Rule("PUT", "drop"))
    proxy.add(Rule("PROPFIND", "drop"))
    try:
        with pytest.raises(UncertainOutcome):
            client.send("PUT", url + "x/y.vcf", content=b"")
        assert client.counters.requests == 1, "a write whose answer was lost is not resent"
        reply = client.send("PROPFIND", url, headers={"Depth": "0"})
        assert reply.status == 207
        assert client.counters.retries == 1
        # a 412 is the caller's to read: the layer names it a conflict
        proxy.add(Rule("PUT", "status", status=412))
        answer = client.send("PUT", url + "x/y.vcf", content=b"", headers={"If-Match": '"x"'})
        assert isinstance(client.error_for(answer, "writing"), ConflictError)
    finally:
        client.close()


def test_retry_after_in_seconds_and_as_a_date() -> None:
    assert retry_after({"Retry-After": "3"}) == 3.0
    later = httpx.Headers({"retry-after": "Wed, 21 Oct 2099 07:28:00 GMT"})
    assert (retry_after(later) or 0) > 1e6
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None
