"""`bench/sync_bench.py --keep DIR`: two benches started on one prepared folder at once take
turns (its lock) instead of preparing it twice over and repointing each other's `exported`
folder under their runs. The real bench, in child processes, at 30 Persons."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench(keep: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "bench.sync_bench", "--keep", str(keep), "--persons", "30"]
    command += ["--runs", "1", "--only", "export-1pct,sync-noop"]
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_two_benches_on_one_keep_folder_take_turns(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    first, second = _bench(keep), _bench(keep)
    said = [p.communicate(timeout=240) for p in (first, second)]
    for p, (out, err) in zip((first, second), said, strict=True):
        assert p.returncode == 0, err[-2000:]
        # The no-op run is answered from the marks the run before it left (`unread`): a run
        # whose `exported` folder another bench repointed meanwhile read everything again.
        line = next(ln for ln in out.splitlines() if ln.startswith("sync-noop"))
        assert "unread 1/1" in line, line
        line = next(ln for ln in out.splitlines() if ln.startswith("export-1pct"))
        assert "writes: 1 " in line, line  # a hundredth of 30: one Person changed
    waited = [err for _, err in said if "waiting for it" in err]
    assert waited and re.search(r"in use by the bench of pid \d+ \(", waited[0]), said
    # Prepared once; every run's copy gone, `exported` back at the prepared state.
    assert (keep / "prepared").read_text() == "30"
    assert (keep / "exported").readlink() == Path("exported-state")
    assert sorted(p.name for p in keep.iterdir() if p.name.startswith(("exported-", "run-"))) == [
        "exported-state"
    ]
