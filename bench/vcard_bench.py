"""vCard at scale: the codec and the `vcf:` / `vcf-file:` stores on 100,000 contacts.

Run: .venv/bin/python -m bench.vcard_bench [--cards N] [--runs R] [--only codec,folder,file]
Prints the median of R runs (cards per second) and the peak Python memory (tracemalloc) of one
extra traced run; tracing slows that run, so it is not timed.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

from bench import common
from personsync.formats.vcard import read_cards, write_cards
from personsync.model import Contact, Record
from personsync.stores import open_folder
from personsync.stores.base import read_all


def make_contacts(n: int) -> list[Contact]:
    out = []
    for i in range(n):
        record = Record(
            prefix="Dr." if i % 10 == 0 else "",
            first_name=f"Person{i}",
            last_name=f"Müller-{i % 977}",
            company=f"Company {i % 5000}, Inc.",
            department="Sales; East",
            job_title="Engineer",
            email1=f"person{i}@example.org",
            email2=f"p{i}@home.example" if i % 2 else "",
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
        out.append(Contact(record, item_id=f"bench-{i:06d}", customer_id=str(i + 1)))
    return out


def measure(label: str, n: int, runs: int, work: Callable[[], object]) -> None:
    common.measure(label, n, runs, work, "cards")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="codec,folder,file", help="parts to run")
    args = parser.parse_args()
    n, runs = args.cards, args.runs
    parts = set(args.only.split(","))
    contacts = make_contacts(n)
    tmp = Path(tempfile.mkdtemp(prefix="vcard-bench-"))
    try:
        for version in ("3.0", "2.1") if "codec" in parts else ():
            data = write_cards(contacts, version)
            measure(f"codec write {version}", n, runs, lambda v=version: write_cards(contacts, v))
            label = f"codec read {version} ({len(data) >> 20} MiB)"
            measure(label, n, runs, lambda d=data: sum(1 for _ in read_cards(d, "bench")))

        def folder_create() -> None:
            shutil.rmtree(tmp / "folder", ignore_errors=True)
            store = open_folder(f"vcf:{tmp / 'folder'}")
            store.create_many(contacts)
            store.close()

        def folder_update() -> None:
            store = open_folder(f"vcf:{tmp / 'folder'}")
            changed = [c for c in read_all(store) if isinstance(c, Contact)][: n // 100]
            started = time.perf_counter()
            store.update_many([(c, replace(c, customer_id=c.customer_id + "x")) for c in changed])
            print(f"  update_many of {len(changed):,}: {time.perf_counter() - started:.2f} s")

        if "folder" in parts:
            measure("vcf: folder create (one file each)", n, runs, folder_create)
            folder = open_folder(f"vcf:{tmp / 'folder'}")
            measure("vcf: folder list (no parsing)", n, runs, lambda: list(folder.list_items()))
            measure("vcf: folder read all", n, runs, lambda: sum(1 for _ in read_all(folder)))
            measure("vcf: folder read all + update 1 %", n, 1, folder_update)
        if "file" not in parts:
            return

        def file_create() -> None:
            (tmp / "cards.vcf").unlink(missing_ok=True)
            store = open_folder(f"vcf-file:{tmp / 'cards.vcf'}")
            for contact in contacts:  # one by one: batched rewrites keep this linear
                store.create(contact)
            store.close()

        measure("vcf-file: create one by one", n, runs, file_create)
        file_url = f"vcf-file:{tmp / 'cards.vcf'}"
        measure("vcf-file: open + list", n, runs, lambda: list(open_folder(file_url).list_items()))
        single = open_folder(f"vcf-file:{tmp / 'cards.vcf'}")
        measure("vcf-file: read all", n, runs, lambda: sum(1 for _ in read_all(single)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
