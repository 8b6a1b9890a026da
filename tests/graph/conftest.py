"""Fixtures for the Graph tests (helpers are in graph_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from graph_support import USER, sign_in

from personsync.graph.testserver import GraphTestServer
from personsync.persons.repo import PersonsDB


@pytest.fixture
def server() -> Iterator[GraphTestServer]:
    srv = GraphTestServer()
    srv.mailbox(USER)
    with srv.serve():
        yield srv


@pytest.fixture
def signed_in_db(
    server: GraphTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> Iterator[PersonsDB]:
    """A Persons database, with `server`'s mailbox signed in as a person would (see sign_in)."""
    sign_in(server, tmp_path, monkeypatch)
    db = PersonsDB(sqlite_url)
    try:
        yield db
    finally:
        db.close()
