"""`personsync wizard`: the seed's steps as questions; every answer can be given as an option.

Direction → contact folder → Persons view (export only) → the plan's summary → Finish → progress
→ report. Given every choice as an option it asks nothing and runs as `export`/`import` do, so
the same flow runs unattended (the mass-change guard then stops a large run with exit code 3).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from personsync.cli.db import open_persons
from personsync.cli.options import DbOption, YesOption
from personsync.cli.output import console, err, progress
from personsync.cli.root import app
from personsync.cli.sync_run import MaxChangeOption, finish, listener, sync
from personsync.errors import EXIT_CODES_HELP, ExitCode, UsageError
from personsync.persons import ALL_PERSONS

EXPORT = "Transfer from personsync into Outlook"
IMPORT = "Transfer from Outlook into personsync"
DEFAULT_FOLDER = "vcf:Contacts"
ANOTHER = "Another folder…"


def _ask(question: Any) -> Any:
    try:
        answer = question.unsafe_ask()
    except KeyboardInterrupt:
        err.print("cancelled: nothing was written")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except EOFError:  # end of input: nobody is there to answer
        err.print("cancelled (no more input): nothing was written")
        raise typer.Exit(ExitCode.FAILED) from None
    return answer


def existing_folders() -> list[str]:
    """Contact folders here (sub-folders of .vcf files, .csv files) to offer first."""
    from personsync.errors import PersonsyncError
    from personsync.stores import list_folders

    found: list[str] = []
    for url in ("vcf:.", "csv:."):
        try:
            found += [f for f in list_folders(url) if f != "vcf:."]
        except PersonsyncError:
            continue
    return found


def _folder(questionary: Any) -> str:
    offered = existing_folders()
    if offered:
        chosen = _ask(questionary.select("Contact folder:", choices=[*offered, ANOTHER]))
        if chosen != ANOTHER:
            return str(chosen)
    return str(_ask(questionary.text("Contact folder:", default=DEFAULT_FOLDER)))


@app.command(
    "wizard",
    help="Step by step: choose a direction, a contact folder and a view, see the plan, Finish. "
    "Given every choice as an option (--direction, --folder, and --view for an export) it asks "
    "nothing and runs like export or import, also without a terminal.\n\n" + EXIT_CODES_HELP,
)
def wizard_cmd(
    direction: Annotated[
        str | None, typer.Option("--direction", help="export (into Outlook) or import.")
    ] = None,
    folder: Annotated[str | None, typer.Option("--folder", help="The contact folder.")] = None,
    view: Annotated[str | None, typer.Option("--view", help="The Persons view (export).")] = None,
    db: DbOption = None,
    yes: YesOption = False,
    max_change: MaxChangeOption = 50.0,
) -> None:
    if direction is not None and direction not in {"export", "import"}:
        raise UsageError(f"unknown direction {direction!r}", hint="use export or import")
    if direction and folder and (view or direction == "import"):
        code = sync(
            direction,
            folder,
            db_url=db,
            view=view,
            dry_run=False,
            json_out=False,
            yes=yes,
            max_change=max_change,
            plan_rows=10,
        )
        raise typer.Exit(code)
    import questionary  # prompt_toolkit is slow to import: only when the wizard asks

    if direction is None:
        direction = _ask(
            questionary.select(
                "What do you want to do?",
                choices=[
                    questionary.Choice(EXPORT, value="export"),
                    questionary.Choice(IMPORT, value="import"),
                ],
            )
        )
    if folder is None:
        folder = _folder(questionary)
    assert direction is not None and folder is not None
    _interactive(direction, folder, view, db, yes, max_change, questionary)


def _interactive(
    direction: str,
    folder: str,
    view: str | None,
    db: str | None,
    yes: bool,
    max_change: float,
    questionary: Any,
) -> None:
    from personsync.cli.sync_render import show_plan
    from personsync.stores.writable import check_writable
    from personsync.sync import engine
    from personsync.sync.options import RunOptions

    with open_persons(db) as pdb:
        if direction == "export" and view is None:
            names = [v.name for v in pdb.views()] or [ALL_PERSONS]
            view = _ask(
                questionary.select(
                    "Which Persons?",
                    choices=names,
                    default=ALL_PERSONS if ALL_PERSONS in names else names[0],
                )
            )
        preview = engine.run(pdb, folder, direction, view=view, options=RunOptions(dry_run=True))
        show_plan(preview.plan, limit=10)
        if preview.plan.changes() == 0:
            console.print("Nothing to change.")
        if not yes and not _ask(questionary.confirm("Finish?", default=True)):
            console.print("nothing was written")
            raise typer.Exit(ExitCode.CLEAN)
        check_writable(folder)
        with progress("Synchronising", total=preview.plan.changes()) as bar:
            # yes: the person saw the plan and chose Finish
            options = RunOptions(yes=True, max_share=max_change / 100)
            outcome = engine.run(
                pdb,
                folder,
                direction,
                view=view,
                options=options,
                on_event=listener(bar, json_out=True),
            )
    assert outcome.report is not None
    raise typer.Exit(finish(outcome.report, False, outcome.plan))
