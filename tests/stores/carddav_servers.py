"""The real CardDAV servers as pytest fixtures: one of each per test process (session), and
`server`, which runs a test against both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from personsync.model import Contact
from personsync.stores import open_folder
from personsync.stores.base import read_all
from personsync.testing.carddav_servers import SERVER_KINDS, Server, running

__all__ = ["SERVER_KINDS", "Server", "contacts_in", "radicale", "running", "server", "xandikos"]


def contacts_in(url: str) -> list[Contact]:
    """Every contact of a folder, read by a store of its own."""
    store = open_folder(url, create=False)
    try:
        return [c for c in read_all(store) if isinstance(c, Contact)]
    finally:
        store.close()


def _server(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(kind, tmp_path_factory.mktemp(kind)) as server:
        yield server


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _server("radicale", tmp_path_factory)


@pytest.fixture(scope="session")
def xandikos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _server("xandikos", tmp_path_factory)


@pytest.fixture(scope="session", params=SERVER_KINDS)
def server(request: pytest.FixtureRequest) -> Server:
    """Each test that takes it runs against both servers."""
    got: Server = request.getfixturevalue(request.param)
    return got
