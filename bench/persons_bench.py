"""The Persons database at scale: 100,000 sample Persons inserted, then views evaluated over them,
on SQLite and PostgreSQL.

Run: .venv/bin/python -m bench.persons_bench [--rows N] [--runs R] [--only sqlite|postgresql]
Each run uses a fresh database. Prints medians of R runs and the process's peak memory (maxrss).
PostgreSQL: database `test` on 127.0.0.1:5432, a scratch schema dropped afterwards.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from personsync.model import Record
from personsync.persons.repo import PersonsDB
from personsync.persons.sample import generate

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
VIEW = (
    'state = "NY" or (last_name startswith "M" and company contains "bank") and email is not empty'
)


@contextmanager
def fresh_url(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield str(Path(tmp) / "bench.db")
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(PG_SERVER).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def one_run(backend: str, records: list[Record]) -> dict[str, float]:
    out: dict[str, float] = {}
    with fresh_url(backend) as url:
        out["open + migrate"], db = timed(lambda: PersonsDB(url))
        assert isinstance(db, PersonsDB)
        try:
            out["insert (add_many)"], ids = timed(lambda: db.add_many(records))
            assert isinstance(ids, list) and len(ids) == len(records)
            db.create_view("bench", VIEW, "last_name, first_name")
            out["count(view)"], n = timed(lambda: db.count("bench"))
            out["versions(view)"], _ = timed(lambda: db.versions("bench"))
            out["iter_persons(view)"], rows = timed(lambda: list(db.iter_persons("bench")))
            assert isinstance(rows, list) and len(rows) == n
            out["versions(all)"], _ = timed(lambda: db.versions())
            out["iter_persons(all)"], _ = timed(lambda: sum(1 for _ in db.iter_persons()))
            changes = [(pid, {"notes": f"bench {pid}"}) for pid in ids[:10_000]]
            out["update_many 10k"], _ = timed(lambda: db.update_many(changes))
            out["matched"] = float(n)  # type: ignore[assignment]
        finally:
            db.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    records = list(generate(args.rows, seed=1))
    backends = [args.only] if args.only else ["sqlite", "postgresql"]
    print(f"{args.rows:,} sample Persons, median of {args.runs} runs, view: {VIEW}")
    for backend in backends:
        runs = [one_run(backend, records) for _ in range(args.runs)]
        print(f"\n{backend}  (view matched {int(runs[0]['matched']):,} Persons)")
        print(f"  {'step':<22}{'median s':>10}{'min s':>9}{'rows/s':>12}")
        for step in runs[0]:
            if step == "matched":
                continue
            times = [r[step] for r in runs]
            med = statistics.median(times)
            rate = f"{args.rows / med:,.0f}" if step.endswith(("(add_many)", "(all)")) else ""
            print(f"  {step:<22}{med:>10.3f}{min(times):>9.3f}{rate:>12}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory (maxrss, whole process incl. {args.rows:,} records): {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
