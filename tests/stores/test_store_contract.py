"""Every contact folder scheme of the package runs the store contract (`personsync.testing`).

To add a store: write a fixture below that returns a `Folder` (its URL and the options for
`open_folder`) — it may use other fixtures, e.g. a server — and add one line
`(id, fixture name, scheme)` to `STORES`. Every test of the contract runs against every store;
`test_every_scheme_runs_the_contract` fails when a scheme the package opens has no line.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from carddav_servers import Server
from carddav_servers import radicale as radicale
from carddav_servers import xandikos as xandikos

from personsync.stores import OPENERS, split_url
from personsync.testing.store_contract import *  # noqa: F403
from personsync.testing.store_contract import Folder

# (test id, name of the fixture returning a Folder, its scheme). One line per store.
STORES: list[tuple[str, str, str]] = [
    ("memory", "memory_folder", "memory"),
    ("vcf", "vcf_folder", "vcf"),
    ("vcf-helper", "vcf_helper_folder", "vcf"),
    ("vcf-file", "vcf_file_folder", "vcf-file"),
    ("csv", "csv_folder", "csv"),
    ("graph", "graph_folder", "graph"),
    ("carddav-radicale", "radicale_folder", "carddav"),
    ("carddav-xandikos", "xandikos_folder", "carddav"),
]

_memory_names = itertools.count(1)


@pytest.fixture
def memory_folder() -> Folder:
    # memory: folders are shared by name within a process (so a second store object sees the
    # first one's writes there too); a fresh name per test.
    return Folder(f"memory:contract-{next(_memory_names)}")


@pytest.fixture
def vcf_folder(tmp_path: Path) -> Folder:
    return Folder(f"vcf:{tmp_path / 'folder'}")


@pytest.fixture
def vcf_helper_folder(tmp_path: Path) -> Folder:
    # The same store with every batch, however small, written by its helper process.
    return Folder(f"vcf:{tmp_path / 'folder'}", {"write_helper_from": 1})


@pytest.fixture
def vcf_file_folder(tmp_path: Path) -> Folder:
    return Folder(f"vcf-file:{tmp_path / 'cards.vcf'}")


@pytest.fixture
def csv_folder(tmp_path: Path) -> Folder:
    return Folder(f"csv:{tmp_path / 'contacts.csv'}")


@pytest.fixture
def graph_folder() -> Iterator[Folder]:
    # The Graph store against the Graph-compatible test server, over HTTP on loopback.
    from personsync.graph.testserver import GraphTestServer

    server = GraphTestServer()
    with server.serve():
        token = server.token_for("contract@example.org")
        yield Folder("graph:Contacts/Contract", {"base_url": server.graph_url, "token": token})


@pytest.fixture
def radicale_folder(radicale: Server) -> Folder:
    return Folder(f"carddav:{radicale.book()}")


@pytest.fixture
def xandikos_folder(xandikos: Server) -> Folder:
    return Folder(f"carddav:{xandikos.book()}")


@pytest.fixture(params=STORES, ids=[name for name, _, _ in STORES])
def folder(request: pytest.FixtureRequest) -> Folder:
    _, fixture, scheme = request.param
    got: Folder = request.getfixturevalue(fixture)
    assert split_url(got.url)[0] == scheme, f"{fixture} opens {got.url}, not a {scheme}: folder"
    return got


def test_every_scheme_runs_the_contract() -> None:
    assert {scheme for _, _, scheme in STORES} == set(OPENERS)
    # vcf: writes big batches through its helper process: that path runs the contract too.
    assert "vcf_helper_folder" in {fixture for _, fixture, _ in STORES}
