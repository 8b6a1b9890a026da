"""Helpers for the Graph tests: the test server over real HTTP on loopback, and stores on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from personsync.errors import StoreError
from personsync.graph.auth import GraphAuth
from personsync.graph.config import GraphConfig
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


def faulty_server(faults: Faults, *, budget: int, slow_seconds: float) -> Any:
    """A server throttled like Outlook (4 in flight, `budget` requests a second) with faults.
    Scripted on top: the first $batch calls meet each kind of lost or late answer."""
    for fault in ("drop_after", "slow", "drop_before", "504"):
        faults.add("POST /v1.0/$batch", fault)
    config = ServerConfig(
        budget=budget,
        window=1.0,
        max_concurrent=4,
        integer_retry_after=False,
        slow_seconds=slow_seconds,
    )
    return make_server(config, faults)


def export_until_converged(run: Any, tries: int) -> bool:
    """Re-run an export (`run()` returns the engine's outcome) until it plans no change; a run
    stopped by a store error is simply run again, as a person or cron would."""
    for _ in range(tries):
        try:
            outcome = run()
        except StoreError:
            continue
        if outcome.plan.changes() == 0:
            return True
    return False


def sign_in(srv: GraphTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Configure through the environment and sign in with the device code, as a person would."""
    for name, value in srv.client_environment(str(tmp_path)).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    srv.identity.auto_approve = USER
    GraphAuth(GraphConfig.load()).login(lambda message: None)
