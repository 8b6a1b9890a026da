"""CardDAV export against real servers (Radicale, Xandikos) and each server's own floor.

    .venv/bin/python bench/carddav_bench.py --sizes 1000,10000 --servers radicale,xandikos

Per server and size, interleaved `--runs` times:
- **floor**: the same cards `PUT` (If-None-Match: *) by a bare loop with the same concurrency
  into a fresh address book: what the server costs, with no engine, journal or links;
- **export**: `personsync export --to carddav:...` as a process into a fresh address book (wall
  time and the process's peak RSS).
Then, on the last exported book: a **no-op** re-run and a run with **1 %** of the Persons changed
(time and HTTP requests), and with `--cut`, a first export killed with SIGKILL three times, each
run 30 % of the median export time after it started, then finished: the book must hold every
Person once.

Every floor and export prints its rate every 500 cards, so that a run too long for the session
still leaves its curve. Other modes: `--floor-only`; `--no-export --cut` (the cut export alone,
`--cut-after` seconds into each run); `--seeded` (a book holding the Persons' cards already,
written into the server's storage: the export must link them and send none, then a no-op and
1 %). `--radicale-uid-index` runs Radicale with `personsync.testing.radicale_uid_index`, a
bench-only storage without its per-card walks (docs/benchmarks.md, 2026-12-06).

    .venv/bin/python -m bench.carddav_bench --sizes 10000 --servers radicale \
        --radicale-uid-index --runs 3 --cut --storage /dev/shm

`--trees old=/tmp/old,new=.` compares code: each run is the floor, then one export by each
tree's code (`PYTHONPATH` = the tree's `src`), their order turned round run by run, against the
same server; then per tree its no-op re-run and 1 % changed, in-process in a process of that
tree's code (its own `after`). Ratios are each tree's median export over the floor's median.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from personsync.errors import FolderNotFound
from personsync.formats.vcard import write_card
from personsync.model import Contact
from personsync.persons.repo import PersonsDB
from personsync.persons.sample import generate
from personsync.stores import http as shared_http
from personsync.stores import open_folder
from personsync.stores.base import read_all
from personsync.sync import engine
from personsync.sync.options import RunOptions
from personsync.testing.carddav_servers import Server, running

EVERY = 500  # cards between two progress lines


class Rate:
    """Prints cards/s every `EVERY` cards (the band's rate and the overall one), so that a run
    that cannot finish still leaves its rate curve in the log."""

    def __init__(self, label: str, start_count: int = 0) -> None:
        self.label = label
        self.start = self.mark = time.perf_counter()
        self.first = self.count = self.last = start_count
        self.lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        with self.lock:
            self.seen(self.count + n)

    def seen(self, count: int) -> None:
        self.count = count
        if count // EVERY > self.last // EVERY:
            now = time.perf_counter()
            band = (count - self.last) / max(now - self.mark, 1e-9)
            print(
                f"    {self.label}: {count:>6,} cards at {now - self.start:8.1f} s, "
                f"{band:6.2f} cards/s since {self.last:,} "
                f"(load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            self.mark, self.last = now, count


def linked(db: Path) -> int:
    """How many Persons the export has linked so far (its link rows, read-only)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("select count(*) from sync_links").fetchone()[0])
    except sqlite3.Error:
        return -1  # not made yet, or busy: the next look


def run_counts(db: Path) -> dict[str, int]:
    """The counts of the database's last run (planned ones when it was killed)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        row = conn.execute("select counts from sync_runs order by started_at desc").fetchone()
    return {k: v for k, v in json.loads(row[0] if row else "{}").items() if v}


def cards_of(db_path: Path) -> list[bytes]:
    """The Persons as the store writes them (vCard 3.0 with the Customer ID), each with a new
    UID: the bodies of the floor's PUTs and of a seeded book."""
    db = PersonsDB(str(db_path))
    try:
        cards = [
            write_card(Contact(p.record, customer_id=str(p.id)), "3.0") for p in db.iter_persons()
        ]
    finally:
        db.close()
    out = []
    for card in cards:
        uid = str(uuid.uuid4())
        out.append(card.replace(b"\r\nEND:VCARD", f"\r\nUID:{uid}\r\nEND:VCARD".encode(), 1))
    return out


def seed(path: Path, n: int) -> None:
    db = PersonsDB(str(path))
    db.add_many(list(generate(n, 7)))
    db.close()


def floor(server: Server, db_path: Path, concurrency: int) -> float:
    """The same cards PUT by a bare loop: one fresh book, `concurrency` threads."""
    url = server.plain(make_book(server))
    cards = cards_of(db_path)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    backoff = shared_http.RetryPolicy()
    with httpx.Client(limits=limits, auth=(server.user, "x"), timeout=60) as client:

        def put(body: bytes) -> None:
            uid = body.rpartition(b"\r\nUID:")[2].partition(b"\r\n")[0].decode()
            # Xandikos answers 423 (and now and then 409) while its repository is busy: wait
            # as the store does (jittered, doubling), so that the floor is not a retry storm.
            for attempt in range(12):
                reply = client.put(
                    f"{url}{uid}.vcf",
                    content=body,
                    headers={"If-None-Match": "*", "Content-Type": "text/vcard"},
                )
                if reply.status_code not in (409, 423):
                    break
                time.sleep(backoff.delay(attempt, None))
            assert reply.status_code in (201, 204), (reply.status_code, reply.text)

        rate = Rate("floor")
        start, cpu = time.perf_counter(), time.process_time()

        def put_counted(card: bytes) -> None:
            put(card)
            rate.add()

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(put_counted, cards))
        took = time.perf_counter() - start
        # The bare loop's own CPU (this process, every thread), beside each export's.
        print(f"    floor: {took:.2f} s, {time.process_time() - cpu:.1f} s CPU", flush=True)
        return took


def tree_env(tree: str) -> dict[str, str] | None:
    """The environment of a process running `tree`'s code (None: this tree's)."""
    if not tree:
        return None
    root = Path(tree).resolve()
    return {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}"}


Exported = tuple[float, int, int, float]  # seconds, peak RSS in MiB, exit status, CPU seconds


def export_process(db: Path, url: str, kill_after: float | None = None, tree: str = "") -> Exported:
    """(seconds, peak RSS in MiB, exit status, CPU seconds) of `personsync export` as its own
    process, with `tree`'s code."""
    argv = [sys.executable, "-m", "personsync", "export", "--to", url, "--db", str(db), "--yes"]
    rate = Rate("export", max(linked(db), 0))
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=tree_env(tree)
    )
    deadline = None if kill_after is None else start + kill_after
    looked = start
    while True:
        if time.perf_counter() - looked >= 2:
            looked = time.perf_counter()
            count = linked(db)
            if count >= 0:
                rate.seen(count)
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.perf_counter() >= deadline:
            os.kill(proc.pid, signal.SIGKILL)
            deadline = None
        time.sleep(0.02)
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - start, usage.ru_maxrss // 1024, code, cpu


def counted_export(db_path: Path, url: str) -> tuple[float, int, dict[str, int]]:
    """An in-process export: (seconds, HTTP requests, plan counts)."""
    sent: Counter[str] = Counter()
    original = shared_http.HttpClient.send

    def send(self: shared_http.HttpClient, method: str, *args: Any, **kw: Any) -> Any:
        sent[method] += 1
        return original(self, method, *args, **kw)

    shared_http.HttpClient.send = send  # type: ignore[method-assign]
    db = PersonsDB(str(db_path))
    try:
        start = time.perf_counter()
        out = engine.run(db, url, "export", options=RunOptions(yes=True))
        took = time.perf_counter() - start
    finally:
        shared_http.HttpClient.send = original  # type: ignore[method-assign]
        db.close()
    counts = {k: v for k, v in (out.report.counts if out.report else {}).items() if v}
    print(f"      requests: {dict(sent)}", flush=True)
    for problem in (out.report.errors if out.report else [])[:5]:
        print(f"      error: {problem}", flush=True)
    return took, sum(sent.values()), counts


def check_book(url: str, n: int) -> str:
    store = open_folder(url, create=False)
    try:
        cids = Counter(c.customer_id for c in read_all(store) if isinstance(c, Contact))
    except FolderNotFound:
        return "no address book yet"  # cut before it made one
    finally:
        store.close()
    doubled = sum(1 for v in cids.values() if v > 1)
    return f"{sum(cids.values())} cards, {len(cids)} Persons, {doubled} doubled"


def bench(
    server: Server,
    n: int,
    runs: int,
    concurrency: int,
    cut: bool,
    tmp: Path,
    with_floor: bool,
    cut_after: float | None = None,
    trees: Sequence[tuple[str, str]] = (("", ""),),
) -> None:
    template = tmp / f"persons-{n}.db"
    if not template.exists():
        seed(template, n)
    floors: list[float] = []
    exports: dict[str, list[Exported]] = {name: [] for name, _ in trees}
    last: dict[str, tuple[Path, str]] = {}
    for run in range(runs):
        print(f"  run {run + 1} starts, load {os.getloadavg()[0]:.1f}", flush=True)
        floors.append(floor(server, template, concurrency) if with_floor else float("nan"))
        line = f"  run {run + 1}: floor {floors[-1]:7.2f} s"
        for name, tree in trees if run % 2 == 0 else trees[::-1]:
            db = tmp / f"run-{server.kind}-{n}-{run}-{name or 'export'}.db"
            shutil.copy(template, db)
            url = f"carddav:{server.book()}"
            got = export_process(db, url, tree=tree)
            assert got[2] == 0, f"export {name} exited with {got[2]}"
            exports[name].append(got)
            last[name] = (db, url)
            took, peak, _, cpu = got
            label = f" {name}" if name else ""
            line += f"   export{label} {took:7.2f} s ({cpu:.1f} s CPU, {peak} MiB)"
        print(f"{line}  (load {os.getloadavg()[0]:.1f})", flush=True)
    f = statistics.median(floors)
    print(f"{server.kind} {n:>6,}: floor median {f:7.2f} s ({n / f:,.0f} cards/s)", flush=True)
    for name, tree in trees:
        e = statistics.median(x[0] for x in exports[name])
        cpu = statistics.median(x[3] for x in exports[name])
        rss = statistics.median(x[1] for x in exports[name])
        ratios = ", ".join(f"{x[0] / fl:.2f}" for x, fl in zip(exports[name], floors, strict=True))
        label = f" {name}" if name else ""
        print(
            f"  export{label} median {e:7.2f} s ({n / e:,.0f} cards/s), export/floor "
            f"{e / f:.2f} (per run {ratios}), CPU {cpu:.1f} s, peak RSS {rss:.0f} MiB   "
            f"[{check_book(last[name][1], n)}]",
            flush=True,
        )
    for name, tree in trees:
        if name:
            print(f"  {name}:", flush=True)
        after_in(tree, *last[name])
    e = statistics.median(x[0] for x in exports[trees[-1][0]])
    if cut:
        cut_db = tmp / f"cut-{server.kind}-{n}.db"
        shutil.copy(template, cut_db)
        url = f"carddav:{server.book()}"
        start = time.perf_counter()
        for _ in range(3):
            took, _, code, _ = export_process(cut_db, url, kill_after=cut_after or e * 0.3)
            print(
                f"  cut at {took:6.2f} s (exit {code}): [{check_book(url, n)}], "
                f"planned {run_counts(cut_db)}",
                flush=True,
            )
        took, _, code, _ = export_process(cut_db, url)
        total = time.perf_counter() - start
        print(
            f"  resumed: last run {took:.2f} s (exit {code}), all runs {total:.2f} s "
            f"(uncut median {e:.2f} s): [{check_book(url, n)}], counts {run_counts(cut_db)}",
            flush=True,
        )


def after_in(tree: str, db_path: Path, url: str) -> None:
    """`after` with `tree`'s code: in a process of its own for another tree."""
    if not tree:
        after(db_path, url)
        return
    code = "import sys; from pathlib import Path; from bench.carddav_bench import after; "
    code += "after(Path(sys.argv[1]), sys.argv[2])"
    root = Path(tree).resolve()
    subprocess.run(
        [sys.executable, "-c", code, str(db_path), url], check=True, cwd=root, env=tree_env(tree)
    )


def make_book(server: Server) -> str:
    """A fresh address book, made by the store as for an export; its URL."""
    book = server.book()
    made = open_folder(f"carddav:{book}")
    try:
        list(made.list_items())
    finally:
        made.close()
    return book


def seeded(server: Server, n: int, tmp: Path) -> None:
    """An address book that holds the Persons' cards already (written into the server's own
    storage, as an export cut just before its end leaves them, but unlinked), then: the export
    that finds and links them (it must send none again), a no-op re-run and 1 % changed. What
    the client costs at `n` cards, without the server's cost of creating them one by one."""
    template = tmp / f"persons-{n}.db"
    if not template.exists():
        seed(template, n)
    db_path = tmp / f"seeded-{server.kind}-{n}.db"
    shutil.copy(template, db_path)
    book = make_book(server)
    name = book.rstrip("/").rpartition("/")[2]
    if server.kind == "radicale":
        folder = server.storage / "collection-root" / server.user / name
    else:
        folder = server.storage / server.home.strip("/") / name
    start = time.perf_counter()
    for body in cards_of(db_path):
        uid = body.rpartition(b"\r\nUID:")[2].partition(b"\r\n")[0].decode()
        (folder / f"{uid}.vcf").write_bytes(body)
    if server.kind == "xandikos":  # its book is a git repository: one commit of them all
        git = ["git", "-C", str(folder), "-c", "user.name=bench", "-c", "user.email=bench@bench"]
        subprocess.run([*git, "add", "--", "*.vcf"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", f"{n} cards"], check=True)
    print(f"  seeded {n:,} cards in {time.perf_counter() - start:.1f} s", flush=True)
    url = f"carddav:{book}"
    took, peak, code, _ = export_process(db_path, url)
    print(
        f"  export finding them: {took:.1f} s (exit {code}, {peak} MiB peak RSS, load "
        f"{os.getloadavg()[0]:.1f}), counts {run_counts(db_path)}: [{check_book(url, n)}]",
        flush=True,
    )
    after(db_path, url)


def after(db_path: Path, url: str) -> None:
    """A no-op re-run and one with 1 % of the Persons changed, in-process, requests counted."""
    took, requests, counts = counted_export(db_path, url)
    print(f"  no-op re-run: {took:.2f} s, {requests} HTTP requests, {counts}", flush=True)
    db = PersonsDB(str(db_path))
    try:
        ids = [p.id for p in db.iter_persons()][::100]
        for pid in ids:
            db.update(pid, {"company": f"Changed {pid}"})
    finally:
        db.close()
    took, requests, counts = counted_export(db_path, url)
    print(f"  1 % changed ({len(ids)}): {took:.2f} s, {requests} HTTP requests, {counts}")


def cut_only(server: Server, n: int, tmp: Path, cut_after: float) -> None:
    """A first export of `n` killed with SIGKILL three times, `cut_after` seconds into each
    run, then run to its end: what each run found and left, and the book at the end."""
    template = tmp / f"persons-{n}.db"
    if not template.exists():
        seed(template, n)
    cut_db = tmp / f"cut-{server.kind}-{n}.db"
    shutil.copy(template, cut_db)
    url = f"carddav:{server.book()}"
    start = time.perf_counter()
    for _ in range(3):
        took, peak, code, _ = export_process(cut_db, url, kill_after=cut_after)
        print(
            f"  cut at {took:6.1f} s (exit {code}, {peak} MiB, load {os.getloadavg()[0]:.1f}): "
            f"[{check_book(url, n)}], planned {run_counts(cut_db)}",
            flush=True,
        )
    took, peak, code, _ = export_process(cut_db, url)
    print(
        f"  resumed: last run {took:.1f} s (exit {code}, {peak} MiB), all runs "
        f"{time.perf_counter() - start:.1f} s: [{check_book(url, n)}], counts "
        f"{run_counts(cut_db)}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000")
    parser.add_argument("--servers", default="radicale,xandikos")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--cut", action="store_true", help="also the cut-and-resume export")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare PUT loop")
    parser.add_argument("--no-export", action="store_true", help="only the cut export (--cut)")
    parser.add_argument("--floor-only", action="store_true", help="only the bare PUT loop")
    parser.add_argument(
        "--seeded",
        action="store_true",
        help="only an export into a book that holds the cards already, a no-op and 1 %%",
    )
    parser.add_argument(
        "--cut-after", type=float, help="seconds into each cut run (default: 30 %% of the export)"
    )
    parser.add_argument(
        "--storage",
        help="where the servers keep their books (default: a temporary folder; a tmpfs such "
        "as /dev/shm spares Radicale its fsyncs)",
    )
    parser.add_argument(
        "--radicale-uid-index",
        action="store_true",
        help="Radicale's UID check from an index (personsync.testing.radicale_uid_index), "
        "not a walk over every card: a bench-only storage plugin, for 10,000 cards",
    )
    parser.add_argument(
        "--trees",
        default="",
        help="NAME=PATH,...: the export by each tree's code, interleaved with one floor per run",
    )
    args = parser.parse_args()
    trees = [
        (n, str(Path(p).resolve()))
        for n, p in (t.split("=", 1) for t in args.trees.split(",") if t)
    ] or [("", "")]
    if args.concurrency != 4:
        print("note: the export uses the store's default concurrency (4)")
    print(json.dumps({"load at start": os.getloadavg()}), flush=True)
    with tempfile.TemporaryDirectory(prefix="carddav-bench-", dir=args.storage) as raw:
        tmp = Path(raw)
        for kind in args.servers.split(","):
            # The servers run with the benchmarks' settings (`RADICALE_BENCH`).
            uid_index = args.radicale_uid_index and kind == "radicale"
            with running(kind, tmp / kind, bench=True, uid_index=uid_index) as server:
                for n in (int(s) for s in args.sizes.split(",")):
                    if args.seeded:
                        seeded(server, n, tmp)
                        continue
                    if args.floor_only:
                        template = tmp / f"persons-{n}.db"
                        seed(template, n)
                        took = floor(server, template, args.concurrency)
                        print(f"{kind} {n:>6,}: floor {took:.1f} s ({n / took:,.1f} cards/s)")
                        continue
                    if args.no_export:
                        cut_only(server, n, tmp, args.cut_after or 600.0)
                        continue
                    bench(
                        server,
                        n,
                        args.runs,
                        args.concurrency,
                        args.cut,
                        tmp,
                        not args.no_floor,
                        args.cut_after,
                        trees,
                    )
    print(json.dumps({"load at end": os.getloadavg()}))


if __name__ == "__main__":
    main()
