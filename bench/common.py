"""What the format and store benchmarks share: timing a piece of work the same way."""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable


def measure(label: str, n: int, runs: int, work: Callable[[], object], unit: str) -> None:
    """Median wall time of `runs` runs and the peak Python memory of one extra traced run
    (tracing slows that run, so it is not timed); prints a line with `n / median` `unit`/s."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    median = statistics.median(times)
    print(
        f"{label:<44} median {median:7.2f} s  {n / median:>9,.0f} {unit}/s  "
        f"peak {peak / 2**20:6.0f} MiB  (runs: {', '.join(f'{t:.2f}' for t in times)})",
        flush=True,
    )
