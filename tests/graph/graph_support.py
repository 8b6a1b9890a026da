"""Helpers for the Graph tests: the test server over real HTTP on loopback, and stores on it."""

from __future__ import annotations

from typing import Any

from personsync.graph.limits import RetryPolicy
from personsync.graph.testserver import GraphTestServer
from personsync.graph.testserver.limits import Faults, ServerConfig
from personsync.stores import open_folder
from personsync.stores.base import GuardedStore

USER = "ann@example.org"
# Fast retries for tests: the server's Retry-After values are small too.
FAST = RetryPolicy(max_retries=8, backoff=0.01, max_backoff=0.05)


def make_server(config: ServerConfig | None = None, faults: Faults | None = None) -> Any:
    srv = GraphTestServer(config or ServerConfig(), faults or Faults())
    srv.mailbox(USER)
    return srv


def store_options(srv: GraphTestServer, **more: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "base_url": srv.graph_url,
        "token": srv.token_for(USER),
        "retry": FAST,
        "timeout": 5.0,
    }
    options.update(more)
    return options


def open_graph(srv: GraphTestServer, path: str = "Contacts", **more: Any) -> GuardedStore:
    return open_folder(f"graph:{path}", **store_options(srv, **more))
