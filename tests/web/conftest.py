"""Fixtures of the web console's tests: a Persons database with sample Persons, the app, and an
HTTP client that knows the page's CSRF token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web_client import Console

from personsync.persons.repo import PersonsDB
from personsync.persons.sample import generate
from personsync.web.app import create_app


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
