"""Crash safety: real `python -m personsync export/import/sync` processes killed with SIGKILL at
many points, then run again: no duplicate contacts or Persons, no lost field values. The two-way
runs carry every delete case at once (Persons gone from the view or the CRM: tagged, or their
contacts deleted; contacts deleted in the folder: their Persons deleted) and are undone after.

Kill points are deterministic through the executor's documented test hook
(`--test-hooks crash_after=N`, see sync/crash.py), with small chunks (`chunk=3`) so a small
folder has many points; two more runs are killed at random times.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sync_fakes import records as generate

from personsync.model import Contact, diff
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.stores.base import ItemRef, read_all
from personsync.sync.journal import list_runs
from personsync.sync.policies import TAG
from personsync.sync.tables import sync_links

N = 10
CHUNK = "3"


# Every batch goes through the vCard folder's helper process, as 100,000-contact runs do, so a
# kill also lands while it is writing (see stores/file_writer.py).
HELPER = "write_helper_from=1"
PERSONSYNC = [sys.executable, "-m", "personsync"]


def _run(args: list[str], db: Path, crash_after: int | None = None, chunk: str = CHUNK) -> int:
    return _process(args, db, crash_after, chunk).returncode


def _process(
    args: list[str],
    db: Path,
    crash_after: int | None = None,
    chunk: str = CHUNK,
    *,
    json: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    hooks = f"chunk={chunk},{HELPER}" + (f",crash_after={crash_after}" if crash_after else "")
    return subprocess.run(
        [sys.executable, "-m", "personsync", *args, "--db", str(db), "--yes"]
        + ["--test-hooks", hooks]
        + (["--json"] if json else []),
        capture_output=True,
        timeout=120,
        check=False,
    )


def _contacts(url: str) -> list[Contact]:
    store = open_folder(url, create=False)
    try:
        return [c for c in read_all(store) if isinstance(c, Contact)]
    finally:
        store.close()


def _check(db_path: Path, url: str, persons: int, contacts: int) -> None:
    db = PersonsDB(str(db_path))
    try:
        found = _contacts(url)
        assert db.count() == persons, "a Person was duplicated or lost"
        assert len(found) == contacts, "a contact was duplicated or lost"
        cids = Counter(c.customer_id for c in found)
        assert all(n == 1 for n in cids.values()) and "" not in cids
        for c in found:
            person = db.get(int(c.customer_id))
            assert not diff(person.record, c.record), "a value was lost"
            assert person.contact_manager_id == c.item_id, "half a link"
        with db.engine.connect() as conn:
            links = conn.execute(select(func.count()).select_from(sync_links)).scalar_one()
        assert links == contacts
    finally:
        db.close()


def _seed_persons(tmp: Path, n: int = N) -> Path:
    path = tmp / "p.db"
    db = PersonsDB(str(path))
    db.add_many(list(generate(n, 11)))
    db.close()
    return path


def _no_persons(tmp: Path) -> Path:
    path = tmp / "p.db"
    PersonsDB(str(path)).close()
    return path


def _seed_cards(tmp: Path, n: int = N) -> str:
    url = f"vcf:{tmp / 'cards'}"
    store = open_folder(url, create=True)
    try:
        store.create_many([Contact(r) for r in generate(n, 12)])
    finally:
        store.close()
    return url


@pytest.mark.slow
# 10 objects in chunks of 3, 12 points: per chunk, after the intents, after the write, after the
# links (with contact_manager_id). The folder's writes run in its helper process beside the
# bookkeeping, so a kill at a point often lands while the next chunk is being written as well.
@pytest.mark.parametrize("point", range(1, 13))
def test_export_killed_then_rerun(tmp_path: Path, point: int) -> None:
    db = _seed_persons(tmp_path)
    url = f"vcf:{tmp_path / 'out'}"
    assert _run(["export", "--to", url], db, crash_after=point) == -signal.SIGKILL
    assert _run(["export", "--to", url], db) == 0
    _check(db, url, N, N)


@pytest.mark.slow
# 16 points. Per chunk of Persons: inside its one transaction (Persons, journal, links, the
# intents of their Customer IDs) before the commit, and after it; then, once the helper process
# wrote that chunk's Customer IDs beside the next chunk's Persons: after the write, after the
# link versions.
@pytest.mark.parametrize("point", range(1, 17))
def test_import_killed_then_rerun(tmp_path: Path, point: int) -> None:
    db = _no_persons(tmp_path)
    url = _seed_cards(tmp_path)
    assert _run(["import", "--from", url], db, crash_after=point) == -signal.SIGKILL
    assert _run(["import", "--from", url], db) == 0
    _check(db, url, N, N)


@pytest.mark.slow
def test_killed_twice_in_a_row_then_rerun(tmp_path: Path) -> None:
    db = _no_persons(tmp_path)
    url = _seed_cards(tmp_path)
    assert _run(["import", "--from", url], db, crash_after=6) == -signal.SIGKILL
    assert _run(["import", "--from", url], db, crash_after=3) == -signal.SIGKILL
    assert _run(["import", "--from", url], db) == 0
    _check(db, url, N, N)


@pytest.mark.slow
@pytest.mark.parametrize("direction", ["export", "import"])
def test_killed_at_a_random_time_then_rerun(tmp_path: Path, direction: str) -> None:
    n = 120
    if direction == "export":
        db, url = _seed_persons(tmp_path, n), f"vcf:{tmp_path / 'out'}"
        args = ["export", "--to", url]
    else:
        db = _no_persons(tmp_path)
        url = _seed_cards(tmp_path, n)
        args = ["import", "--from", url]
    hooks = f"chunk=10,{HELPER}"
    proc = subprocess.Popen(
        [*PERSONSYNC, *args, "--db", str(db), "--yes", "--json", "--test-hooks", hooks],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(random.Random(direction).uniform(0.9, 1.4))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert _run(args, db, chunk="10") == 0
    _check(db, url, n, n)


@pytest.mark.slow
def test_a_customer_id_half_written_by_a_power_cut_is_made_whole(tmp_path: Path) -> None:
    # Kill point 2: the first chunk's Persons and the intents of their Customer IDs are
    # committed, their cards not yet written. A power cut at the next moment could leave each of
    # those cards with its last line half-written (see card_files.mend_insert); make it so.
    from personsync.stores.card_files import size_of
    from personsync.sync.journal import interrupted_customer_id_writes

    db = _no_persons(tmp_path)
    url = _seed_cards(tmp_path)
    assert _run(["import", "--from", url], db, crash_after=2) == -signal.SIGKILL
    persons = PersonsDB(str(db))
    writes = interrupted_customer_id_writes(persons.engine, url)
    persons.close()
    assert len(writes) == int(CHUNK)
    torn = []
    for n, write in enumerate(writes):
        (path,) = (tmp_path / "cards").glob(f"*-{write.item_id}.vcf")  # a readable name
        data = path.read_bytes()
        assert len(data) == size_of(write.version)  # not written yet
        new = f"X-PERSONSYNC-CUSTOMER-ID:{write.customer_id}\r\n".encode()
        cut = len(data) - len(b"END:VCARD\r\n")
        path.write_bytes(data[:cut] + new[: 3 + n] + data[cut + 3 + n :])  # a sector of each
        torn.append(path.name)
        assert b"END:VCARD" not in path.read_bytes()
    done = _process(["import", "--from", url], db, json=False)
    assert done.returncode == 0, done.stderr
    _check(db, url, N, N)
    shown = " ".join(done.stdout.decode().split())  # however the terminal wrapped it
    for name in torn:  # the report says which cards were mended
        assert f"warning: {name}: a Customer ID that an interrupted run was writing" in shown


def _helpers(pid: int) -> list[str]:
    """The command lines of a process's children."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = f.read().split()
    except OSError:
        return []
    found = []
    for child in children:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                found.append(f.read().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_ctrl_c_stops_the_run_and_its_helpers_quietly_then_rerun(tmp_path: Path) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the run and its helper processes.
    n = 3000  # enough Persons that the run is still writing well after its helper starts
    db = _no_persons(tmp_path)
    url = _seed_cards(tmp_path, n)
    hooks = f"chunk=50,read_helper_from=1,{HELPER}"
    proc = subprocess.Popen(
        [*PERSONSYNC, "import", "--from", url, "--db", str(db), "--yes", "--test-hooks", hooks],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        # As a terminal starts it (pytest may run with SIGINT ignored, which children inherit).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    writing = False
    while not writing and proc.poll() is None and time.monotonic() < deadline:
        writing = any("file_writer" in c for c in _helpers(proc.pid))
        time.sleep(0.005)
    assert writing, "the file-writing helper was never seen"
    time.sleep(0.3)  # past its start-up, into its loop (a signal there is a KeyboardInterrupt)
    assert any("file_writer" in c for c in _helpers(proc.pid))
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()[-3000:]
    assert "Traceback" not in err.decode() and "interrupted" in err.decode()
    assert _run(["import", "--from", url], db, chunk="50") == 0
    _check(db, url, n, n)
    persons = PersonsDB(str(db))
    try:
        stopped, done = sorted(list_runs(persons.engine), key=lambda r: r.started_at)
    finally:
        persons.close()
    assert (stopped.status, done.status) == ("interrupted", "clean")


# --- sync, with deletes and tags ------------------------------------------------------------
VIEW = "Members"


def _two_way_scene(tmp: Path) -> tuple[Path, str, list[int], dict[str, Contact]]:
    """10 Persons of a view, synced; then each case at once: 3 Persons leave the view, 1 is
    deleted from the CRM, 2 contacts are deleted in Outlook, one field is edited on each side."""
    path = tmp / "p.db"
    url = f"vcf:{tmp / 'cards'}"
    db = PersonsDB(str(path))
    try:
        db.create_view(VIEW, "notes is empty")
        ids = db.add_many([r.replace({"notes": ""}) for r in generate(N, 11)])
        from personsync.sync import engine

        engine.run(db, url, "sync", view=VIEW)
        before = {c.customer_id: c for c in _contacts(url)}
        for pid in ids[:3]:
            db.update(pid, {"notes": "former member"})
        db.delete(ids[3])
        store = open_folder(url, create=False)
        try:
            for pid in ids[4:6]:
                c = before[str(pid)]
                store.delete(ItemRef(c.item_id, c.version))
            c = before[str(ids[7])]
            store.update(c, replace(c, record=c.record.replace({"company": "Edited in Outlook"})))
        finally:
            store.close()
        db.update(ids[6], {"job_title": "Edited in the CRM"})
    finally:
        db.close()
    return path, url, ids, before


def _sync_args(url: str, removed: str) -> list[str]:
    return [
        "sync",
        "--folder",
        url,
        "--view",
        VIEW,
        "--on-person-removed",
        removed,
        "--on-contact-deleted",
        "propagate",
    ]


def _check_two_way(
    db_path: Path, url: str, ids: list[int], before: dict[str, Contact], removed: str
) -> None:
    db = PersonsDB(str(db_path))
    try:
        found = {c.customer_id: c for c in _contacts(url)}
        cids = Counter(c.customer_id for c in _contacts(url))
        assert all(n == 1 for n in cids.values()), "a contact was duplicated"
        # Propagated: the Persons of the deleted contacts are gone; no other Person is.
        assert sorted(db.get_many(ids)) == sorted(ids[:3] + ids[6:])
        for pid in ids[:4]:
            if removed == "tag":
                cats = found[str(pid)].record.categories
                assert cats == (*before[str(pid)].record.categories, TAG), "tagged wrong"
            else:
                assert str(pid) not in found, "a removed Person's contact is left"
        for pid in ids[6:]:
            person, contact = db.get(pid), found[str(pid)]
            assert not diff(person.record, contact.record), "a value was lost"
        assert db.get(ids[6]).record.job_title == "Edited in the CRM"
        assert db.get(ids[7]).record.company == "Edited in Outlook"
    finally:
        db.close()


def _undo_all(db_path: Path) -> None:
    """Undo every sync run but the first (which linked the pairs), newest first."""
    from personsync.sync.options import RunOptions
    from personsync.sync.undo import undo

    db = PersonsDB(str(db_path))
    try:
        runs = sorted(list_runs(db.engine), key=lambda r: r.started_at, reverse=True)
        for r in [r for r in runs if r.command == "sync"][:-1]:
            undo(db, r.id, options=RunOptions(yes=True))  # past the guard
    finally:
        db.close()


@pytest.mark.slow
# The two-way run has 14 checkpoints here (chunks of 3): its Person updates, the contact updates
# and tags (intents, write, links), the contact deletes (intents, write, links), the Person
# deletes (in their one transaction, and after). The odd ones with tags, the even ones with
# deletes: every point once, in half the time.
@pytest.mark.parametrize(
    ("removed", "point"),
    [("tag", p) for p in range(1, 15, 2)] + [("delete", p) for p in range(2, 15, 2)],
)
def test_sync_with_deletes_and_tags_killed_then_rerun_then_undone(
    tmp_path: Path, removed: str, point: int
) -> None:
    db, url, ids, before = _two_way_scene(tmp_path)
    args = _sync_args(url, removed)
    assert _run(args, db, crash_after=point) == -signal.SIGKILL
    done = _process(args, db)
    assert done.returncode == 0, done.stdout.decode()[-2000:]
    _check_two_way(db, url, ids, before, removed)
    persons = PersonsDB(str(db))
    try:
        from personsync.sync import engine
        from personsync.sync.options import RunOptions

        options = RunOptions(
            dry_run=True,
            on_person_removed=removed,  # type: ignore[arg-type]
            on_contact_deleted="propagate",
        )
        again = engine.run(persons, url, "sync", view=VIEW, options=options)
        assert again.plan.changes() == 0, again.plan.to_dict()  # finished: nothing left to do
    finally:
        persons.close()
    # Undo the killed run and the one that finished it: every deleted Person back with its id
    # and values, every tag off, every deleted contact back with its Customer ID.
    _undo_all(db)
    persons = PersonsDB(str(db))
    try:
        assert sorted(persons.get_many(ids)) == sorted(i for i in ids if i != ids[3])
        for pid in ids[4:6]:
            assert not diff(persons.get(pid).record, before[str(pid)].record)
    finally:
        persons.close()
    found = {c.customer_id: c for c in _contacts(url)}
    for pid in ids[:4]:
        assert found[str(pid)].record.categories == before[str(pid)].record.categories
