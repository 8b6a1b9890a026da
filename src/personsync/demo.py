"""The main job, end to end on the embedded SQLite default (`personsync demo`).

Sample Persons → export a view to a vCard folder and to an Outlook CSV → change some contacts
(as a person would in Outlook) → import them back → report. Each step says what it does; every
number printed comes from the engine's own plans and reports.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from personsync.errors import ExitCode
from personsync.model import Contact, Record
from personsync.persons import ALL_PERSONS
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.stores.base import read_all
from personsync.sync import engine
from personsync.sync.options import RunOptions
from personsync.sync.report import RunReport

DEMO_VIEW = "Demo: Persons with a company"


def _view(db: PersonsDB, say: Callable[[str], None]) -> str:
    from personsync.errors import ViewError

    try:
        db.create_view(DEMO_VIEW, 'company != ""', "last_name, first_name", replace=True)
        return DEMO_VIEW
    except ViewError as exc:  # the filter language may differ: the demo still runs
        say(f"  (could not make the demo view: {exc}; using {ALL_PERSONS!r})")
        return ALL_PERSONS


def _edit_contacts(url: str, say: Callable[[str], None]) -> int:
    """Change a few contacts in the folder, add one, copy one: what people do in Outlook."""
    store = open_folder(url, create=False)
    try:
        contacts = [c for c in read_all(store) if isinstance(c, Contact)]
        contacts.sort(key=lambda c: c.item_id)
        edited = 0
        for c in contacts[:5]:
            new = c.record.replace({"job_title": "Head of Sales", "notes": "met at the fair"})
            store.update(c, replace(c, record=new))
            say(f"  edited {c.display_name}: job title → Head of Sales")
            edited += 1
        newcomer = Record(
            first_name="Zoë", last_name="Demo", email1="zoe.demo@example.org", company="Demo Ltd"
        )
        store.create(Contact(newcomer))
        say("  added a new contact: Zoë Demo")
        if contacts:
            copy = contacts[-1]
            store.create(replace(copy, item_id="", version=""))
            say(f"  copied the contact of {copy.display_name} (same Customer ID)")
        return edited
    finally:
        store.close()


def run_demo(
    directory: Path,
    *,
    persons: int = 300,
    say: Callable[[str], None] = print,
    show: Callable[[Any], None] | None = None,
    command: str = "personsync",
) -> int:
    """Run the main job in `directory` (made fresh); returns the last run's exit code.
    `command`: how to call personsync from here, for the closing hint."""
    from personsync.persons.sample import generate

    def report(r: RunReport | None) -> None:
        if r is None:
            return
        if show is not None:
            show(r)
        else:
            say(f"  run {r.run_id}: {r.status}, {r.counts}")

    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    vcf = f"vcf:{directory / 'contacts'}"
    csv = f"csv:{directory / 'contacts.csv'}"
    db = PersonsDB(str(directory / "personsync.db"))
    try:
        say(f"1. {persons} sample Persons into {directory / 'personsync.db'}")
        db.add_many(list(generate(persons, 7)))
        view = _view(db, say)
        say(f"2. Export the view {view!r} into the vCard folder {vcf}")
        report(engine.run(db, vcf, "export", view=view).report)
        say(f"3. Export the same view into the Outlook CSV file {csv}")
        report(engine.run(db, csv, "export", view=view).report)
        say("4. Change some contacts in the vCard folder, as one would in Outlook")
        _edit_contacts(vcf, say)
        say("5. Preview the import (--dry-run): nothing is written yet")
        preview = engine.run(db, vcf, "import", options=RunOptions(dry_run=True)).plan
        planned = ", ".join(f"{n} {kind}" for kind, n in preview.counts().items() if n)
        say(f"  plan: {planned}")
        say("6. Import the vCard folder back into the Persons")
        last = engine.run(db, vcf, "import").report
        report(last)
        say("7. Export again: only what changed is written; the no-op pairs are not even read")
        again = engine.run(db, csv, "export", view=view).report
        report(again)
        database = shlex.quote(str(directory / "personsync.db"))
        say(
            f"Done. Look around: {command} runs list --db {database}\n"
            f"      undo a run with: {command} undo RUN --db {database}"
        )
        return last.exit_code if last is not None else ExitCode.CLEAN
    finally:
        db.close()
