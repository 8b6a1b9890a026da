"""An unreachable Graph server: a refused connection at the start of a run fails in seconds; a
run that has been answered before keeps its patient retries."""

from __future__ import annotations

import socket
import time

import pytest
from graph_support import USER, make_server

from personsync.errors import StoreError
from personsync.graph.client import GraphClient
from personsync.graph.limits import RetryPolicy

PATIENT = RetryPolicy(max_retries=6, backoff=2.0, max_backoff=60.0)  # the defaults' scale


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_at_the_start_fails_fast_and_names_the_address() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1.0"
    client = GraphClient(url, lambda: "token", retry=PATIENT)
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        client.send("GET", "/me/contacts")
    assert time.monotonic() - started < 5
    assert url in caught.value.message and client.counters.retries <= 1


def test_a_run_under_way_keeps_retrying() -> None:
    srv = make_server()
    with srv.serve():
        client = GraphClient(
            srv.graph_url,
            lambda: srv.token_for(USER),
            retry=RetryPolicy(max_retries=4, backoff=0.01, max_backoff=0.02),
        )
        assert client.send("GET", "/me/contacts").status == 200
    # The server is gone now: the run was under way, so every retry is spent before giving up.
    with pytest.raises(StoreError):
        client.send("GET", "/me/contacts")
    assert client.counters.retries == 4


def test_a_missing_folder_is_named_as_written() -> None:
    from personsync.errors import FolderNotFound
    from personsync.graph.folders import resolve_folder

    srv = make_server()
    with srv.serve():
        client = GraphClient(srv.graph_url, lambda: srv.token_for(USER))
        with pytest.raises(FolderNotFound) as caught:
            resolve_folder(client, "Nope", create=False)
    assert caught.value.message.startswith("graph:Nope: no such contact folder")
