"""End to end on both real CardDAV servers: the README's own commands (`personsync export --view
"All Persons" --to carddav:...`, `import --from`, `folders list`) as real processes, and runs
killed with SIGKILL (kill -9) at many points, then run again: no duplicate, no lost value."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from carddav_servers import Server, contacts_in
from carddav_servers import radicale as radicale
from carddav_servers import server as server
from carddav_servers import xandikos as xandikos

from personsync.errors import FolderNotFound
from personsync.model import Contact, diff
from personsync.persons.repo import PersonsDB
from personsync.persons.sample import generate
from personsync.stores import open_folder
from personsync.stores.base import read_all

N = 10


SECRET = "s3cret-not-to-be-written"


def _cli(
    args: list[str], db: Path | None, crash_after: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PERSONSYNC_CARDDAV_PASSWORD": SECRET}
    if args[0] in ("export", "import", "sync"):
        hooks = "chunk=3" + (f",crash_after={crash_after}" if crash_after else "")
        args = [*args, "--test-hooks", hooks]
    return subprocess.run(
        [sys.executable, "-m", "personsync", *args, *(["--db", str(db)] if db else [])],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _persons(tmp: Path, n: int = N) -> Path:
    path = tmp / "persons.db"
    db = PersonsDB(str(path))
    db.add_many(list(generate(n, 11)))
    db.close()
    return path


def _check(db_path: Path, url: str, n: int = N) -> None:
    db = PersonsDB(str(db_path))
    try:
        found = contacts_in(url)
        assert len(found) == n, "a contact was duplicated or lost"
        assert db.count() == n
        cids = Counter(c.customer_id for c in found)
        assert all(k == 1 for k in cids.values()) and "" not in cids
        for c in found:
            person = db.get(int(c.customer_id))
            assert not diff(person.record, c.record), "a value was lost"
            assert person.contact_manager_id == c.item_id, "half a link"
    finally:
        db.close()


def test_the_readmes_export_and_import(server: Server, tmp_path: Path) -> None:
    db = _persons(tmp_path)
    url = f"carddav:{server.book()}"
    done = _cli(["export", "--view", "All Persons", "--to", url, "--json"], db)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["report"]["counts"]["create-contact"] == N
    _check(db, url)
    # A contact changed on the server comes back with import.
    store = open_folder(url, create=False)
    try:
        first = next(c for c in read_all(store) if isinstance(c, Contact))
        changed = first.record.replace({"company": "Changed Ltd"})
        store.update(first, dataclasses.replace(first, record=changed))
    finally:
        store.close()
    done = _cli(["import", "--from", url, "--json"], db)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["report"]["counts"].get("update-person") == 1
    persons = PersonsDB(str(db))
    try:
        assert persons.get(int(first.customer_id)).record.company == "Changed Ltd"
    finally:
        persons.close()
    _check(db, url)
    host = server.base.removeprefix("http://")
    listed = _cli(["folders", "list", f"carddav:http://{server.user}@{host}/"], None)
    assert listed.returncode == 0, listed.stderr
    assert server.plain(url) in listed.stdout
    name = url.rstrip("/").rsplit("/", 1)[1]  # the display name the store gave the new book
    assert f"{server.plain(url)}  ({name})" in listed.stdout
    # The password went to the server with every request, and nowhere else.
    assert SECRET.encode() not in db.read_bytes()
    assert f"{server.user}@" not in db.read_bytes().decode("latin-1")
    runs = _cli(["runs", "list", "--json"], db)
    assert SECRET not in runs.stdout + runs.stderr + done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("point", [2, 5, 8])
def test_export_killed_then_rerun(server: Server, tmp_path: Path, point: int) -> None:
    db = _persons(tmp_path)
    url = f"carddav:{server.book()}"
    killed = _cli(["export", "--to", url, "--yes"], db, crash_after=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    try:
        left = {c.item_id: c.version for c in contacts_in(url)}
    except FolderNotFound:
        left = {}  # killed before it made the address book
    again = _cli(["export", "--to", url, "--yes", "--json"], db)
    assert again.returncode == 0, again.stdout + again.stderr
    _check(db, url)
    # What the killed run wrote is found and linked, not sent again: only the rest is
    # created, and every card it left keeps its ETag (no PUT reached it).
    counts = json.loads(again.stdout)["report"]["counts"]
    assert counts.get("create-contact", 0) == N - len(left), counts
    assert counts.get("update-contact", 0) == 0, counts
    now = {c.item_id: c.version for c in contacts_in(url)}
    assert {i: now[i] for i in left} == left


@pytest.mark.slow
@pytest.mark.parametrize("point", [5])
def test_import_killed_then_rerun(server: Server, tmp_path: Path, point: int) -> None:
    db = tmp_path / "persons.db"
    PersonsDB(str(db)).close()
    url = f"carddav:{server.book()}"
    store = open_folder(url)
    try:
        store.create_many([Contact(r) for r in generate(N, 12)])
    finally:
        store.close()
    killed = _cli(["import", "--from", url, "--yes"], db, crash_after=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    again = _cli(["import", "--from", url, "--yes"], db)
    assert again.returncode == 0, again.stdout + again.stderr
    _check(db, url)
