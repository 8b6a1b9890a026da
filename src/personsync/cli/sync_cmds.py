"""CLI: export, import, sync, resolve, rules, link, unlink, runs, undo and demo."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from personsync.cli.db import open_persons
from personsync.cli.options import DbOption, DryRunOption, JsonOption, YesOption
from personsync.cli.output import console, interactive, print_json, progress, say_wait
from personsync.cli.root import app
from personsync.cli.sync_run import (
    ConflictOption,
    ContactDeletedOption,
    MaxChangeOption,
    PersonRemovedOption,
    RecreateOption,
    TestHooksOption,
    WaitOption,
    finish,
    listener,
    say_waits,
    sync,
)
from personsync.errors import EXIT_CODES_HELP, ChangeNotConfirmed, ExitCode, UsageError
from personsync.persons import ALL_PERSONS


@app.command(
    "export",
    help="Export a view of Persons into a contact folder: update linked contacts, link matching "
    "ones, create the rest. The plan is printed first; --dry-run stops there.\n\n"
    "\b\nExamples:\n"
    "  personsync export --to vcf:./contacts --dry-run\n"
    '  personsync export --view "Members in New York" --to graph:"Contacts/CRM Members"\n'
    "  personsync export --to csv:for-outlook.csv --yes --json\n\n" + EXIT_CODES_HELP,
)
def export_cmd(
    to: Annotated[str, typer.Option("--to", help="The contact folder, e.g. vcf:./contacts.")],
    view: Annotated[str, typer.Option("--view", help="The Persons view to export.")] = ALL_PERSONS,
    db: DbOption = None,
    dry_run: DryRunOption = False,
    json_out: JsonOption = False,
    yes: YesOption = False,
    max_change: MaxChangeOption = 50.0,
    wait: WaitOption = 0.0,
    on_conflict: ConflictOption = None,
    recreate: RecreateOption = False,
    on_person_removed: PersonRemovedOption = None,
    on_contact_deleted: ContactDeletedOption = None,
    test_hooks: TestHooksOption = "",
) -> None:
    code = sync(
        "export",
        to,
        db_url=db,
        view=view,
        dry_run=dry_run,
        json_out=json_out,
        yes=yes,
        max_change=max_change,
        wait=wait,
        on_conflict=on_conflict,
        recreate=recreate,
        on_person_removed=on_person_removed,
        on_contact_deleted=on_contact_deleted,
        test_hooks=test_hooks,
    )
    raise typer.Exit(code)


@app.command(
    "import",
    help="Import a contact folder into Persons: update linked Persons, link matching ones, "
    "create the rest. The plan is printed first; --dry-run stops there.\n\n"
    "\b\nExamples:\n"
    "  personsync import --from csv:outlook-export.csv --dry-run\n"
    "  personsync import --from vcf:./saved-from-outlook\n"
    "  personsync import --from graph:Contacts --json\n\n" + EXIT_CODES_HELP,
)
def import_cmd(
    source: Annotated[str, typer.Option("--from", help="The contact folder, e.g. csv:people.csv.")],
    db: DbOption = None,
    dry_run: DryRunOption = False,
    json_out: JsonOption = False,
    yes: YesOption = False,
    max_change: MaxChangeOption = 50.0,
    wait: WaitOption = 0.0,
    on_conflict: ConflictOption = None,
    on_contact_deleted: ContactDeletedOption = None,
    test_hooks: TestHooksOption = "",
) -> None:
    code = sync(
        "import",
        source,
        db_url=db,
        view=None,
        dry_run=dry_run,
        json_out=json_out,
        yes=yes,
        max_change=max_change,
        wait=wait,
        on_conflict=on_conflict,
        on_contact_deleted=on_contact_deleted,
        test_hooks=test_hooks,
    )
    raise typer.Exit(code)


FolderOption = Annotated[str, typer.Option("--folder", "-f", help="The contact folder.")]


@app.command(
    "sync",
    help="Two-way sync of a view of Persons and a contact folder, field by field against the "
    "values both sides last agreed on: a field changed on one side flows to the other; a field "
    "changed on both sides is a conflict, left as it is and listed as a decision unless "
    "--on-conflict says otherwise; e-mail addresses and categories merge as sets. New Persons "
    "of the view get contacts, new contacts get Persons (matched first).\n\n"
    "Examples:\n\n"
    "  personsync sync --view Members --folder vcf:./contacts --dry-run\n\n"
    "  personsync sync --view Members --folder graph:Contacts --on-conflict crm\n\n"
    + EXIT_CODES_HELP,
)
def sync_cmd(
    folder: FolderOption,
    view: Annotated[str, typer.Option("--view", help="The Persons view.")] = ALL_PERSONS,
    db: DbOption = None,
    dry_run: DryRunOption = False,
    json_out: JsonOption = False,
    yes: YesOption = False,
    max_change: MaxChangeOption = 50.0,
    wait: WaitOption = 0.0,
    on_conflict: ConflictOption = None,
    recreate: RecreateOption = False,
    on_person_removed: PersonRemovedOption = None,
    on_contact_deleted: ContactDeletedOption = None,
    test_hooks: TestHooksOption = "",
) -> None:
    code = sync(
        "sync",
        folder,
        db_url=db,
        view=view,
        dry_run=dry_run,
        json_out=json_out,
        yes=yes,
        max_change=max_change,
        wait=wait,
        on_conflict=on_conflict,
        recreate=recreate,
        on_person_removed=on_person_removed,
        on_contact_deleted=on_contact_deleted,
        test_hooks=test_hooks,
    )
    raise typer.Exit(code)


TakeSide = Enum("TakeSide", {"crm": "crm", "outlook": "outlook"}, type=str)


@app.command(
    "resolve",
    help="Settle conflicts left as decisions: TARGET is a run (its undecided conflicts) or a "
    "Person's id (with --folder). The chosen side's value goes to the other side; only the "
    "conflicted fields are written, journaled, and can be undone. Your choice overrides the "
    "field's rules 'fill only if empty' and 'never blank out' (the report says so); a field "
    "whose direction rule bars the side taken is refused and named, the others are settled "
    "(exit 4; exit 2 when every field asked for is refused).\n\n"
    "Examples:\n\n"
    "  personsync resolve 20261205-0412-ab12cd34 --take crm\n\n"
    "  personsync resolve 590 --folder vcf:./contacts --take outlook --field company\n\n"
    + EXIT_CODES_HELP,
)
def resolve_cmd(
    target: Annotated[str, typer.Argument(help="A run id, or a Person's id.")],
    take: Annotated[TakeSide, typer.Option("--take", help="Whose value wins: crm or outlook.")],
    field: Annotated[
        list[str] | None,
        typer.Option("--field", help="Only this field (repeatable); default: every conflict."),
    ] = None,
    folder: Annotated[
        str | None, typer.Option("--folder", "-f", help="The folder (with a Person's id).")
    ] = None,
    db: DbOption = None,
    dry_run: DryRunOption = False,
    json_out: JsonOption = False,
) -> None:
    from personsync.cli.sync_render import show_plan
    from personsync.sync import engine, resolve

    with open_persons(db) as pdb:
        engine.ensure_tables(pdb.engine)
        outcome = resolve.resolve(
            pdb,
            target,
            take.value,
            fields=field or (),
            folder=folder,
            dry_run=dry_run,
            on_event=say_waits,
        )
    if outcome.report is None:
        if json_out:
            print_json({"plan": outcome.plan.to_dict()})
        else:
            show_plan(outcome.plan)
        raise typer.Exit(ExitCode.CLEAN)
    raise typer.Exit(finish(outcome.report, json_out, outcome.plan))


rules_app = typer.Typer(
    help="A contact folder's field rules and default conflict policy.", no_args_is_help=True
)
app.add_typer(rules_app, name="rules")


@rules_app.command("show", help="The folder's rules (fields not listed: both ways, defaults).")
def rules_show(
    folder: Annotated[str, typer.Argument(help="The contact folder, e.g. vcf:./contacts.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    from personsync.cli.sync_render import show_settings
    from personsync.sync import engine, settings

    with open_persons(db) as pdb:
        engine.ensure_tables(pdb.engine)
        found = settings.load_settings(pdb.engine, folder)
    show_settings(folder, found, json_out)


@rules_app.command(
    "set",
    help="Change the folder's rule for FIELD, its default conflict policy, or what deletes "
    "do.\n\n"
    "Examples:\n\n"
    "  personsync rules set vcf:./contacts notes --direction to-outlook\n\n"
    "  personsync rules set vcf:./contacts company --allow-blank\n\n"
    "  personsync rules set vcf:./contacts --on-conflict crm\n\n"
    "  personsync rules set graph:Contacts --on-person-removed tag --crm-alone-creates",
)
def rules_set(
    folder: Annotated[str, typer.Argument(help="The contact folder.")],
    field: Annotated[str | None, typer.Argument(help="The field (docs/fields.md).")] = None,
    direction: Annotated[
        str | None,
        typer.Option("--direction", help="both, to-outlook (CRM → Outlook only), to-crm, or none."),
    ] = None,
    never_blank: Annotated[
        bool | None,
        typer.Option(
            "--never-blank/--allow-blank",
            help="Whether an emptied value may erase the other side's.",
        ),
    ] = None,
    fill_only: Annotated[
        bool | None,
        typer.Option(
            "--fill-only-if-empty/--always-update",
            help="Whether the field only fills an empty value on the other side.",
        ),
    ] = None,
    on_conflict: ConflictOption = None,
    on_person_removed: PersonRemovedOption = None,
    on_contact_deleted: ContactDeletedOption = None,
    crm_alone_creates: Annotated[
        bool | None,
        typer.Option(
            "--crm-alone-creates/--both-create",
            help="Whether only the CRM makes new records: a contact created in Outlook then "
            "makes no Person in a two-way sync (it is named once in the report). Default: both "
            "create.",
        ),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    from personsync.cli.sync_render import show_settings
    from personsync.sync import engine, settings

    with open_persons(db) as pdb:
        engine.ensure_tables(pdb.engine)
        found = settings.load_settings(pdb.engine, folder)
        if on_conflict is not None:
            found = settings.set_policy(pdb.engine, folder, on_conflict.value)
        if (on_person_removed, on_contact_deleted, crm_alone_creates) != (None, None, None):
            found = settings.set_deletes(
                pdb.engine,
                folder,
                on_person_removed=None if on_person_removed is None else on_person_removed.value,
                on_contact_deleted=(
                    None if on_contact_deleted is None else on_contact_deleted.value
                ),
                crm_alone_creates=crm_alone_creates,
            )
        if field is not None:
            found = settings.set_rule(
                pdb.engine,
                folder,
                field,
                flow=direction,
                never_blank=never_blank,
                fill_only_if_empty=fill_only,
            )
        elif direction is not None or never_blank is not None or fill_only is not None:
            raise UsageError("name the FIELD the rule is for")
    show_settings(folder, found, json_out)


@app.command(
    "link",
    help="Link a Person to a contact (a decision the engine would not guess). The next export "
    "writes the Person's values into that contact. A contact linked to another Person (or "
    "carrying its Customer ID) is taken from it only with --yes, or after you answer yes. A Person "
    "linked to another contact has its link moved (also only with --yes): that contact's "
    "Customer ID is cleared, so the Person keeps one contact.",
)
def link_cmd(
    person: Annotated[int, typer.Argument(metavar="PERSON", help="The Person's id.")],
    item: Annotated[
        str, typer.Argument(metavar="ITEM", help="The contact's item id (as the plan names it).")
    ],
    folder: FolderOption,
    db: DbOption = None,
    yes: YesOption = False,
    json_out: JsonOption = False,
) -> None:
    from personsync.sync import manual
    from personsync.sync.links import Links, set_ignored

    with open_persons(db) as pdb:
        target = pdb.get(person)
        other = Links(pdb.engine, folder).owner(item)
        if other is None:
            other = _customer_id_person(folder, item)
        changes: list[str] = []  # what the link does to others, asked about first
        if other is not None and other != person:
            changes.append(
                f"contact {item} belongs to Person {other}: linking it to Person {person} "
                f"({target.display_name}) unlinks it from Person {other}, and the next export "
                f"overwrites it with Person {person}'s values"
            )
        old = manual.linked_item(pdb, folder, person)
        if old is not None and old != item:
            # The library refuses this one without a yes (and checks it again under the lease).
            changes.append(manual.moving(person, target.display_name, old, item))
        if changes and not yes:
            what = "; and ".join(changes)
            if not (interactive() and typer.confirm(f"{what}. Go ahead?", default=False)):
                raise UsageError(what, hint="add --yes to do it; nothing was changed")
            yes = True
        try:
            report = manual.link(pdb, person, folder, item, yes=yes, on_event=say_waits)
        except ChangeNotConfirmed as exc:
            # Found under the lease only (a contact carrying the Person's id, unlinked): the
            # library wrote nothing; asked here as the question above is.
            if not (interactive() and typer.confirm(f"{exc.message}. Go ahead?", default=False)):
                raise
            report = manual.link(pdb, person, folder, item, yes=True, on_event=say_waits)
        set_ignored(pdb.engine, folder, item, False)  # paired: no longer left alone
    raise typer.Exit(finish(report, json_out))


def _customer_id_person(folder: str, item: str) -> int | None:
    """The Person a contact's Customer ID names (a link the journal does not know)."""
    from personsync.stores import open_folder
    from personsync.stores.base import get_one

    store = open_folder(folder, create=False, on_wait=say_wait)
    try:
        contact = get_one(store, item)
    finally:
        store.close()
    cid = contact.customer_id if contact is not None else ""
    return int(cid) if cid.isdigit() else None


@app.command(
    "unlink",
    help="Unlink a Person and a contact: clears the contact's Customer ID, forgets the link. "
    "A copied contact is settled with its id alone (--item ID): the Person its Customer ID "
    "names keeps its own contact. With --ignore, runs leave the contact alone from then on "
    "(a copy: no new Person is made of it); `link` pairs it with a Person again.",
)
def unlink_cmd(
    folder: FolderOption,
    person: Annotated[int | None, typer.Option("--person", help="The Person's id.")] = None,
    item: Annotated[str | None, typer.Option("--item", help="The contact's item id.")] = None,
    ignore: Annotated[
        bool,
        typer.Option("--ignore", help="Leave the contact (--item) alone in every later run."),
    ] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    from personsync.sync import manual
    from personsync.sync.engine import ensure_tables
    from personsync.sync.links import Links, set_ignored

    if person is None and item is None:
        raise UsageError("give --person or --item (or both)")
    if ignore and item is None:
        raise UsageError("--ignore needs the contact: give --item ID")
    with open_persons(db) as pdb:
        ensure_tables(pdb.engine)
        linked = item is not None and Links(pdb.engine, folder).owner(item) is not None
        if ignore and item is not None and not linked:
            # A copy: nothing to undo in the folder; the engine just stops seeing it.
            _customer_id_person(folder, item)  # the contact must exist (ItemNotFound if not)
            set_ignored(pdb.engine, folder, item, True)
            if json_out:
                print_json({"folder": folder, "ignored": item})
            else:
                console.print(
                    f"contact {item} in {folder} is left alone from now on "
                    f"(personsync link PERSON {item} --folder {folder} pairs it again)",
                    markup=False,
                )
            raise typer.Exit(ExitCode.CLEAN)
        if person is None and item is not None and not linked:
            # No link row: a copy carrying another contact's Customer ID; clear it.
            person = _customer_id_person(folder, item)
            if person is None:
                raise UsageError(
                    f"contact {item} in {folder} is linked to no Person",
                    hint=f"see it with: personsync contacts show {folder} {item}",
                )
        report = manual.unlink(pdb, folder, person_id=person, item_id=item, on_event=say_waits)
        if ignore and item is not None:
            set_ignored(pdb.engine, folder, item, True)
    raise typer.Exit(finish(report, json_out))


runs_app = typer.Typer(help="The journal: runs and what each one wrote.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


@runs_app.command("list", help="The latest runs, newest first.")
def runs_list(
    db: DbOption = None,
    json_out: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", help="How many runs.")] = 50,
) -> None:
    from personsync.cli.sync_render import run_to_dict, show_runs
    from personsync.sync import engine, journal

    with open_persons(db) as pdb:
        engine.ensure_tables(pdb.engine)
        found = journal.list_runs(pdb.engine, limit)
    if json_out:
        print_json([run_to_dict(r) for r in found])
    else:
        show_runs(found)


@runs_app.command("show", help="One run: its counts, problems and journal entries.")
def runs_show(
    run: Annotated[
        str, typer.Argument(metavar="RUN", help="The run id, e.g. 20261124-1530-ab12cd34.")
    ],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    from personsync.cli.sync_render import run_to_dict, show_run
    from personsync.sync import engine, journal

    with open_persons(db) as pdb:
        engine.ensure_tables(pdb.engine)
        info = journal.get_run(pdb.engine, run)
        entries = journal.entries(pdb.engine, run)
    if json_out:
        print_json({**run_to_dict(info), "journal": entries})
    else:
        show_run(info, entries)


@app.command(
    "undo",
    help="Undo a run: restore what it changed where the items have not changed since, and "
    "report those that could not be undone. A progress bar shows how far it is.\n\n"
    + EXIT_CODES_HELP,
)
def undo_cmd(
    run: Annotated[str, typer.Argument(metavar="RUN", help="The run id (personsync runs list).")],
    db: DbOption = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Say what would be undone and what not; change nothing."),
    ] = False,
    json_out: JsonOption = False,
    wait: WaitOption = 0.0,
    yes: YesOption = False,
    max_change: MaxChangeOption = 50.0,
) -> None:
    from personsync.sync import engine
    from personsync.sync.options import RunOptions
    from personsync.sync.undo import undo as undo_run

    options = RunOptions(dry_run=dry_run, yes=yes, max_share=max_change / 100, wait=wait)
    with open_persons(db) as pdb, progress(f"undoing {run}") as bar:
        engine.ensure_tables(pdb.engine)
        report = undo_run(pdb, run, options=options, on_event=listener(bar, json_out))
    raise typer.Exit(finish(report, json_out))


@app.command(
    "demo",
    help="The main job, for real, on a fresh SQLite database in DIR: sample Persons → export a "
    "view to a vCard folder and an Outlook CSV → change some contacts → import them back → "
    "report. Exit code 0 unless a run failed.",
)
def demo_cmd(
    directory: Annotated[Path, typer.Option("--dir", help="Where to work (emptied first).")] = Path(
        "demo"
    ),
    persons: Annotated[int, typer.Option("--persons", help="How many sample Persons.")] = 300,
) -> None:
    from personsync.cli.sync_render import show_report
    from personsync.demo import run_demo

    code = run_demo(
        directory,
        persons=persons,
        say=lambda text: console.print(text, markup=False),
        show=show_report,
        command=invocation(),
    )
    raise typer.Exit(ExitCode.FAILED if code == ExitCode.FAILED else ExitCode.CLEAN)


def invocation() -> str:
    """How to run personsync again from here: the PATH's `personsync` if that is this one, else
    the path this one was started by (`.venv/bin/personsync` after `make demo`)."""
    started = sys.argv[0]
    if started.endswith("__main__.py"):
        return f"{os.path.relpath(sys.executable)} -m personsync"
    on_path = shutil.which("personsync")
    if on_path and os.path.exists(started) and os.path.samefile(on_path, started):
        return "personsync"
    return shlex.quote(os.path.relpath(started))
