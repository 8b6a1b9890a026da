"""The web console at scale: with 100,000 Persons, how fast a view's page and a page of a
100,000-action plan render, and how often progress events arrive during a 100,000-contact run.

Run: .venv/bin/python -m bench.web_bench [--rows N] [--runs R] [--backend sqlite|postgresql]
     [--old-view-pages FILE]

Pages are requested in-process through the ASGI app (Starlette's TestClient: no socket, so the
time is the server's: routing, the database, the template), R times each; medians are printed.
A view's sorted ids are kept between pages while no Person changes (web/view_pages.py): the
"after a change" lines change a Person before every request, so each mends the kept order (or
sorted it afresh, before the mending); the others page through a kept order. The Persons are
loaded, then marked as written an hour ago (as a database is, past the first minute after an
import: a change within that minute sorts afresh). `--old-view-pages FILE` (an older
web/view_pages.py, e.g. `git show main:src/personsync/web/view_pages.py > old.py`) times the
"after a change" pages of that code and of this one alternately, request by request.
The target of issue 17: each page ≤ 300 ms (median), an event at least every second.
"""

from __future__ import annotations

import argparse
import itertools
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text, update

from bench.persons_bench import fresh_url
from personsync.persons.repo import PersonsDB
from personsync.persons.sample import generate
from personsync.persons.schema import persons


def timed(
    client: object, url: str, runs: int, before: Callable[[int], None] | None = None
) -> tuple[float, list[float]]:
    times = []
    for i in range(runs):
        if before is not None:
            before(i)
        start = time.perf_counter()
        got = client.get(url)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - start)
        assert got.status_code == 200, (url, got.status_code, got.text[:500])
    return statistics.median(times), times


def report(
    label: str, url: str, client: object, runs: int, before: Callable[[int], None] | None = None
) -> None:
    median, times = timed(client, url, runs, before)
    verdict = "ok" if median <= 0.3 else "OVER 300 ms"
    print(
        f"{label:<46} median {median * 1000:6.0f} ms  {verdict}  "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f} ms)",
        flush=True,
    )


def compare_old(path: str, client: Any, change: Callable[[int], None], runs: int) -> None:
    """The "after a change" pages with the ViewPages of `path` and with this one, alternately."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("old_view_pages", path)
    assert spec is not None and spec.loader is not None
    old_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old_module)
    web = client.app.state.web
    kinds = {"old": old_module.ViewPages(), "new": web.view_pages}
    for url in ("/views/Members", "/views/Members?page=1000"):
        times: dict[str, list[float]] = {"old": [], "new": []}
        for kind in kinds.values():  # each keeps an order first, as a console that has served
            web.view_pages = kind
            client.get(url)
        for i in range(runs):
            for name, kind in kinds.items():
                web.view_pages = kind
                change(2 * i + (name == "new"))
                start = time.perf_counter()
                assert client.get(url).status_code == 200
                times[name].append(time.perf_counter() - start)
        old, new = (statistics.median(times[k]) for k in ("old", "new"))
        print(
            f"{url} after a change, interleaved: old {old * 1000:.0f} ms, new {new * 1000:.0f} ms"
            f" (new/old {new / old:.2f})",
            flush=True,
        )
    web.view_pages = kinds["new"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--old-view-pages", default="")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from personsync.web.app import create_app

    with tempfile.TemporaryDirectory() as tmp, fresh_url(args.backend) as url:
        start = time.perf_counter()
        with PersonsDB(url) as db:
            db.add_many(list(generate(args.rows, seed=1)))
            db.create_view("Members", "company is not empty", "last_name, first_name")
            with db.engine.begin() as conn:  # loaded an hour ago (see the docstring)
                conn.execute(
                    update(persons).values(updated_at=datetime.now(UTC) - timedelta(hours=1))
                )
            if args.backend == "postgresql":
                with db.engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
        print(f"{args.rows:,} Persons on {args.backend} in {time.perf_counter() - start:.1f} s")
        with TestClient(create_app(url, schedule=False)) as client, PersonsDB(url) as db:
            last = args.rows // 50

            def change(i: int) -> None:
                # A Person changes before each request: the view's order is sorted afresh.
                db.update(1, {"nickname": f"bench {i}"})

            if args.old_view_pages:
                compare_old(args.old_view_pages, client, change, args.runs)
            report(
                "Members, page 1 after a change (order mended)",
                "/views/Members",
                client,
                args.runs,
                change,
            )
            report(
                "Members, page 1,000 after a change",
                "/views/Members?page=1000",
                client,
                args.runs,
                change,
            )
            report("All Persons, page 1", "/views/All Persons", client, args.runs)
            report(
                f"All Persons, page {last:,} (the last)",
                f"/views/All Persons?page={last}",
                client,
                args.runs,
            )
            report("Members (filter + sort), page 1", "/views/Members", client, args.runs)
            report("Members, page 1,000", "/views/Members?page=1000", client, args.runs)
            report("All Persons, search 'garcia'", "/views/All Persons?q=garcia", client, args.runs)

            page = client.get("/settings").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token
            folder = f"vcf:{tmp}/contacts"
            start = time.perf_counter()
            made = client.post(
                "/sync/plan",
                data={
                    "csrf_token": token.group(1),
                    "direction": "export",
                    "folder": folder,
                    "view": "All Persons",
                    "max_change": "50",
                },
                follow_redirects=False,
            )
            assert made.status_code == 303, made.text[:500]
            plan = made.headers["location"]
            print(
                f"the plan of {args.rows:,} new contacts made in "
                f"{time.perf_counter() - start:.1f} s (the engine's dry run; not a page render)"
            )
            report("plan, page 1", plan, client, args.runs)
            report(f"plan, page {last:,} (the last)", f"{plan}?page={last}", client, args.runs)
            report(
                "plan, new contacts only, page 1,000",
                f"{plan}?kind=create-contact&page=1000",
                client,
                args.runs,
            )

            finish = client.post(
                plan + "/finish", data={"csrf_token": token.group(1)}, follow_redirects=False
            )
            assert finish.status_code == 303
            arrivals: list[float] = []
            done: list[int] = []
            start = time.perf_counter()
            with client.stream("GET", finish.headers["location"] + "/events") as stream:
                for line in stream.iter_lines():
                    if line.startswith("event: "):
                        arrivals.append(time.perf_counter())
                    found = re.search(r"Writing ([\d,]+) of", line)
                    if found:
                        done.append(int(found.group(1).replace(",", "")))
            gaps = [b - a for a, b in itertools.pairwise(arrivals)]
            print(
                f"run of {args.rows:,} contacts: {time.perf_counter() - start:.1f} s, "
                f"{len(arrivals)} progress events, gap median {statistics.median(gaps):.2f} s, "
                f"max {max(gaps):.2f} s ({'ok' if max(gaps) <= 1.0 else 'OVER 1 s'}); "
                f"{len(set(done))} distinct counts shown, last {max(done, default=0):,}",
                flush=True,
            )


if __name__ == "__main__":
    main()
