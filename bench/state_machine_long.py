"""The engine's Hypothesis state machine (tests/sync/proof_machine.py) with a longer profile than
CI's, on every store (memory, vcf, csv) and both databases (SQLite, PostgreSQL at
127.0.0.1:5432, a schema of its own dropped afterwards), runs killed at random points included.

Run: make proof   or   .venv/bin/python -m bench.state_machine_long [EXAMPLES] [STEPS] [STORE...]
[DATABASE] (defaults 100 25, every store, both databases; STORE: memory, vcf or csv; DATABASE:
sqlite or postgresql, e.g. `20 15 memory vcf postgresql`). It stops at the first failure with
Hypothesis' shortest reproduction of it.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TESTS = Path(__file__).resolve().parent.parent / "tests"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    databases = [a for a in sys.argv[3:] if a in ("sqlite", "postgresql")]
    stores = [a for a in sys.argv[3:] if a not in databases] or ["memory", "vcf", "csv"]
    sys.path[:0] = [str(TESTS), str(TESTS / "sync")]
    from proof_decisions import TALLY, machine
    from proof_machine import folders

    from personsync.persons.repo import PersonsDB

    profile = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    schema = f"proof_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            pg = make_url(PG_SERVER).update_query_dict({"options": f"-csearch_path={schema}"})
            urls = {
                "sqlite": f"sqlite+pysqlite:///{root / 'persons.db'}",
                "postgresql": pg.render_as_string(hide_password=False),
            }
            for database, url in urls.items():
                if databases and database not in databases:
                    continue
                db = PersonsDB(url)
                try:
                    for store in stores:
                        started = time.perf_counter()
                        run_state_machine_as_test(
                            machine(db, url, folders(store, root)), settings=profile
                        )
                        print(
                            f"{store} on {database}: {examples} examples of up to {steps} "
                            f"steps, every invariant held ({time.perf_counter() - started:.0f} s)",
                            flush=True,
                        )
                        print(f"  decisions so far: {dict(sorted(TALLY.items()))}", flush=True)
                finally:
                    db.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
