"""The sync engine at scale: 100,000 Persons and a vCard folder (`vcf:`), SQLite Persons.

Run: .venv/bin/python -m bench.sync_bench [--persons N] [--runs R]

Scenarios (each run in a fresh child process, so its peak memory is its own):
  export-full   full export into an empty folder
  export-noop   a no-op re-export (nothing changed on either side)
  export-1pct   a re-export after 1 % of the Persons changed
  import-full   an import of N cards into an empty Persons database
Prints the median wall time of R runs and the largest peak RSS (getrusage maxrss) per scenario.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"export-full": 10.0, "export-noop": 1.5, "export-1pct": 3.0, "import-full": 15.0}


def _db(path: Path):  # type: ignore[no-untyped-def]
    from personsync.persons.repo import PersonsDB

    return PersonsDB(str(path))


def prepare(work: Path, n: int) -> None:
    """Template databases and folders the child runs start from (copied, never changed)."""
    from personsync.persons.sample import generate
    from personsync.sync import engine

    db = _db(work / "persons.db")
    db.add_many(list(generate(n, 42)))
    engine.ensure_tables(db.engine)
    db.close()
    # The exported state: a linked folder and its database, for the no-op and 1 % runs.
    shutil.copy(work / "persons.db", work / "exported.db")
    db = _db(work / "exported.db")
    engine.run(db, f"vcf:{work / 'exported'}", "export", yes=True)
    db.close()
    # An empty database for the import.
    db = _db(work / "empty.db")
    engine.ensure_tables(db.engine)
    db.close()


def child(scenario: str, work: Path, run: int) -> dict[str, float]:
    from personsync.sync import engine

    here = work / f"run-{scenario}-{run}"
    here.mkdir()
    if scenario == "export-full":
        shutil.copy(work / "persons.db", here / "p.db")
        folder = here / "out"
    elif scenario in {"export-noop", "export-1pct"}:
        shutil.copy(work / "exported.db", here / "p.db")
        folder = here / "out"
        shutil.copytree(work / "exported", folder, copy_function=shutil.copy2)
    else:
        shutil.copy(work / "empty.db", here / "p.db")
        folder = work / "exported"  # read only: the cards carry Customer IDs of another db
    db = _db(here / "p.db")
    url = f"vcf:{folder}"
    if scenario == "export-1pct":
        versions = db.versions()
        ids = sorted(versions)[::100]
        db.update_many([(pid, {"job_title": f"Changed {run}"}) for pid in ids])
    direction = "import" if scenario == "import-full" else "export"
    # The cards' Customer IDs name Persons of another database: import them as new contacts.
    if scenario == "import-full":
        url = _strip_customer_ids(work, here)
    started = time.perf_counter()
    out = engine.run(db, url, direction, yes=True)
    seconds = time.perf_counter() - started
    db.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert out.report is not None
    return {"seconds": seconds, "rss_mb": rss, "changes": out.plan.changes()}


def _strip_customer_ids(work: Path, here: Path) -> str:
    """A copy of the exported folder without Customer IDs: cards as Outlook would hand them."""
    cards = work / "plain"
    if not cards.exists():
        tmp = work / "plain.tmp"
        tmp.mkdir()
        for f in (work / "exported").iterdir():
            text = f.read_text(encoding="utf-8")
            lines = [ln for ln in text.splitlines(True) if not ln.startswith("X-PERSONSYNC-")]
            (tmp / f.name).write_text("".join(lines), encoding="utf-8")
        tmp.rename(cards)
    return f"vcf:{cards}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="")
    parser.add_argument("--child", default="")
    parser.add_argument("--work", default="")
    parser.add_argument("--run", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.work), args.run)))
        return
    work = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    try:
        t0 = time.perf_counter()
        prepare(work, args.persons)
        print(f"prepared {args.persons} Persons in {time.perf_counter() - t0:.1f} s ({work})")
        scenarios = [s for s in TARGETS if not args.only or s in args.only.split(",")]
        for scenario in scenarios:
            results = []
            for run in range(args.runs):
                got = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench.sync_bench",
                        "--child",
                        scenario,
                        "--work",
                        str(work),
                        "--run",
                        str(run),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                results.append(json.loads(got.stdout.strip().splitlines()[-1]))
            median = statistics.median(r["seconds"] for r in results)
            peak = max(r["rss_mb"] for r in results)
            print(
                f"{scenario:12} median {median:6.2f} s (target ≤ {TARGETS[scenario]:.1f} s) "
                f"peak RSS {peak:6.0f} MB  runs: "
                + ", ".join(f"{r['seconds']:.2f}" for r in results)
                + f"  writes planned: {int(results[0]['changes'])}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
