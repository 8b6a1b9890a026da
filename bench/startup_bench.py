"""Start-up: `personsync --help`, `--version`, and a whole-process no-op export of 100,000.

Each is timed as a whole child process (interpreter start included), alternating between this
tree and an older one (`--old-src`, e.g. a `git worktree` of main) run with the same Python and
packages, so that both see the same noise of a shared machine. Prints medians and ratios of the
wall time and of the CPU time (user + system) each process used: on a loaded machine the wall
time is mostly waiting for a core or the disk.

    .venv/bin/python -m bench.startup_bench --old-src /tmp/old/src [--persons 100000] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "src"


def _env(src: Path) -> dict[str, str]:
    """The child's environment: `src` first on the path, and bytecode written and used. An
    installed copy has its `.pyc` files (pip compiles them); a shell with
    PYTHONDONTWRITEBYTECODE set would otherwise compile every module of ours at each start
    (0.3 s of a no-op export here), which no user pays."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(src: Path, args: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one child process."""
    env = _env(src)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "personsync", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def prepare(work: Path, persons: int, src: Path) -> list[str]:
    """A database of `persons` sample Persons, exported once to a vCard folder by the code in
    `src` (each tree its own: the names of new files, and so the item ids, may differ between
    trees): the no-op export's arguments."""
    db, folder = work / "p.db", work / "contacts"
    noop = ["export", "--to", f"vcf:{folder}", "--db", str(db), "--json"]
    if db.exists() and folder.exists():
        return noop  # prepared by an earlier run with --work
    work.mkdir(parents=True, exist_ok=True)
    for args in (
        ["persons", "sample", str(persons), "--seed", "7", "--db", str(db)],
        ["export", "--to", f"vcf:{folder}", "--db", str(db), "--yes", "--json"],
    ):
        subprocess.run(
            [sys.executable, "-m", "personsync", *args],
            cwd=work,
            env=_env(src),
            stdout=subprocess.DEVNULL,
            check=True,
        )
    return noop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--old-src", type=Path, required=True, help="the older tree's src/")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--work", type=Path, default=None, help="keep the data here")
    opts = parser.parse_args()
    work = opts.work or Path(tempfile.mkdtemp(prefix="personsync-startup-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        noop = prepare(work / "new", opts.persons, HERE)
        old_noop = prepare(work / "old", opts.persons, opts.old_src)
        cases = {
            "--help": (["--help"], ["--help"]),
            "--version": (["--version"], ["--version"]),
            f"no-op export of {opts.persons:,}": (noop, old_noop),
        }
        for label, (args, old_args) in cases.items():
            timed(HERE, args, work / "new")  # warm the file cache and the bytecode of both
            timed(opts.old_src, old_args, work / "old")
            new: list[tuple[float, float]] = []
            old: list[tuple[float, float]] = []
            for _ in range(opts.runs):
                new.append(timed(HERE, args, work / "new"))
                old.append(timed(opts.old_src, old_args, work / "old"))
            for kind, i in (("wall", 0), ("CPU", 1)):
                n = statistics.median(t[i] for t in new)
                o = statistics.median(t[i] for t in old)
                print(
                    f"{label:<26} {kind:<4} new {n:6.3f} s  old {o:6.3f} s  new/old {n / o:5.2f}"
                    f"  (new: {', '.join(f'{t[i]:.2f}' for t in new)}; old: "
                    f"{', '.join(f'{t[i]:.2f}' for t in old)})",
                    flush=True,
                )
    finally:
        if opts.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
