"""Faults during a moderate export: throttling storms, 503s, timeouts, dropped connections and
delta resets. Repeated runs converge with no duplicate and no lost value.

The sync engine's re-run logic is simulated here (match by Customer ID from a full listing,
create the missing, update the changed), over the real store and the test server.
"""

from __future__ import annotations

from collections import Counter

from graph_support import USER, make_server, open_graph

from personsync.errors import StoreError
from personsync.graph import mapping
from personsync.graph.testserver import GraphTestServer
from personsync.graph.testserver.limits import Faults, ServerConfig
from personsync.model import Contact, Record, diff
from personsync.stores.base import GuardedStore, ItemRef, read_all

N = 240


def persons(n: int, tag: str = "") -> dict[str, Record]:
    return {
        str(i): Record(
            first_name=f"First{i}",
            last_name=f"Last{i}{tag}",
            email1=f"p{i}@example.org",
            business_phone=f"+1 212 555 {i:04d}",
            business_fax=f"+1 212 556 {i:04d}",
            business_city="Paris" if i % 2 else "Lyon",
            notes=f"note {i}{tag}",
            categories=("CRM",),
        )
        for i in range(n)
    }


def sync_run(store: GuardedStore, wanted: dict[str, Record]) -> tuple[int, int]:
    """One export run as the engine does it; returns (writes attempted, errors)."""
    by_cid: dict[str, Contact] = {}
    for got in read_all(store):
        if isinstance(got, Contact):
            by_cid.setdefault(got.customer_id, got)
    create = [Contact(r, customer_id=cid) for cid, r in wanted.items() if cid not in by_cid]
    update = [
        (by_cid[cid], Contact(r, customer_id=cid))
        for cid, r in wanted.items()
        if cid in by_cid and diff(by_cid[cid].record, r)
    ]
    results = store.create_many(create) + store.update_many(update)
    return len(results), sum(1 for r in results if not isinstance(r, ItemRef))


def converge(store: GuardedStore, wanted: dict[str, Record], runs: int = 8) -> int:
    for n in range(1, runs + 1):
        try:
            writes, errors = sync_run(store, wanted)
        except StoreError:
            continue  # the run stopped; the next one picks up
        if writes == 0 and errors == 0:
            return n
    raise AssertionError("did not converge")


def assert_folder_holds(srv: GraphTestServer, folder_id: str, wanted: dict[str, Record]) -> None:
    box = srv.mailbox(USER)
    items = [c for c in box.contacts.values() if c.folder_id == folder_id]
    cids = Counter(str((c.ext.get("string 0x3a4a") or {}).get("value")) for c in items)
    assert not [cid for cid, k in cids.items() if k > 1], "duplicates"
    assert set(cids) == set(wanted)
    for c in items:
        got = mapping.contact_from_graph(
            {**c.data, "singleValueExtendedProperties": list(c.ext.values())}
        )
        assert not diff(got.record, wanted[got.customer_id]), got.customer_id


def test_export_converges_through_a_fault_storm() -> None:
    faults = Faults(
        seed=11,
        rates={"429": 0.06, "503": 0.05, "drop_before": 0.03, "drop_after": 0.04, "slow": 0.02},
    )
    config = ServerConfig(
        budget=400,
        window=1.0,
        max_concurrent=4,
        integer_retry_after=False,
        slow_seconds=0.5,
        delta_replays=True,
    )
    # Besides the random ones, make sure each kind meets a batch of creates at least once.
    for fault in ("drop_after", "slow", "drop_before", "504", "503", "429"):
        faults.add("POST /v1.0/$batch", fault)
    srv = make_server(config, faults)
    with srv.serve():
        store = open_graph(srv, "Contacts/CRM", timeout=0.3)
        folder_id = store.inner.folder.id  # type: ignore[attr-defined]
        wanted = persons(N)
        runs = converge(store, wanted)
        assert_folder_holds(srv, folder_id, wanted)
        kinds = Counter(f for f, _ in faults.injected)
        assert {"429", "503", "drop_before", "drop_after", "slow"} <= set(kinds)
        # Lost answers of creates that had happened were found by Customer ID, not redone.
        assert runs <= 4
        # Outlook-side changes to some, then a run with the service's delta state lost.
        changed = {**wanted, **{k: v for k, v in persons(N, tag="-v2").items() if int(k) < 30}}
        srv.mailbox(USER).delta_epoch += 1
        faults.add("deltatoken", "gone")
        converge(store, changed)
        assert_folder_holds(srv, folder_id, changed)
        assert srv.api.mutable_id_requests == []


def test_relisting_after_a_storm_lists_each_contact_once() -> None:
    srv = make_server(ServerConfig(delta_replays=True, integer_retry_after=False))
    with srv.serve():
        store = open_graph(srv, timeout=0.3)
        store.create_many([Contact(r, customer_id=c) for c, r in persons(60).items()])
        list(store.list_items())
        box = srv.mailbox(USER)
        ids = list(box.contacts)
        for i in ids[:5]:
            box.delete_contact(i)
        srv.faults.rates = {"503": 0.3, "drop_before": 0.1}
        refs = list(store.list_items())
        assert len(refs) == len({r.item_id for r in refs}) == 55
        assert {r.item_id for r in refs} == set(box.contacts)
