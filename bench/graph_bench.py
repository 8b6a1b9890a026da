"""Graph store benchmark: export (create_many) of 10,000 contacts and a no-op sync (one delta
round) against the Graph test server over loopback HTTP; then the same client under Outlook's
limits (scaled-down window) to see how close it gets to the allowed rate without 429s.

Run: .venv/bin/python -m bench.graph_bench [--n 10000] [--runs 3]
The server runs in the same process (a uvicorn thread), so times and memory include it.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from typing import Any

from personsync.graph.limits import Limits, RetryPolicy
from personsync.graph.testserver import GraphTestServer
from personsync.graph.testserver.limits import ServerConfig
from personsync.model import Contact, Record
from personsync.stores import open_folder

USER = "bench@example.org"
CHUNK = 500  # what the sync engine hands to create_many at a time


def contacts(n: int) -> list[Contact]:
    return [
        Contact(
            Record(
                first_name=f"First{i}",
                last_name=f"Last{i}",
                email1=f"p{i}@example.org",
                business_phone=f"+1 212 555 {i % 10000:04d}",
                business_city="Paris",
                business_fax="+1 212 556 0000",
            ),
            customer_id=str(i),
        )
        for i in range(n)
    ]


def one_run(n: int, config: ServerConfig, limits: Limits) -> dict[str, Any]:
    srv = GraphTestServer(config)
    srv.mailbox(USER)
    people = contacts(n)
    with srv.serve():
        opts = {
            "base_url": srv.graph_url,
            "token": srv.token_for(USER),
            "limits": limits,
            "retry": RetryPolicy(max_retries=10, backoff=0.2, max_backoff=5),
        }
        store = open_folder("graph:Contacts/CRM", **opts)
        t0 = time.perf_counter()
        for start in range(0, n, CHUNK):
            results = store.create_many(people[start : start + CHUNK])
            assert all(not isinstance(r, Exception) for r in results)
        export_s = time.perf_counter() - t0
        counters = store.counters.snapshot()
        graph_requests = store.counters.graph_requests
        list(store.list_items())  # the listing of the run that exported
        state = store.export_state()
        rerun = open_folder("graph:Contacts/CRM", **opts)
        rerun.import_state(state)
        list(rerun.list_items())  # reports what we wrote since the first listing
        state = rerun.export_state()
        noop = open_folder("graph:Contacts/CRM", **opts)
        noop.import_state(state)
        before = noop.counters.requests
        t1 = time.perf_counter()
        listed = list(noop.list_items())
        noop_s = time.perf_counter() - t1
        assert len(listed) == n
        return {
            "export_s": export_s,
            "noop_s": noop_s,
            "noop_requests": noop.counters.requests - before,
            "graph_requests": graph_requests,
            "batches": counters["batches"],
            "throttled": counters["throttled"],
            "waited": counters["waited"],
            "rate": graph_requests / export_s,
            "peak_window": srv.throttle.peak_window,
        }


def report(title: str, runs: list[dict[str, Any]], n: int) -> None:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(f"\n{title} ({len(runs)} runs, median)")
    print(f"  export {n} contacts: {med('export_s'):.2f} s ({n / med('export_s'):.0f} contacts/s)")
    print(
        f"  requests (as Graph counts): {med('graph_requests'):.0f} in {med('batches'):.0f} batches"
    )
    print(f"  429 answers: {med('throttled'):.0f}; waited for limits: {med('waited'):.1f} s")
    print(f"  no-op re-list: {med('noop_s') * 1000:.1f} ms, {med('noop_requests'):.0f} request(s)")
    print(f"  achieved request rate: {med('rate'):.1f} req/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limited-n", type=int, default=2400)
    parser.add_argument("--budget", type=int, default=600, help="scaled-down budget")
    parser.add_argument("--window", type=float, default=6.0, help="scaled-down window (s)")
    args = parser.parse_args()

    off = [
        one_run(args.n, ServerConfig(), Limits(budget=10**9, window=1.0)) for _ in range(args.runs)
    ]
    report("limits off (server and client)", off, args.n)

    # Outlook's limits (10,000 requests / 10 min, 4 concurrent per mailbox) with the window
    # scaled down so that the run takes seconds, not an hour.
    window = args.window
    server = ServerConfig(budget=args.budget, window=window, max_concurrent=4)
    budget = args.budget
    limited = [
        one_run(args.limited_n, server, Limits(budget=budget, window=window))
        for _ in range(args.runs)
    ]
    allowed = budget / window
    report(
        f"Outlook's limits scaled: {budget} requests / {window:.0f} s, 4 concurrent "
        f"(allowed {allowed:.1f} req/s)",
        limited,
        args.limited_n,
    )
    peak = statistics.median(r["peak_window"] for r in limited)
    print(
        f"  most requests inside one window: {peak:.0f} of {budget} allowed ({peak / budget:.0%})"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory (maxrss, client + server in one process): {peak:.0f} MB")


if __name__ == "__main__":
    main()
