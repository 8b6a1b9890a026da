"""Fixtures of the web console's tests: a Persons database with sample Persons, the app, and an
HTTP client that knows the page's CSRF token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import browser
import pytest
from web_client import Console

from personsync.persons.repo import PersonsDB
from personsync.persons.sample import generate
from personsync.web.app import create_app


@pytest.fixture(autouse=True, scope="session")
def _screenshots(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    given = request.config.getoption("screenshots")
    browser.SHOTS = Path(given) if given else tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def db(sqlite_url: str) -> Iterator[PersonsDB]:
    with PersonsDB(sqlite_url) as pdb:
        pdb.add_many(list(generate(120, seed=11)))
        yield pdb


@pytest.fixture
def console(db: PersonsDB) -> Iterator[Console]:
    with Console(create_app(db.url, schedule=False)) as client:
        yield client


@pytest.fixture
def out(tmp_path: Path) -> str:
    return f"vcf:{tmp_path}/out"
