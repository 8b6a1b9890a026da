"""Outlook CSV at scale: codec read/write and the `csv:` store on 100,000 contacts.

Run: .venv/bin/python -m bench.csv_bench [--rows N] [--runs R]
Prints the median of R runs (rows per second) and the peak Python memory of one traced run.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

from bench import common
from personsync.formats import outlook_csv as codec
from personsync.model import Contact, Record
from personsync.stores import open_folder
from personsync.stores.base import read_all


def make_contacts(n: int) -> list[Contact]:
    out = []
    for i in range(n):
        record = Record(
            first_name=f"Person{i}",
            last_name=f"Müller-{i % 977}",
            company=f"Company {i % 5000}, Inc.",
            job_title="Engineer",
            email1=f"person{i}@example.org",
            business_phone=f"+1 212 555 {i % 10000:04d}",
            mobile_phone=f"+44 7700 9{i % 100000:05d}",
            business_street=f"{i} Main Street\nSuite {i % 300}",
            business_city="Springfield",
            business_postal_code=f"{10000 + i % 89999}",
            business_country="United States",
            birthday=date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
            notes="Met at the fair.\nLikes tea; not coffee." if i % 3 == 0 else "",
            categories=("Customers", "VIP") if i % 7 == 0 else (),
        )
        out.append(Contact(record, customer_id=str(i + 1)))
    return out


def measure(label: str, n: int, runs: int, work: Callable[[], object]) -> None:
    common.measure(label, n, runs, work, "rows")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    n, runs = args.rows, args.runs
    contacts = make_contacts(n)
    data = codec.write(contacts)
    print(f"{n:,} contacts, file {len(data) / 2**20:.1f} MiB")
    measure("codec: write (contacts → bytes)", n, runs, lambda: codec.write(contacts))
    measure("codec: read (bytes → contacts)", n, runs, lambda: codec.read(data))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        path.write_bytes(data)
        url = f"csv:{path}"

        def open_and_list() -> object:
            return list(open_folder(url).list_items())

        def read_every_contact() -> object:
            return sum(1 for _ in read_all(open_folder(url)))

        measure("store: open + list_items", n, runs, open_and_list)
        measure("store: open + read every contact", n, runs, read_every_contact)

        counter = iter(range(10**9))

        def create_many() -> object:
            store = open_folder(f"csv:{Path(tmp) / f'many{next(counter)}.csv'}")
            results = store.create_many(contacts)
            store.close()
            return results

        def single_creates() -> object:
            store = open_folder(f"csv:{Path(tmp) / f'single{next(counter)}.csv'}")
            for contact in contacts:
                store.create(contact)
            store.close()
            return store

        measure("store: create_many (one batch)", n, runs, create_many)
        measure("store: create one by one", n, runs, single_creates)

        def update_one_tenth() -> object:
            store = open_folder(url)
            got = [c for c in read_all(store) if isinstance(c, Contact)][: n // 10]
            pairs = [
                (c, Contact(c.record.replace({"job_title": "Lead"}), extra=c.extra)) for c in got
            ]
            results = store.update_many(pairs)
            store.close()
            return results

        measure("store: read all + update_many of 10%", n, runs, update_one_tenth)


if __name__ == "__main__":
    main()
