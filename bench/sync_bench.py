"""The sync engine at scale: N Persons (SQLite) and a vCard folder (`vcf:`).

Run: .venv/bin/python -m bench.sync_bench [--persons N] [--runs R] [--no-fsync] [--only S,...]
                                          [--dir DIR] [--keep DIR] [--trees NAME=PATH,...]
                                          [--postgresql]

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

`--keep DIR` prepares the starting states in DIR once and keeps them (a second call with the same
DIR starts at once): one prepared folder for several sessions, or for the trees of `--trees`.
Benches started on the same DIR at once take turns (`keep_lock`): the preparing, and each run
of a scenario that uses the shared `exported` folder, hold DIR's lock; the other bench says
whom it waits for and waits. (Until 2026-12-06 two benches prepared DIR twice over, one
failing, and repointed each other's `exported` link under their runs: a no-op run then read
another run's copy.)

`--trees old=../old,new=.` compares code: each run of each scenario is made by each tree's code in
turn (a child process started in that tree, its `src` first on the path), interleaved, so a busy
machine slows both alike; prints each tree's median and the ratio to the first tree's. A tree
needs this file's `--child` (any commit since the bench had it).

`--databases sqlite,postgresql` runs each scenario on both, interleaved run by run, with the
ratio of PostgreSQL's median to SQLite's (with `--keep DIR`: DIR/sqlite and DIR/postgresql).
Each run also reports the CPU time of the engine's process during the run and, on PostgreSQL,
of the server processes serving its database: what the run cost, whatever else was running.

`--postgresql` keeps the Persons (and the sync tables) in PostgreSQL (`PG_SERVER`) instead of
SQLite: the starting states are template databases, and each run gets a fresh copy
(`CREATE DATABASE ... TEMPLATE`), never analysed, as on a database the run filled itself. Only
for trees whose child knows it (this one and later).

`--no-fsync` turns the per-file fsync of single writes into no-ops in the benchmark's own
processes. Batches never fsync per file (one sync per batch, made by the vCard folder's helper
process, which this option does not reach), so it changes little since the helper came.
"""

from __future__ import annotations

import argparse
import fcntl
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
from collections.abc import Iterator
from contextlib import contextmanager
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


EXPORTED = "exported-state"
SHARED_FOLDER = {"export-noop", "export-1pct", "sync-noop", "sync-1pct"}
LOCK = "bench.lock"  # in the work folder: see `keep_lock`
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_MARK = "postgresql"  # a file in the work folder naming its PostgreSQL databases' prefix


def _db(path: Path) -> Any:
    from personsync.persons.repo import PersonsDB

    return PersonsDB(str(path))


def _pg(*statements: str) -> list[str]:
    """Run statements on the server (outside a transaction, as CREATE DATABASE must be); the
    last one's first column."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            rows: list[str] = []
            for sql in statements:
                result = conn.execute(text(sql))
                rows = list(result.scalars()) if result.returns_rows else []
            return rows
    finally:
        admin.dispose()


def _open(work: Path, name: str, template: str | None = None) -> Any:
    """The database `name` of this work folder, new (a copy of `template` when given), opened:
    a SQLite file, or a PostgreSQL database when the folder is PostgreSQL's."""
    from personsync.persons.repo import PersonsDB

    if not (work / PG_MARK).exists():
        path = work / f"{name}.db"
        if template is not None:
            shutil.copy(work / f"{template}.db", path)
        return _db(path)
    prefix = (work / PG_MARK).read_text().strip()
    full = f"{prefix}_{name}".replace("-", "_")
    like = f' TEMPLATE "{prefix}_{template}"' if template is not None else ""
    _pg(f'DROP DATABASE IF EXISTS "{full}"', f'CREATE DATABASE "{full}"{like}')
    return PersonsDB(PG_SERVER.rsplit("/", 1)[0] + "/" + full)


@contextmanager
def keep_lock(work: Path, what: str) -> Iterator[None]:
    """The work folder to this bench alone while `what` goes on: another bench on the same
    folder (`--keep`) waits, saying for whom. An advisory lock on a file (flock): the kernel
    lets it go when its holder ends, even killed. The holder writes its pid and what it does
    into the file, for the waiting one's message."""
    fd = os.open(work / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        # The holder names itself just after it takes the lock: a bench that comes in between
        # reads an empty file, so it asks again for a moment before it says whom it waits for.
        holder = ""
        for _ in range(40):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
                if holder:
                    break
                time.sleep(0.05)
        else:
            holder = "another bench"
        if holder:
            print(f"{work} is in use by {holder}: waiting for it", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"the bench of pid {os.getpid()} ({what})".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def fresh_exported(work: Path, run: str) -> Path:
    """Point `exported` at a new copy of the exported folder (hard links: a run replaces the
    files it changes, and writes a hard-linked file anew, never in place), untimed."""
    copy = work / f"exported-{run}"
    copy.mkdir()
    for entry in os.scandir(work / EXPORTED):
        os.link(entry.path, copy / entry.name)
    (work / "exported").unlink()
    (work / "exported").symlink_to(copy.name)
    return copy


def drop_pg(work: Path) -> None:
    """Drop a PostgreSQL work folder's databases (templates and runs)."""
    prefix = (work / PG_MARK).read_text().strip()
    names = _pg(f"SELECT datname FROM pg_database WHERE datname LIKE '{prefix}\\_%'")
    _pg(*(f'DROP DATABASE IF EXISTS "{name}"' for name in names))


def prepare(work: Path, n: int) -> None:
    """Template databases and folders the child runs start from."""
    from personsync.persons.sample import generate
    from personsync.sync import engine
    from personsync.sync.options import RunOptions

    db = _open(work, "persons")
    db.add_many(list(generate(n, 42)))
    engine.ensure_tables(db.engine)
    db.close()
    # The exported state: a linked folder and its database, for the no-op and 1 % runs. The
    # runs see the folder as `exported`, a symbolic link to a fresh copy for each run
    # (`fresh_exported`): links are per folder, and a run must not see an earlier run's edits.
    (work / EXPORTED).mkdir()
    (work / "exported").symlink_to(EXPORTED)
    db = _open(work, "exported", "persons")
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
    db = _open(work, "empty")
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
        template, url = "persons", f"vcf:{here / 'out'}"
    elif scenario in {"export-noop", "export-1pct", "sync-noop", "sync-1pct"}:
        # Links are per folder: the run must see the very folder the links were made with.
        template, url = "exported", f"vcf:{work / 'exported'}"
    elif scenario == "sync-first":
        shutil.copytree(work / "plain", here / "cards")
        template, url = "persons", f"vcf:{here / 'cards'}"
    else:
        shutil.copytree(work / "plain", here / "cards")
        template, url = "empty", f"vcf:{here / 'cards'}"
    db = _open(work, here.name, template)
    if scenario in {"export-1pct", "sync-1pct"}:
        ids = sorted(db.versions())[::100]
        db.update_many([(pid, {"job_title": f"Changed {run}"}) for pid in ids])
    if scenario == "sync-1pct":
        _change_contacts(url, run)
    direction = scenario.split("-")[0]
    read_all = 0.0
    if scenario in {"export-noop", "sync-noop"}:
        # A no-op run is one after which nothing changed: the run before it (untimed) reads
        # both sides and, finding nothing to do, records their marks (sync/quiet.py), once the
        # fresh copy's files are older than the folder's racy margin.
        from personsync.stores.vcf_folder import RACY_MS

        time.sleep(RACY_MS / 1000 + 0.2)
        first = time.perf_counter()
        engine.run(db, url, direction, options=RunOptions(yes=True))
        # The run before it read everything (the no-op as the first run after a change sees it).
        read_all = time.perf_counter() - first
    before, db_before = cpu_seconds(), backend_cpu(db)
    started = time.perf_counter()
    out = engine.run(db, url, direction, options=RunOptions(yes=True))
    seconds = time.perf_counter() - started
    cpu, db_cpu = cpu_seconds() - before, backend_cpu(db, db_before)
    db.close()
    assert out.report is not None and not out.report.errors, out.report.errors[:3]
    return {
        "seconds": seconds,
        "rss_mb": peak_rss_mb(),
        "changes": out.plan.changes(),
        "cpu_s": cpu,
        "db_cpu_s": db_cpu,
        # How many runs were answered without reading (a no-op after a quiet run).
        "unread": float(bool(out.plan.unread)),
        **({"read_all_s": read_all} if scenario in {"export-noop", "sync-noop"} else {}),
    }


def cpu_seconds() -> float:
    """This process's CPU time (user + system): the engine's own work, whatever the load."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def backend_cpu(db: Any, since: dict[int, float] | None = None) -> Any:
    """PostgreSQL: the CPU time of the server processes serving this database (only this run
    connects to its copy), read from /proc (the server runs on this machine); with `since`,
    the seconds used after it. SQLite: nothing (its work is in `cpu_seconds`)."""
    from sqlalchemy import text

    if db.engine.dialect.name != "postgresql":
        return {} if since is None else 0.0
    with db.engine.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        now = {pid: _proc_cpu(pid) for pid in pids}
    if since is None:
        return now
    return sum(used - since.get(pid, 0.0) for pid, used in now.items())


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    parser.add_argument("--keep", default="", help="prepare into this folder once, and keep it")
    parser.add_argument("--trees", default="", help="NAME=PATH,...: code to compare, interleaved")
    parser.add_argument("--postgresql", action="store_true")
    parser.add_argument(
        "--databases",
        default="",
        help="sqlite,postgresql: both, interleaved run by run (with --keep DIR: DIR/sqlite and "
        "DIR/postgresql)",
    )
    args = parser.parse_args()
    if args.no_fsync or not args.child:
        # The parent only prepares the starting states: how durable that is does not matter.
        _no_fsync()
    if args.child:
        print(json.dumps(child(args.child, Path(args.work), args.run)))
        return
    trees = [tuple(t.split("=", 1)) for t in args.trees.split(",") if t] or [("", ".")]
    databases = [d for d in args.databases.split(",") if d] or [
        "postgresql" if args.postgresql else "sqlite"
    ]
    both = len(databases) > 1
    if args.keep:
        top = Path(args.keep).resolve()
    else:
        top = Path(tempfile.mkdtemp(prefix="sync-bench-", dir=args.dir or None))
    works = {d: top / d if both else top for d in databases}
    try:
        for database, work in works.items():
            work.mkdir(parents=True, exist_ok=True)
            setup(work, database == "postgresql", args.persons, args.no_fsync)
        # Each run of a scenario by each tree on each database in turn: a busy machine slows
        # them alike, and the ratios are to the first (tree, database).
        pairs = [
            (f"{name} {d}".strip() if both else name, tree, d)
            for name, tree in trees
            for d in works
        ]
        scenarios = [s for s in [*TARGETS, *FLOORS] if not args.only or s in args.only.split(",")]
        for scenario in scenarios:
            results: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in pairs}
            for run in range(args.runs):
                for label, tree, d in pairs:
                    results[label].append(one_run(works[d], scenario, tree, args.no_fsync))
            first = statistics.median(r["seconds"] for r in results[pairs[0][0]])
            for label, _, _ in pairs:
                report(scenario, label, results[label], first)
    finally:
        if not args.keep:
            for work in works.values():
                if (work / PG_MARK).exists():
                    drop_pg(work)
            shutil.rmtree(top, ignore_errors=True)


def setup(work: Path, postgresql: bool, persons: int, no_fsync: bool) -> None:
    """Prepare `work` unless it was (`--keep`), and say what it holds."""
    t0 = time.perf_counter()
    with keep_lock(work, "preparing"):
        if not (work / "prepared").exists():
            if postgresql:
                (work / PG_MARK).write_text(f"syncbench_{uuid.uuid4().hex[:8]}")
            prepare(work, persons)
            (work / "prepared").write_text(str(persons))
        elif postgresql != (work / PG_MARK).exists():
            raise SystemExit(f"{work} was prepared for the other database")
    mode = "off (engine only)" if no_fsync else "on, as shipped"
    took = time.perf_counter() - t0
    print(f"prepared {(work / 'prepared').read_text()} Persons in {took:.1f} s")
    db = "PostgreSQL" if postgresql else "SQLite"
    print(f"{db}; runs with the vCard store's fsync {mode}, in {work}")


def one_run(work: Path, scenario: str, tree: str, no_fsync: bool) -> dict[str, float]:
    """One child process of `tree`'s code, with the work folder's lock when it uses (or, the
    disk floor, reads) the shared `exported` folder; its work folders and database removed
    after."""
    if scenario in SHARED_FOLDER or scenario == FLOOR:
        with keep_lock(work, f"running {scenario}"):
            return _one_run(work, scenario, tree, no_fsync)
    return _one_run(work, scenario, tree, no_fsync)


def _one_run(work: Path, scenario: str, tree: str, no_fsync: bool) -> dict[str, float]:
    run = time.monotonic_ns() % 10**12  # unique in the work folder, whatever the tree
    here = work / f"run-{scenario}-{run}"
    copy = fresh_exported(work, str(run)) if scenario in SHARED_FOLDER else None
    command = [sys.executable, "-m", "bench.sync_bench", "--child", scenario]
    command += ["--work", str(work), "--run", str(run)]
    command += ["--no-fsync"] if no_fsync else []
    root = Path(tree).resolve()
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}"}
    try:
        got = subprocess.run(command, capture_output=True, text=True, cwd=root, env=env)
        if got.returncode:
            raise SystemExit(f"{scenario} of {tree} failed:\n{got.stderr[-3000:]}")
        result: dict[str, float] = json.loads(got.stdout.strip().splitlines()[-1])
        return result
    finally:
        if copy is not None:
            (work / "exported").unlink()
            (work / "exported").symlink_to(EXPORTED)
        for path in (here, copy):
            if path is not None:
                shutil.rmtree(path, ignore_errors=True)
        for end in (".db", ".db-wal", ".db-shm"):
            Path(f"{here}{end}").unlink(missing_ok=True)
        shutil.rmtree(f"{here}.db.locks", ignore_errors=True)  # the leases' lock files
        if (work / PG_MARK).exists():
            prefix = (work / PG_MARK).read_text().strip()
            _pg(f'DROP DATABASE IF EXISTS "{prefix}_{here.name}"'.replace("-", "_"))


def report(scenario: str, tree: str, results: list[dict[str, float]], first: float) -> None:
    median = statistics.median(r["seconds"] for r in results)
    peak = max(r["rss_mb"] for r in results)
    label = f"{scenario} {tree}".strip()
    ratio = f"  ×{median / first:.2f}" if tree else ""
    print(
        f"{label:21} median {median:6.2f} s{ratio} "
        + (f"(target ≤ {TARGETS[scenario]:4.1f} s)  " if scenario in TARGETS else " " * 20)
        + "  "
        f"peak RSS {peak:5.0f} MB  runs: "
        + ", ".join(f"{r['seconds']:.2f}" for r in results)
        + f"  writes: {int(results[0]['changes'])}"
        + _cpu(results)
        + (
            f", unread {sum(int(r['unread']) for r in results)}/{len(results)}"
            if all("unread" in r for r in results)
            else ""
        )
        + (
            f"  (the untimed run before, which read all: median "
            f"{statistics.median(r['read_all_s'] for r in results):.2f} s)"
            if all("read_all_s" in r for r in results)
            else ""
        ),
        flush=True,
    )


def _cpu(results: list[dict[str, float]]) -> str:
    """Median CPU seconds of the run (engine process; + database server on PostgreSQL), where
    the tree's child measured them."""
    if any("cpu_s" not in r for r in results):
        return ""
    cpu = statistics.median(r["cpu_s"] for r in results)
    server = statistics.median(r.get("db_cpu_s", 0.0) for r in results)
    return f"  cpu {cpu:.2f} s" + (f" + server {server:.2f} s" if server else "")


if __name__ == "__main__":
    main()
