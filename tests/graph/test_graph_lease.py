"""One run at a time per folder on `graph:` (the project's Graph test server over HTTP, signed
in as a person would): two processes start the same export at the same instant, 20 times, and a
lease holder killed with kill -9 mid-export is taken over by the next run. The same on `vcf:` is
tests/sync/test_sync_lease.py."""

from __future__ import annotations

from collections import Counter

from graph_support import USER

from killed_run import race_two_exports, run_killed
from personsync.graph.testserver import GraphTestServer
from personsync.model import Record
from personsync.persons.repo import PersonsDB
from personsync.sync import engine
from personsync.sync.lease import current_holder
from personsync.sync.options import RunOptions

N = 40


def _customer_ids(server: GraphTestServer, folder_name: str) -> Counter[str]:
    box = server.mailbox(USER)
    (folder,) = [f.id for f in box.folders.values() if f.display_name == folder_name]
    return Counter(
        c.ext["string 0x3a4a"]["value"] for c in box.contacts.values() if c.folder_id == folder
    )


def _seed(db: PersonsDB, n: int) -> list[int]:
    return db.add_many(
        [
            Record(first_name=f"F{i}", last_name=f"L{i}", email1=f"p{i}@example.org")
            for i in range(n)
        ]
    )


def test_two_exports_at_once_to_graph_never_duplicate(
    server: GraphTestServer, signed_in_db: PersonsDB, sqlite_url: str
) -> None:
    ids = _seed(signed_in_db, N)
    signed_in_db.engine.dispose()  # nothing shared over the fork
    refusals = 0
    for attempt in range(20):
        name = f"Race{attempt}"
        refusals += race_two_exports(sqlite_url, f"graph:Contacts/{name}", N)
        cids = _customer_ids(server, name)
        assert sorted(cids) == sorted(str(i) for i in ids), f"attempt {attempt}"
        assert set(cids.values()) == {1}, f"attempt {attempt}: duplicates"
    assert refusals >= 10, f"only {refusals} of 20 attempts overlapped"


def test_killed_graph_export_is_taken_over(
    server: GraphTestServer, signed_in_db: PersonsDB, sqlite_url: str
) -> None:
    ids = _seed(signed_in_db, 12)
    folder = "graph:Contacts/Killed"
    # Chunks of 3: killed after the second chunk's contacts were written to Graph, before their
    # links were recorded.
    assert run_killed(signed_in_db, sqlite_url, folder, "export", RunOptions(chunk=3), 5)
    dead = current_holder(signed_in_db.engine, folder)
    assert dead is not None, "the killed run held the lease"
    # No --yes: the part the killed run had planned does not trip the guard again.
    again = engine.run(signed_in_db, folder, "export")
    assert again.report is not None and again.report.exit_code == 0, again.report.to_dict()
    cids = _customer_ids(server, "Killed")
    assert sorted(cids) == sorted(str(i) for i in ids) and set(cids.values()) == {1}
    assert current_holder(signed_in_db.engine, folder) is None
