"""One run at a time per folder on `graph:` (the project's Graph test server over HTTP, signed
in as a person would): two processes start the same export at the same instant, 20 times, and a
lease holder killed with kill -9 mid-export is taken over by the next run. The same on `vcf:` is
tests/sync/test_sync_lease.py."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from multiprocessing.synchronize import Barrier

from graph_support import USER

from killed_run import FORK, run_killed
from personsync.errors import LeaseHeld
from personsync.graph.testserver import GraphTestServer
from personsync.model import Record
from personsync.persons.repo import PersonsDB
from personsync.sync import engine
from personsync.sync.lease import current_holder
from personsync.sync.options import RunOptions

N = 40
GO = RunOptions(yes=True)


def _customer_ids(server: GraphTestServer, folder_name: str) -> Counter[str]:
    box = server.mailbox(USER)
    (folder,) = [f.id for f in box.folders.values() if f.display_name == folder_name]
    return Counter(
        c.ext["string 0x3a4a"]["value"] for c in box.contacts.values() if c.folder_id == folder
    )


def _export_in_child(url: str, folder: str, start: Barrier, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    db = PersonsDB(url, migrate=False)
    try:
        start.wait(timeout=30)
        try:
            outcome = engine.run(db, folder, "export", options=GO)
        except LeaseHeld as exc:
            out.put(("refused", exc.message))
            return
        except BaseException as exc:
            out.put(("failed", repr(exc)))
            raise
        assert outcome.report is not None
        out.put(("ran", outcome.report.run_id, outcome.plan.counts()["create-contact"]))
    finally:
        db.close()


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
        start = FORK.Barrier(2)
        out: multiprocessing.Queue = FORK.Queue()  # type: ignore[type-arg]
        children = [
            FORK.Process(
                target=_export_in_child, args=(sqlite_url, f"graph:Contacts/{name}", start, out)
            )
            for _ in range(2)
        ]
        for child in children:
            child.start()
        results = [out.get(timeout=120) for _ in children]
        for child in children:
            child.join(timeout=60)
            assert child.exitcode == 0, results
        cids = _customer_ids(server, name)
        assert sorted(cids) == sorted(str(i) for i in ids), f"attempt {attempt}: {results}"
        assert set(cids.values()) == {1}, f"attempt {attempt}: duplicates"
        ran = [r for r in results if r[0] == "ran"]
        refused = [r for r in results if r[0] == "refused"]
        if refused:
            # One ran, and the other was told which run holds the folder.
            assert len(ran) == 1 and ran[0][1] in refused[0][1], results
            refusals += 1
        else:
            # The second started after the first had finished: it found nothing to create.
            assert sorted(r[2] for r in ran) == [0, N], results
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
