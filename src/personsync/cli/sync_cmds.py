"""CLI: export, import, link, unlink, runs, undo (and the wizard and the demo, registered here)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from personsync.cli.app import app
from personsync.cli.options import DbOption, DryRunOption, JsonOption, YesOption
from personsync.cli.output import console, print_json, progress
from personsync.cli.sync_render import (
    run_to_dict,
    show_plan,
    show_report,
    show_run,
    show_runs,
    show_settings,
)
from personsync.persons.repo import ALL_PERSONS
from personsync.sync import engine, journal, manual, resolve, settings
from personsync.sync.merge import POLICIES, policy
from personsync.sync.plan import Plan
from personsync.sync.report import EXIT_CODES_HELP, EXIT_FAILED, RunReport
from personsync.sync.undo import undo as undo_run

MaxChangeOption = Annotated[
    float,
    typer.Option(
        "--max-change",
        help="Mass-change guard: stop and ask when a run would create or change more than this "
        "percentage of a non-empty folder or Persons table.",
        min=0,
    ),
]


WaitOption = Annotated[
    float,
    typer.Option(
        "--wait",
        help="When another run is working on the same contact folder, wait up to this many "
        "seconds for it to finish (default: do not wait; exit code 5).",
        min=0,
    ),
]


OnConflict = Enum("OnConflict", {name: name for name in POLICIES}, type=str)  # type: ignore[misc]

TakeSide = Enum("TakeSide", {"crm": "crm", "outlook": "outlook"}, type=str)

ConflictOption = Annotated[
    OnConflict | None,
    typer.Option(
        "--on-conflict",
        help="A field changed on the side this run writes to (or on both sides) since the last "
        "sync: keep the CRM's value (crm), Outlook's (outlook), or leave both as they are for "
        "you to decide (skip; newest does the same, as no folder records when a field changed). "
        "Default: the run's source (export: crm, import: outlook). Every such field is named "
        "in the plan and the report with both values; the journal keeps the overwritten one.",
    ),
]


RecreateOption = Annotated[
    bool,
    typer.Option(
        "--recreate",
        help="Create again the contacts that were deleted in the folder (by default they stay "
        "deleted, and the report names their Persons).",
    ),
]


@contextmanager
def persons_db(url: str | None) -> Iterator[Any]:
    from personsync.persons.repo import PersonsDB

    db = PersonsDB(url)
    try:
        yield db
    finally:
        db.close()


def _confirm(json_out: bool) -> Callable[[str], bool] | None:
    if json_out or not sys.stdin.isatty():
        return None
    return lambda message: typer.confirm(f"{message}. Go ahead?", default=False)


def sync(
    direction: str,
    folder: str,
    *,
    db_url: str | None,
    view: str | None,
    dry_run: bool,
    json_out: bool,
    yes: bool,
    max_change: float,
    wait: float = 0.0,
    on_conflict: OnConflict | None = None,
    recreate: bool = False,
) -> int:
    """Plan, print the plan, apply, print the report; returns the exit code."""

    doing = {"export": "exporting", "import": "importing", "sync": "syncing"}[direction]
    with persons_db(db_url) as db, progress(doing) as advance:

        def on_plan(plan: Plan) -> None:
            if not json_out:
                show_plan(plan, limit=50 if dry_run else 20)
            advance(0, total=plan.changes())

        outcome = engine.run(
            db,
            folder,
            direction,
            view=view,
            dry_run=dry_run,
            yes=yes,
            max_share=max_change / 100,
            confirm=_confirm(json_out),
            on_plan=on_plan,
            advance=advance,
            wait=wait,
            on_conflict=policy(None if on_conflict is None else on_conflict.value),
            recreate=recreate,
        )
    if outcome.report is None:
        if json_out:
            print_json({"plan": outcome.plan.to_dict()})
        return 0
    return _done(outcome.report, json_out, outcome.plan)


def _done(report: RunReport, json_out: bool, plan: Plan | None = None) -> int:
    if json_out:
        data: dict[str, Any] = {"report": report.to_dict()}
        if plan is not None:
            data["plan"] = {"counts": plan.counts()}
        print_json(data)
    else:
        show_report(report, plan.warnings if plan is not None else ())
    return report.exit_code


@app.command(
    "export",
    help="Export a view of Persons into a contact folder: update linked contacts, link matching "
    "ones, create the rest. The plan is printed first; --dry-run stops there.\n\n"
    "Examples:\n\n"
    "  personsync export --to vcf:./contacts --dry-run\n\n"
    '  personsync export --view "Members in New York" --to graph:"Contacts/CRM Members"\n\n'
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
    )
    raise typer.Exit(code)


@app.command(
    "import",
    help="Import a contact folder into Persons: update linked Persons, link matching ones, "
    "create the rest. The plan is printed first; --dry-run stops there.\n\n"
    "Examples:\n\n"
    "  personsync import --from csv:outlook-export.csv --dry-run\n\n"
    "  personsync import --from vcf:./saved-from-outlook\n\n"
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
    )
    raise typer.Exit(code)


@app.command("link", help="Link a Person to a contact (a decision the engine would not guess).")
def link_cmd(
    person: Annotated[int, typer.Argument(help="The Person's id.")],
    item: Annotated[str, typer.Argument(help="The contact's item id (as the plan names it).")],
    folder: FolderOption,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    with persons_db(db) as pdb:
        report = manual.link(pdb, person, folder, item)
    raise typer.Exit(_done(report, json_out))


@app.command("unlink", help="Unlink a Person and a contact: clears the contact's Customer ID.")
def unlink_cmd(
    folder: FolderOption,
    person: Annotated[int | None, typer.Option("--person", help="The Person's id.")] = None,
    item: Annotated[str | None, typer.Option("--item", help="The contact's item id.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    if person is None and item is None:
        raise typer.BadParameter("give --person or --item (or both)")
    with persons_db(db) as pdb:
        report = manual.unlink(pdb, folder, person_id=person, item_id=item)
    raise typer.Exit(_done(report, json_out))


runs_app = typer.Typer(help="The journal: runs and what each one wrote.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


@runs_app.command("list", help="The latest runs, newest first.")
def runs_list(
    db: DbOption = None,
    json_out: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", help="How many runs.")] = 50,
) -> None:
    with persons_db(db) as pdb:
        engine.ensure_tables(pdb.engine)
        found = journal.list_runs(pdb.engine, limit)
    if json_out:
        print_json([run_to_dict(r) for r in found])
    else:
        show_runs(found)


@runs_app.command("show", help="One run: its counts, problems and journal entries.")
def runs_show(
    run: Annotated[str, typer.Argument(help="The run id, e.g. 20261124-1530-ab12.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    with persons_db(db) as pdb:
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
    "report those that could not be undone.\n\n" + EXIT_CODES_HELP,
)
def undo_cmd(
    run: Annotated[str, typer.Argument(help="The run id (personsync runs list).")],
    db: DbOption = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Say what would be undone and what not; change nothing."),
    ] = False,
    json_out: JsonOption = False,
    wait: WaitOption = 0.0,
) -> None:
    with persons_db(db) as pdb, progress("undoing") as advance:
        engine.ensure_tables(pdb.engine)
        report = undo_run(pdb, run, wait=wait, dry_run=dry_run, advance=advance)
    raise typer.Exit(_done(report, json_out))


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
    from personsync.demo import run_demo

    code = run_demo(
        directory,
        persons=persons,
        say=lambda text: console.print(text, markup=False),
        show=show_report,
    )
    raise typer.Exit(EXIT_FAILED if code == EXIT_FAILED else 0)


def _register_extras() -> None:
    # The wizard and the demo live in their own modules; importing them registers them.
    from personsync.cli import sync_wizard  # noqa: F401


_register_extras()


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
    with persons_db(db) as pdb:
        engine.ensure_tables(pdb.engine)
        found = settings.load_settings(pdb.engine, folder)
    show_settings(folder, found, json_out)


@rules_app.command(
    "set",
    help="Change the folder's rule for FIELD, or its default conflict policy.\n\n"
    "Examples:\n\n"
    "  personsync rules set vcf:./contacts notes --direction to-outlook\n\n"
    "  personsync rules set vcf:./contacts company --allow-blank\n\n"
    "  personsync rules set vcf:./contacts --on-conflict crm",
)
def rules_set(
    folder: Annotated[str, typer.Argument(help="The contact folder.")],
    field: Annotated[str | None, typer.Argument(help="The field (personsync fields).")] = None,
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
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    with persons_db(db) as pdb:
        engine.ensure_tables(pdb.engine)
        found = settings.load_settings(pdb.engine, folder)
        if on_conflict is not None:
            found = settings.set_policy(pdb.engine, folder, on_conflict.value)
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
            raise typer.BadParameter("name the FIELD the rule is for")
    show_settings(folder, found, json_out)


@app.command(
    "resolve",
    help="Settle conflicts left as decisions: TARGET is a run (its undecided conflicts) or a "
    "Person's id (with --folder). The chosen side's value goes to the other side; the pair "
    "is synced both ways, journaled, and can be undone.\n\n"
    "Examples:\n\n"
    "  personsync resolve 20261205-0412-ab12 --take crm\n\n"
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
    with persons_db(db) as pdb:
        engine.ensure_tables(pdb.engine)
        outcome = resolve.resolve(
            pdb,
            target,
            take.value,
            fields=field or (),
            folder=folder,
            dry_run=dry_run,
        )
    if outcome.report is None:
        if json_out:
            print_json({"plan": outcome.plan.to_dict()})
        else:
            show_plan(outcome.plan)
        raise typer.Exit(0)
    raise typer.Exit(_done(outcome.report, json_out, outcome.plan))
