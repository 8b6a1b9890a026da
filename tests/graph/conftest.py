"""Fixtures for the Graph tests (helpers are in graph_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from graph_support import USER

from personsync.graph.testserver import GraphTestServer


@pytest.fixture
def server() -> Iterator[GraphTestServer]:
    srv = GraphTestServer()
    srv.mailbox(USER)
    with srv.serve():
        yield srv
