"""The sync engine at scale: N Persons (SQLite) and a vCard folder (`vcf:`).

Run: .venv/bin/python -m bench.sync_bench [--persons N] [--runs R] [--no-fsync] [--only S,...]
                                          [--dir DIR]

Scenarios (each run in a fresh child process, so its peak memory is its own):
  export-full   full export into an empty folder
  export-noop   a no-op re-export (nothing changed on either side)
  export-1pct   a re-export after 1 % of the Persons changed
  import-full   an import of N cards (without Customer IDs) into an empty Persons database
  sync-noop     a no-op two-way sync of the exported state (nothing changed on either side)
  sync-1pct     a two-way sync after 1 % of the Persons and another 1 % of the contacts changed,
                a tenth of them the same Persons' contacts (conflicts: left as decisions)
  sync-first    the first two-way sync of N Persons against a folder of N matching but
                unlinked contacts (the import's cards: no Customer IDs, random names)
  disk-floor    no engine: N files of a card's size created (temp + rename) and synced, by a
                bare loop; what this disk costs anyway, measured in the same session, for scale
  customer-id-floor
                no engine: the import's N cards each given a Customer ID line as the import
                does (`card_files.insert_line`: in place) and synced, by a bare loop: the
                import's own file floor, as disk-floor is the full export's. (Called
                replace-floor while those writes replaced each file: 26-30 s on this disk.)
Prints the median wall time of R runs and the largest peak RSS (VmHWM) per scenario.

`--dir DIR` puts the databases and folders there instead of the system's temp folder: with
`--dir /dev/shm` (memory) the figures are the engine's own, without this machine's disk.

`--no-fsync` turns the per-file fsync of single writes into no-ops in the benchmark's own
processes. Batches never fsync per file (one sync per batch, made by the vCard folder's helper
process, which this option does not reach), so it changes little since the helper came.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

TARGETS = {
    "export-full": 10.0,
    "export-noop": 1.5,
    "export-1pct": 3.0,
    "import-full": 15.0,
    "sync-noop": 1.0,
    "sync-1pct": 3.0,
    "sync-first": 25.0,
}
FLOOR = "disk-floor"
CUSTOMER_ID_FLOOR = "customer-id-floor"
FLOORS = (FLOOR, CUSTOMER_ID_FLOOR)


def _no_fsync() -> None:
    from personsync.stores import atomic

    atomic.os = _NoFsyncOs()  # type: ignore[attr-defined]


class _NoFsyncOs:
    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def fsync(fd: int) -> None:
        return None


def _db(path: Path) -> Any:
    from personsync.persons.repo import PersonsDB

    return PersonsDB(str(path))


def prepare(work: Path, n: int) -> None:
    """Template databases and folders the child runs start from."""
    from personsync.persons.sample import generate
    from personsync.sync import engine
    from personsync.sync.options import RunOptions

    db = _db(work / "persons.db")
    db.add_many(list(generate(n, 42)))
    engine.ensure_tables(db.engine)
    db.close()
    # The exported state: a linked folder and its database, for the no-op and 1 % runs.
    shutil.copy(work / "persons.db", work / "exported.db")
    db = _db(work / "exported.db")
    engine.run(db, f"vcf:{work / 'exported'}", "export", options=RunOptions(yes=True))
    db.close()
    # Cards as Outlook would hand them over: no Customer IDs, for the import; and random names
    # (uuid4), as Outlook's are not in any order the import could profit from (personsync's
    # own new names are in creation order).
    (work / "plain").mkdir()
    for f in (work / "exported").iterdir():
        text = f.read_text(encoding="utf-8")
        uid = str(uuid.uuid4())
        lines = [
            f"UID:{uid}{ln[len(ln.rstrip()) :]}" if ln.startswith("UID:") else ln
            for ln in text.splitlines(True)
            if not ln.startswith("X-PERSONSYNC-")
        ]
        (work / "plain" / f"{uid}.vcf").write_text("".join(lines), encoding="utf-8")
    db = _db(work / "empty.db")
    engine.ensure_tables(db.engine)
    db.close()
    # The starting states' 200,000 files on the disk now, not in the first run's syncs.
    os.sync()


def child(scenario: str, work: Path, run: int) -> dict[str, float]:
    from personsync.sync import engine
    from personsync.sync.options import RunOptions

    here = work / f"run-{scenario}-{run}"
    here.mkdir()
    if scenario == FLOOR:
        return disk_floor(work, here)
    if scenario == CUSTOMER_ID_FLOOR:
        return customer_id_floor(work, here)
    if scenario == "export-full":
        shutil.copy(work / "persons.db", here / "p.db")
        url = f"vcf:{here / 'out'}"
    elif scenario in {"export-noop", "export-1pct", "sync-noop", "sync-1pct"}:
        # Links are per folder: the run must see the very folder the links were made with.
        shutil.copy(work / "exported.db", here / "p.db")
        url = f"vcf:{work / 'exported'}"
    elif scenario == "sync-first":
        shutil.copytree(work / "plain", here / "cards")
        shutil.copy(work / "persons.db", here / "p.db")
        url = f"vcf:{here / 'cards'}"
    else:
        shutil.copytree(work / "plain", here / "cards")
        shutil.copy(work / "empty.db", here / "p.db")
        url = f"vcf:{here / 'cards'}"
    db = _db(here / "p.db")
    if scenario in {"export-1pct", "sync-1pct"}:
        ids = sorted(db.versions())[::100]
        db.update_many([(pid, {"job_title": f"Changed {run}"}) for pid in ids])
    if scenario == "sync-1pct":
        _change_contacts(url, run)
    direction = scenario.split("-")[0]
    started = time.perf_counter()
    out = engine.run(db, url, direction, options=RunOptions(yes=True))
    seconds = time.perf_counter() - started
    db.close()
    assert out.report is not None and not out.report.errors, out.report.errors[:3]
    return {"seconds": seconds, "rss_mb": peak_rss_mb(), "changes": out.plan.changes()}


def _change_contacts(url: str, run: int) -> None:
    """1 % of the folder's contacts changed in "Outlook" (every 100th, offset by 50), and the
    contacts of a tenth of the Persons changed in the CRM, in the same field (conflicts)."""
    from personsync.model import Contact
    from personsync.stores import open_folder

    store = open_folder(url, create=False)
    try:
        # New cards are named in creation order, so the sorted names follow the Persons' ids.
        ids = sorted(ref.item_id for ref in store.list_items())
        edits = {i: {"department": f"Outlook {run}"} for i in ids[50::100]}
        edits |= {i: {"job_title": f"Outlook {run}"} for i in ids[::1000]}
        pairs = [
            (c, replace(c, record=c.record.replace(edits[c.item_id])))
            for c in store.get_many(list(edits))
            if isinstance(c, Contact)
        ]
        store.update_many(pairs)
    finally:
        store.close()


def disk_floor(work: Path, here: Path) -> dict[str, float]:
    from personsync.stores.atomic import sync_all, write_atomic

    data = next((work / "exported").iterdir()).read_bytes()
    count = sum(1 for _ in (work / "exported").iterdir())
    started = time.perf_counter()
    for i in range(count):
        write_atomic(here / f"{i:08d}.vcf", data, durable=False, new=True)
    sync_all()
    return {"seconds": time.perf_counter() - started, "rss_mb": peak_rss_mb(), "changes": count}


def customer_id_floor(work: Path, here: Path) -> dict[str, float]:
    from personsync.stores.atomic import sync_all
    from personsync.stores.card_files import file_version, insert_line

    shutil.copytree(work / "plain", here / "cards")
    sync_all()  # the copy's writes are not the loop's
    paths = [str(p) for p in (here / "cards").iterdir()]
    started = time.perf_counter()
    for path in paths:
        insert_line(path, b"X-PERSONSYNC-CUSTOMER-ID:1", file_version(os.stat(path)), durable=False)
    sync_all()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rss_mb": peak_rss_mb(), "changes": len(paths)}


def peak_rss_mb() -> float:
    """This process's own peak RSS. Not getrusage's ru_maxrss: Linux carries it across exec, so
    a child would report at least its parent's size at fork (here the parent that generated
    100,000 Persons). VmHWM belongs to the process image and starts afresh at exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="")
    parser.add_argument("--no-fsync", action="store_true")
    parser.add_argument("--child", default="")
    parser.add_argument("--work", default="")
    parser.add_argument("--run", type=int, default=0)
    parser.add_argument("--dir", default="", help="where the work folder goes (e.g. /dev/shm)")
    args = parser.parse_args()
    if args.no_fsync or not args.child:
        # The parent only prepares the starting states: how durable that is does not matter.
        _no_fsync()
    if args.child:
        print(json.dumps(child(args.child, Path(args.work), args.run)))
        return
    work = Path(tempfile.mkdtemp(prefix="sync-bench-", dir=args.dir or None))
    try:
        t0 = time.perf_counter()
        prepare(work, args.persons)
        mode = "off (engine only)" if args.no_fsync else "on, as shipped"
        print(f"prepared {args.persons} Persons in {time.perf_counter() - t0:.1f} s")
        print(f"runs with the vCard store's fsync {mode}, in {work}")
        scenarios = [s for s in [*TARGETS, *FLOORS] if not args.only or s in args.only.split(",")]
        for scenario in scenarios:
            results = []
            for run in range(args.runs):
                command = [sys.executable, "-m", "bench.sync_bench", "--child", scenario]
                command += ["--work", str(work), "--run", str(run)]
                command += ["--no-fsync"] if args.no_fsync else []
                got = subprocess.run(command, check=True, capture_output=True, text=True)
                results.append(json.loads(got.stdout.strip().splitlines()[-1]))
            median = statistics.median(r["seconds"] for r in results)
            peak = max(r["rss_mb"] for r in results)
            print(
                f"{scenario:17} median {median:6.2f} s "
                + (f"(target ≤ {TARGETS[scenario]:4.1f} s)  " if scenario in TARGETS else " " * 20)
                + "  "
                f"peak RSS {peak:5.0f} MB  runs: "
                + ", ".join(f"{r['seconds']:.2f}" for r in results)
                + f"  writes: {int(results[0]['changes'])}",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
