"""`personsync wizard`: the seed's steps as questions; every answer can be given as an option.

Direction → contact folder → Persons view (export only) → the plan's summary → Finish → progress
→ report. With all options and --yes it asks nothing, so the same flow runs unattended.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from personsync.cli.app import app
from personsync.cli.options import DbOption, YesOption
from personsync.cli.output import console, progress
from personsync.cli.sync_cmds import MaxChangeOption, persons_db
from personsync.cli.sync_render import show_plan, show_report
from personsync.errors import UsageError
from personsync.persons.repo import ALL_PERSONS
from personsync.sync import engine
from personsync.sync.report import EXIT_CODES_HELP

EXPORT = "Transfer from personsync into Outlook"
IMPORT = "Transfer from Outlook into personsync"
DEFAULT_FOLDER = "vcf:Contacts"


def _ask(question: Any) -> Any:
    answer = question.ask()
    if answer is None:  # Ctrl-C or end of input: leave without writing anything
        console.print("cancelled: nothing was written")
        raise typer.Exit(1)
    return answer


@app.command(
    "wizard",
    help="Step by step: choose a direction, a contact folder and a view, see the plan, Finish. "
    "Every choice can be given as an option (then nothing is asked).\n\n" + EXIT_CODES_HELP,
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
    import questionary  # prompt_toolkit is slow to import: only when the wizard runs

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
    if direction not in {"export", "import"}:
        raise UsageError(f"unknown direction {direction!r}", hint="use export or import")
    if folder is None:
        folder = _ask(questionary.text("Contact folder:", default=DEFAULT_FOLDER))
    assert folder is not None
    with persons_db(db) as pdb:
        if direction == "export" and view is None:
            names = [v.name for v in pdb.views()] or [ALL_PERSONS]
            view = _ask(
                questionary.select(
                    "Which Persons?",
                    choices=names,
                    default=ALL_PERSONS if ALL_PERSONS in names else names[0],
                )
            )
        preview = engine.run(pdb, folder, direction, view=view, dry_run=True)
        show_plan(preview.plan, limit=10)
        if preview.plan.changes() == 0:
            console.print("Nothing to change.")
        if not yes and not _ask(questionary.confirm("Finish?", default=True)):
            console.print("nothing was written")
            raise typer.Exit(0)
        with progress("Synchronising", total=preview.plan.changes()) as advance:
            outcome = engine.run(
                pdb,
                folder,
                direction,
                view=view,
                yes=True,  # the person saw the plan and chose Finish
                max_share=max_change / 100,
                advance=advance,
            )
    assert outcome.report is not None
    show_report(outcome.report, outcome.plan.warnings)
    raise typer.Exit(outcome.report.exit_code)
