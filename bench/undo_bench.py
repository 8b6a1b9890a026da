"""`undo` of a run that updated N contacts: how long the restores take.

Run: .venv/bin/python -m bench.undo_bench [--persons N,...] [--runs R] [--dir DIR]
                                          [--trees NAME=PATH,...]

Each run is a fresh child process in a fresh work folder (SQLite and a `vcf:` folder): N sample
Persons exported, every Person's job title changed in the CRM and exported again (N contact
updates), then that second run undone (`undo --yes`; N contact restores), which alone is timed.
Prints per tree the median wall time of the undo, its CPU time and how many progress events it
told.

`--trees old=../old,new=.` compares code: each run is made by each tree's code in turn (the
child started in that tree, its `src` first on the path), interleaved, so a busy machine slows
both alike; the ratio is to the first tree's median.

`--dir DIR` puts the work folders there (e.g. /dev/shm: the figures without this disk's cost).
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
from pathlib import Path


def child(work: Path, persons: int) -> dict[str, float]:
    """One undo of `persons` contact restores, prepared in `work` by this tree's code."""
    from personsync.persons.repo import PersonsDB
    from personsync.persons.sample import generate
    from personsync.sync import engine
    from personsync.sync.events import Progress, RunEvent
    from personsync.sync.options import RunOptions
    from personsync.sync.undo import undo

    url = f"vcf:{work / 'contacts'}"
    db = PersonsDB(str(work / "persons.db"))
    try:
        ids = db.add_many(list(generate(persons, seed=7)))
        engine.run(db, url, "export", options=RunOptions(yes=True))
        db.update_many([(pid, {"job_title": f"Changed {pid}"}) for pid in ids])
        out = engine.run(db, url, "export", options=RunOptions(yes=True))
        assert out.report is not None and out.report.counts["update-contact"] == persons
        heard: list[RunEvent] = []
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        report = undo(db, out.report.run_id, options=RunOptions(yes=True), on_event=heard.append)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        assert report.counts.get("undone") == persons, report.counts
    finally:
        db.close()
    return {
        "seconds": seconds,
        "cpu": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime,
        "events": sum(1 for e in heard if isinstance(e, Progress)),
    }


def one_run(top: Path, tree: str, persons: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="undo-", dir=top))
    root = Path(tree).resolve()
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{Path.cwd()}"}
    command = [sys.executable, "-m", "bench.undo_bench", "--child", str(work)]
    command += ["--persons", str(persons)]
    try:
        got = subprocess.run(command, capture_output=True, text=True, env=env)
        if got.returncode:
            raise SystemExit(f"the undo of {tree} failed:\n{got.stderr[-3000:]}")
        result: dict[str, float] = json.loads(got.stdout.strip().splitlines()[-1])
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", default="2000")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--dir", default="")
    parser.add_argument("--trees", default="", help="NAME=PATH,...: code to compare, interleaved")
    parser.add_argument("--child", default="")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child), int(args.persons))))
        return
    trees = [tuple(t.split("=", 1)) for t in args.trees.split(",") if t] or [("", ".")]
    top = Path(tempfile.mkdtemp(prefix="undo-bench-", dir=args.dir or None))
    try:
        for persons in (int(n) for n in args.persons.split(",")):
            results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in trees}
            for _ in range(args.runs):
                for name, tree in trees:
                    results[name].append(one_run(top, tree, persons))
                    print(f"  {persons} {name}: {results[name][-1]}", flush=True)
            first = statistics.median(r["seconds"] for r in results[trees[0][0]])
            for name, _ in trees:
                got = results[name]
                median = statistics.median(r["seconds"] for r in got)
                cpu = statistics.median(r["cpu"] for r in got)
                print(
                    f"undo of {persons:,} contact updates  {name or 'this tree':<8} "
                    f"median {median:8.2f} s  CPU {cpu:7.2f} s  "
                    f"progress events {int(got[0]['events']):,}  ratio {median / first:.3f}  "
                    f"(runs: {', '.join(format(r['seconds'], '.2f') for r in got)}; "
                    f"load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    finally:
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
