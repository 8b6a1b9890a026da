"""`personsync persons import`: CSV rows into Persons as a journaled run, safe to re-run.

Each row is first matched against the Persons already there, as the sync engine matches a
contact: by e-mail, then by name with a phone or the company. A row that matches one Person is
already in (nothing is added twice when a fixed file is imported again); a row that matches
several, or a Person that several rows match, is reported and not added. The Persons added are
journaled in the same transaction, so `personsync undo RUN` takes the import back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from personsync.persons.csv_import import CsvRows

if TYPE_CHECKING:
    from personsync.persons.repo import PersonsDB

COMMAND = "persons import"


@dataclass(slots=True)
class ImportResult:
    added: list[tuple[int, int]] = field(default_factory=list)  # (line, new Person id)
    new: list[int] = field(default_factory=list)  # lines that would be added (dry run too)
    present: list[tuple[int, int, str]] = field(default_factory=list)  # (line, Person, how)
    unclear: list[tuple[int, str]] = field(default_factory=list)  # (line, why not added)
    run_id: str = ""

    def ids(self) -> list[int]:
        return [pid for _, pid in self.added]


def folder_of(path: Path) -> str:
    """How the journal names the file an import came from."""
    return f"file:{path.resolve()}"


def import_rows(
    db: PersonsDB,
    rows: CsvRows,
    path: Path,
    *,
    dry_run: bool = False,
    on_chunk: Callable[[int], None] | None = None,
) -> ImportResult:
    """Match the rows to the Persons, then (unless `dry_run`) add the new ones as one run."""
    from personsync.sync.match import MatchIndex, resolve

    out = ImportResult()
    index: MatchIndex[int] = MatchIndex()
    for person in db.iter_persons(times=False):
        index.add(person.id, person.record)
    found = resolve(enumerate(rows.records), index, frozenset())
    for n, line in enumerate(rows.lines):
        if n in found.matched:
            how, pid = found.matched[n]
            out.present.append((line, pid, how))
        elif n in found.ambiguous:
            how, pids = found.ambiguous[n]
            listed = ", ".join(str(p) for p in pids)
            out.unclear.append((line, f"matches Persons {listed} by {how}; not added"))
        elif n in found.contested:
            how, pid, rivals = found.contested[n]
            others = ", ".join(str(rows.lines[r]) for r in rivals if r != n)
            out.unclear.append(
                (line, f"matches Person {pid} by {how}, as line(s) {others} do; not added")
            )
        else:
            out.new.append(n)
    if dry_run or not out.new:
        return out
    _add(db, rows, path, out, on_chunk)
    return out


def _add(
    db: PersonsDB,
    rows: CsvRows,
    path: Path,
    out: ImportResult,
    on_chunk: Callable[[int], None] | None,
) -> None:
    from personsync.sync.engine import ensure_tables
    from personsync.sync.journal import Entry, Journal
    from personsync.sync.report import RunReport
    from personsync.sync.values import record_to_dict

    ensure_tables(db.engine)
    journal = Journal(db.engine, COMMAND, folder_of(path))
    report = RunReport(journal.run_id, COMMAND, journal.folder)
    records = [rows.records[n] for n in out.new]
    try:
        # One transaction: the Persons and their journal entries exist together or not at all.
        with db.engine.begin() as conn:
            ids = db.add_many(records, on_chunk=on_chunk, conn=conn)
            journal.done(
                conn,
                [
                    Entry("person", "create", None, pid, {"record": record_to_dict(r)})
                    for pid, r in zip(ids, records, strict=True)
                ],
                [{"person_id": pid, "version": db.new_version} for pid in ids],
            )
    except Exception:
        report.errors.append({"name": "", "error": "the import failed: nothing was added"})
        journal.finish(report.status, report.counts, report.problems())
        raise
    out.added = [(rows.lines[n], pid) for n, pid in zip(out.new, ids, strict=True)]
    out.run_id = journal.run_id
    report.count("create-person", len(ids))
    report.count("unchanged", len(out.present))
    report.skipped += [{"line": line, "reason": why} for line, why in out.unclear]
    report.skipped += [{"line": p.line, "reason": p.message} for p in rows.problems]
    journal.finish(report.status, report.counts, report.problems())
