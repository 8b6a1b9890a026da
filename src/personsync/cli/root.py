"""The root Typer app and the one place the CLI turns errors into advice and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer._click.core import Context as ClickContext  # typer >= 0.24 vendors click

from personsync.cli.coerce import plain_options
from personsync.cli.lazy import LazyGroup
from personsync.cli.output import err, reader_gone, reset_consoles
from personsync.errors import ExitCode, PersonsyncError

VERBOSE = ("-v", "--verbose")


class GuardedGroup(LazyGroup):
    """Runs every command; a PersonsyncError becomes one readable line, a hint, an exit code."""

    def main(self, args: Sequence[str] | None = None, *a: Any, **kw: Any) -> Any:
        given = list(sys.argv[1:] if args is None else args)
        # No pydantic for plain options (cli/coerce.py).
        plain_options(self, self.context_settings.get("help_option_names", ["--help"]), given)
        return super().main(verbose_first(self, given), *a, **kw)

    def invoke(self, ctx: ClickContext) -> Any:
        reset_consoles()
        try:
            return super().invoke(ctx)
        except PersonsyncError as exc:
            report_error(exc, verbose=bool(ctx.obj and ctx.obj.get("verbose")))
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted: nothing half-written; run the command again to finish")
            sys.exit(ExitCode.INTERRUPTED)
        except BrokenPipeError:
            reader_gone()  # `personsync … | head -1` (JSON is written without Rich)


def verbose_first(group: Any, args: list[str]) -> list[str]:
    """`-v` is a root option; accept it after the command too (`personsync views show X -v`),
    unless that command has a `-v` of its own or the `-v` is another option's value."""
    command, moved, kept = group, [], []
    for n, arg in enumerate(args):
        if arg == "--":
            kept.extend(args[n:])
            break
        if (
            arg in VERBOSE
            and command is not group
            and not _own_option(command, arg)
            and not _takes_value(command, args[n - 1])
        ):
            moved.append(arg)
            continue
        kept.append(arg)
        command = getattr(command, "commands", {}).get(arg, command)
    return moved + kept


def _own_option(command: Any, token: str) -> bool:
    return any(token in getattr(p, "opts", ()) for p in getattr(command, "params", ()))


def _takes_value(command: Any, previous: str) -> bool:
    for param in getattr(command, "params", ()):
        if previous in getattr(param, "opts", ()) and not getattr(param, "is_flag", False):
            return True
    return False


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


def _version(value: bool) -> None:
    if value:
        from personsync.cli import version_line

        print(version_line())
        raise typer.Exit(ExitCode.CLEAN)


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
    # Plain help: Rich help costs 0.1 s of imports on every `--help`, and shows <bool> for flags.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show details and causes of errors (also after the command)."
    ),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the version and stop.",
    ),
) -> None:
    ctx.obj = {"verbose": verbose}
