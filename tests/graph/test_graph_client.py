"""The Graph client's limits: request budget, Retry-After, bounded retries, lost answers,
concurrency per mailbox."""

from __future__ import annotations

import threading
import time

import pytest
from graph_support import USER, make_server

from personsync.errors import StoreError, ThrottledError
from personsync.graph.client import GraphClient, UncertainOutcome
from personsync.graph.limits import Limits, RetryPolicy
from personsync.graph.testserver.limits import Faults, ServerConfig

FAST = RetryPolicy(max_retries=8, backoff=0.01, max_backoff=0.05)


def _client(srv, **kw) -> GraphClient:  # type: ignore[no-untyped-def]
    kw.setdefault("retry", FAST)
    return GraphClient(srv.graph_url, lambda: srv.token_for(USER), **kw)


def test_budget_keeps_under_the_limit_and_says_why_it_waits() -> None:
    # A window long enough that 10 requests fit in it on a busy machine (at 0.6 s they did
    # not, at a load of 20 on 2 cores, and nothing had to wait).
    srv = make_server(ServerConfig(budget=10, window=2.0, integer_retry_after=False))
    waits: list[tuple[float, str]] = []
    with srv.serve():
        client = _client(
            srv,
            limits=Limits(budget=10, window=2.0, headroom=1.0),
            on_wait=lambda s, why: waits.append((s, why)),
        )
        started = time.monotonic()
        for _ in range(15):
            assert client.send("GET", "/me/contacts").status == 200
        assert time.monotonic() - started >= 1.9
        assert client.counters.throttled == 0  # never tripped the server's limit
        assert waits and "request limit" in waits[0][1]


def test_retry_after_is_honoured_and_counted() -> None:
    faults = Faults()
    faults.add("GET /v1.0/me/contacts", "429", times=2)
    faults.add("GET /v1.0/me/contacts", "503")
    srv = make_server(faults=faults)
    with srv.serve():
        client = _client(srv)
        assert client.send("GET", "/me/contacts").status == 200
        assert client.counters.throttled == 2 and client.counters.retries == 3
        assert client.counters.requests == 4


def test_retries_are_bounded_then_throttled_error() -> None:
    faults = Faults()
    faults.add("GET /v1.0/me/contacts", "429", times=10)
    srv = make_server(faults=faults)
    with srv.serve():
        client = _client(srv, retry=RetryPolicy(max_retries=3, backoff=0.001))
        with pytest.raises(ThrottledError) as caught:
            client.json("GET", "/me/contacts")
        assert caught.value.hint
        assert client.counters.requests == 4


def test_dropped_connections_retry_reads_but_not_writes() -> None:
    faults = Faults()
    faults.add("GET /v1.0/me/contacts", "drop_before")
    faults.add("POST /v1.0/me/contacts", "drop_after")
    srv = make_server(faults=faults)
    with srv.serve():
        client = _client(srv)
        assert client.send("GET", "/me/contacts").status == 200
        assert client.counters.retries == 1
        with pytest.raises(UncertainOutcome):
            client.send("POST", "/me/contacts", json={"givenName": "x"})
        assert len(srv.mailbox(USER).contacts) == 1  # it did happen: the answer was lost


def test_timeouts_are_retried_then_reported() -> None:
    faults = Faults()
    faults.add("GET /v1.0/me/contacts", "slow", times=2)
    srv = make_server(ServerConfig(slow_seconds=0.5), faults=faults)
    with srv.serve():
        client = _client(srv, timeout=0.2)
        assert client.send("GET", "/me/contacts").status == 200
        assert client.counters.retries == 2
        faults.add("GET /v1.0/me/contacts", "slow", times=5)
        tight = _client(srv, timeout=0.2, retry=RetryPolicy(max_retries=1, backoff=0.001))
        with pytest.raises(StoreError) as caught:
            tight.send("GET", "/me/contacts")
        assert "cannot reach" in caught.value.message


def test_no_more_than_four_in_flight_per_mailbox() -> None:
    srv = make_server(ServerConfig(max_concurrent=4, integer_retry_after=False))
    with srv.serve():
        client = _client(srv)
        errors: list[Exception] = []

        def work() -> None:
            try:
                for _ in range(10):
                    client.send("GET", "/me/contacts")
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert client.counters.throttled == 0
        assert 1 <= srv.throttle.peak_in_flight <= 4


def test_inner_429s_are_sent_again_alone() -> None:
    faults = Faults(seed=3, rates={"429": 0.3})
    srv = make_server(ServerConfig(integer_retry_after=False), faults=faults)
    with srv.serve():
        client = _client(srv)
        reqs = [
            {
                "id": str(i),
                "method": "POST",
                "url": "/me/contacts",
                "headers": {"Content-Type": "application/json"},
                "body": {"givenName": f"n{i}"},
            }
            for i in range(40)
        ]
        srv.faults.rates = {"429": 0.3}
        replies = client.batch(reqs)
        assert all(r.status == 201 for r in replies.values())
        assert len(srv.mailbox(USER).contacts) == 40  # throttled requests were not done twice
        assert client.counters.throttled > 0
        inner_429 = sum(1 for f, r in faults.injected if f == "429" and "$batch" not in r)
        assert inner_429 > 0
        assert client.counters.inner == 40 + inner_429  # only the throttled ones again
