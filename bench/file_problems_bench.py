"""Single-file folders at their worst: a 200 MB `vcf-file:` and a file of many unreadable cards.

Run: .venv/bin/python -m bench.file_problems_bench [--mb 200] [--problems 16000,32000,64000]
     [--runs 1] [--only big,problems] [--old-src DIR]

Each case is a whole `personsync` process (`contacts list --json`, `import --dry-run --json`
on a fresh SQLite database), timed, with its peak resident memory (the child's ru_maxrss), so
the figure is what a person sees, not Python's own count. `--old-src DIR` also runs every case
with the code in DIR (a `git archive` of another commit's `src`) first, interleaved, for an old
vs new comparison in one session.

- big: a `vcf-file:` of about `--mb` MB of small cards (about 385 bytes each, like the file of
  the issue), read whole by `contacts list` and planned by `import --dry-run`.
- problems: a `vcf-file:` of N cards that never end (no END:VCARD), which once took quadratic
  time to plan (72 s at 64,000): each is named as a problem.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c{i:07d}\r\nFN:Person{i} Lee{m}\r\nN:Lee{m};Person{i};;;\r\n"
    "EMAIL;TYPE=INTERNET,WORK:person{i}@example.org\r\nTEL;TYPE=CELL:+1 212 555 {p:04d}\r\n"
    "ORG:Company {c}\r\nADR;TYPE=WORK:;;{i} Main Street;Springfield;IL;62701;United States\r\n"
    "NOTE:Met at the fair; likes tea\r\nCATEGORIES:Customers\r\nEND:VCARD\r\n"
)


def big_file(path: Path, megabytes: int) -> int:
    """Write the file; the number of cards."""
    n, size = 0, 0
    with path.open("w", encoding="utf-8", newline="") as out:
        while size < megabytes * 1_000_000:
            card = CARD.format(i=n, m=n % 977, p=n % 10000, c=n % 5000)
            out.write(card)
            size += len(card)
            n += 1
    return n


def problems_file(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        for i in range(n):
            out.write(f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cut{i} Short\r\n")


def run(src: str | None, args: list[str], home: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, exit code) of one personsync process."""
    env = dict(os.environ, PERSONSYNC_CONFIG_DIR=str(home))
    if src:
        env["PYTHONPATH"] = src
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "dt = time.perf_counter() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(dt, peak, rc)\n"
    )
    cmd = [sys.executable, "-c", code, sys.executable, "-m", "personsync", *args]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    seconds, peak_kib, rc = out.split()
    return float(seconds), int(peak_kib) / 1024, int(rc)


def case(label: str, args: list[str], runs: int, old_src: str | None, home: Path) -> None:
    sides = [("old", old_src), ("new", None)] if old_src else [("new", None)]
    results: dict[str, list[tuple[float, float, int]]] = {side: [] for side, _ in sides}
    for _ in range(runs):
        for side, src in sides:  # interleaved
            results[side].append(run(src, args, home))
    for side, _ in sides:
        got = results[side]
        seconds = statistics.median(t for t, _, _ in got)
        peak = max(p for _, p, _ in got)
        print(
            f"{label:<40} {side}: median {seconds:7.2f} s  peak RSS {peak:7.0f} MiB  "
            f"exit {got[0][2]}  (runs: {', '.join(f'{t:.2f}' for t, _, _ in got)})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--problems", default="16000,32000,64000")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", default="big,problems")
    parser.add_argument("--old-src", default="")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="file-problems-bench-"))
    old = args.old_src or None
    try:
        home = tmp / "home"
        home.mkdir()
        if "big" in parts:
            path = tmp / "big.vcf"
            started = time.perf_counter()
            n = big_file(path, args.mb)
            size = path.stat().st_size / 2**20
            print(f"big file: {n:,} cards, {size:.0f} MiB ({time.perf_counter() - started:.0f} s)")
            url = f"vcf-file:{path}"
            case("contacts list --json", ["contacts", "list", url, "--json"], args.runs, old, home)
            db = f"sqlite:///{tmp / 'big.db'}"
            dry = ["import", "--from", url, "--dry-run", "--db", db]
            case("import --dry-run", dry, args.runs, old, home)
        for n in [int(x) for x in args.problems.split(",") if x] if "problems" in parts else []:
            path = tmp / f"problems-{n}.vcf"
            problems_file(path, n)
            db = f"sqlite:///{tmp / f'problems-{n}.db'}"
            dry = ["import", "--from", f"vcf-file:{path}", "--dry-run", "--json", "--db", db]
            case(f"import --dry-run, {n:,} unreadable", dry, args.runs, old, home)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
