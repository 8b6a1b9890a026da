"""The root Typer app and the one place the CLI turns errors into advice."""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer._click.core import Context as ClickContext  # typer >= 0.24 vendors click
from typer.core import TyperGroup

from personsync.cli.output import err
from personsync.errors import PersonsyncError


class GuardedGroup(TyperGroup):
    """Runs every command; a PersonsyncError becomes one readable line, a hint, an exit code."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except PersonsyncError as exc:
            report_error(exc, verbose=bool(ctx.obj and ctx.obj.get("verbose")))
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err.print(
                "[red]interrupted[/red]: nothing half-written; run the command again to finish"
            )
            sys.exit(130)


def report_error(exc: PersonsyncError, *, verbose: bool) -> None:
    err.print(f"[bold red]error:[/bold red] {escape(exc.message)}", highlight=False)
    if exc.hint:
        err.print(f"[yellow]hint:[/yellow] {escape(exc.hint)}", highlight=False)
    if verbose:
        if exc.detail:
            err.print(escape(exc.detail), highlight=False)
        cause = exc.__cause__
        if cause is not None:
            err.print(f"caused by {type(cause).__name__}: {escape(str(cause))}", highlight=False)
    elif exc.detail or exc.__cause__ is not None:
        err.print("(run with --verbose for details)", style="dim", highlight=False)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


app = typer.Typer(
    cls=GuardedGroup,
    name="personsync",
    help=(
        "Keep your Persons records and Outlook contacts in step.\n\n"
        "Export a view of Persons into a contact folder, import a contact folder into Persons, "
        "preview every change first (--dry-run), and undo a run. Contact folders are named like "
        "vcf:./contacts, vcf-file:people.vcf, csv:contacts.csv or graph:Contacts."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show details and causes of errors."
    ),
) -> None:
    ctx.obj = {"verbose": verbose}
