"""CLI: `personsync views list|create|show|delete`: named, saved filters over the Persons."""

from __future__ import annotations

from typing import Annotated

import typer

from personsync.cli.db import open_persons
from personsync.cli.options import DbOption, JsonOption
from personsync.cli.output import console, print_json
from personsync.cli.root import app
from personsync.persons import ALL_PERSONS
from personsync.persons.filter_fields import ALIASES

_ALIASES = "; ".join(f"{a} = any of {', '.join(cols)}" for a, cols in ALIASES.items())

views_app = typer.Typer(
    help=(
        "Views: named, saved filters over the Persons (the export and import commands take "
        f"--view NAME). {ALL_PERSONS!r} is built in.\n\n"
        "Filter language:  FIELD OP VALUE, joined with and / or / not and parentheses.\n\n"
        "OP: = != < <= > >= contains startswith endswith, in [v1, v2], not in [...], "
        'is empty, is not empty. Text compares case-insensitively; dates as "YYYY-MM-DD".\n\n'
        "Fields: every Person field (see docs/fields.md), id, created_at, updated_at, and "
        f"aliases: {_ALIASES}.\n\n"
        'Example:  state = "NY" and (last_name startswith "A" or company contains "Bank") '
        "and email is not empty"
    ),
    no_args_is_help=True,
)
app.add_typer(views_app, name="views")

NameArg = Annotated[
    str, typer.Argument(metavar="NAME", help="The view's name.", show_default=False)
]


@views_app.command("list")
def list_views(db: DbOption = None, json_out: JsonOption = False) -> None:
    """List the views with their filter, sort and how many Persons each holds.

    Example:  personsync views list --json
    """
    from rich.table import Table
    from rich.text import Text

    with open_persons(db) as pdb:
        rows = [(v, pdb.count(v.name)) for v in pdb.views()]
    if json_out:
        print_json(
            [
                {
                    "name": v.name,
                    "filter": v.filter,
                    "sort": v.sort,
                    "builtin": v.builtin,
                    "count": n,
                }
                for v, n in rows
            ]
        )
        return
    table = Table()
    for title in ("View", "Filter", "Sort", "Persons"):
        table.add_column(title, justify="right" if title == "Persons" else "left")
    for view, n in rows:
        table.add_row(
            Text(view.name), Text(view.filter or "(all)"), Text(view.sort or "id"), str(n)
        )
    console.print(table)


@views_app.command("create")
def create(
    name: NameArg,
    filter_: Annotated[
        str,
        typer.Option(
            "--filter", "-f", help='The filter, e.g. city = "Paris" and email is not empty.'
        ),
    ] = "",
    sort: Annotated[
        str, typer.Option("--sort", help="Fields to order by, e.g. last_name, first_name desc.")
    ] = "",
    replace: Annotated[
        bool, typer.Option("--replace", help="Change the view if it already exists.")
    ] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Save a view (the filter and sort are checked first; a mistake is shown with its position).

    \b
    Examples:
      personsync views create "New York" --filter 'state = "NY"' --sort "last_name, first_name"
      personsync views create Banks -f 'company contains "bank" and not email is empty'
    """
    with open_persons(db) as pdb:
        view = pdb.create_view(name, filter_, sort, replace=replace)
        count = pdb.count(view.name)
    if json_out:
        print_json({"name": view.name, "filter": view.filter, "sort": view.sort, "count": count})
    else:
        console.print(f"saved view {view.name!r}: {count} Persons match", markup=False)


@views_app.command("show")
def show(
    name: NameArg,
    limit: Annotated[
        int, typer.Option("--limit", "-l", min=0, help="Show at most this many (0 = all).")
    ] = 50,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show the Persons a view holds, in its order, with the count.

    Example:  personsync views show "New York" --limit 20
    """
    from personsync.cli.persons_render import person_dict, persons_table

    with open_persons(db) as pdb:
        view = pdb.get_view(name)
        total = pdb.count(name)
        persons = pdb.list_persons(name, limit=limit or None)
        if json_out:
            print_json(
                {
                    "name": view.name,
                    "filter": view.filter,
                    "sort": view.sort,
                    "count": total,
                    "persons": [person_dict(p) for p in persons],
                }
            )
            return
        shown = persons_table(persons, title=f"{view.name}: {view.filter or 'all Persons'}")
    if shown < total:
        console.print(f"showing {shown} of {total} Persons (use --limit to see more)")
    else:
        console.print(f"{total} Persons")


@views_app.command("delete")
def delete(name: NameArg, db: DbOption = None) -> None:
    """Delete a saved view (the Persons stay; only the filter goes).

    Example:  personsync views delete "New York"
    """
    with open_persons(db) as pdb:
        pdb.delete_view(name)
    console.print(f"deleted view {name!r}", markup=False)
