"""CLI: `personsync persons list|show|add|edit|delete|import|sample`."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from personsync.cli.db import open_persons
from personsync.cli.options import DbOption, DryRunOption, JsonOption, YesOption
from personsync.cli.output import console, err, print_json, progress
from personsync.cli.root import app, escape
from personsync.errors import ExitCode, UsageError
from personsync.fields import FIELD_NAMES
from personsync.persons import ALL_PERSONS

if TYPE_CHECKING:
    from personsync.model import Value
    from personsync.persons.repo import PersonsDB

persons_app = typer.Typer(
    help="Persons records: list, show, add, edit, delete, import a CSV, or make sample data.",
    no_args_is_help=True,
)
app.add_typer(persons_app, name="persons")

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        help="FIELD=VALUE, repeatable. Fields: " + ", ".join(FIELD_NAMES) + ". Dates as "
        "YYYY-MM-DD; categories separated by ';'; an empty VALUE clears the field.",
        show_default=False,
    ),
]
ViewOption = Annotated[
    str | None,
    typer.Option("--view", "-V", help=f"Only the Persons of this view (default: {ALL_PERSONS})."),
]
LimitOption = Annotated[
    int, typer.Option("--limit", "-l", min=0, help="Show at most this many (0 = all).")
]
AllOption = Annotated[
    bool,
    typer.Option("--all", "-a", help="Every field, the version and the hidden contact link."),
]


def parse_sets(pairs: list[str] | None) -> dict[str, Value]:
    """`--set first_name=Ann` options → typed changes (UsageError naming a bad one)."""
    from personsync.persons.rows import change_row

    changes: dict[str, Value] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(
                f"--set {pair!r}: expected FIELD=VALUE", hint="e.g. --set email1=ann@example.org"
            )
        changes[name.strip()] = value
    return change_row(changes)


@persons_app.command("list")
def list_persons(
    view: ViewOption = None,
    where: Annotated[
        str, typer.Option("--where", "-w", help='An extra filter, e.g. city = "Paris".')
    ] = "",
    limit: LimitOption = 50,
    everything: AllOption = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List Persons (of a view), in the view's order.

    \b
    Examples:
      personsync persons list
      personsync persons list --view "New York" --limit 10
      personsync persons list --where 'email endswith "@example.com"' --json
    """
    from personsync.cli.persons_render import persons_table, print_persons_json

    with open_persons(db) as pdb:
        total = pdb.count(view, where=where)
        persons = pdb.list_persons(view, limit=limit or None, where=where)
        if json_out:
            print_persons_json(persons, hidden=everything)
            return
        title = view or ALL_PERSONS
        if where:
            title += f" where {where}"
        shown = persons_table(persons, title=title)
    _footer(shown, total)


def _footer(shown: int, total: int) -> None:
    if total == 0:
        console.print("no Persons match")
    elif shown < total:
        console.print(f"showing {shown} of {total} Persons (use --limit to see more)")
    else:
        console.print(f"{total} Persons")


@persons_app.command("show")
def show(
    person_id: Annotated[
        int, typer.Argument(metavar="PERSON", help="The Person's ID.", show_default=False)
    ],
    everything: AllOption = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show one Person, field by field; with --all also its version and every link (one per
    contact folder).

    \b
    Examples:
      personsync persons show 12
      personsync persons show 12 --all --json
    """
    from personsync.cli.persons_render import person_card, person_dict

    with open_persons(db) as pdb:
        person = pdb.get(person_id)
        links = _links_of(pdb, person_id) if everything else []
    if json_out:
        data = person_dict(person, hidden=everything)
        if everything:
            data["links"] = links
        print_json(data)
    else:
        person_card(person, everything=everything, links=links)


def _links_of(pdb: PersonsDB, person_id: int) -> list[dict[str, str]]:
    """The Person's links, one per contact folder: folder, contact id, when last in step."""
    from sqlalchemy import select

    from personsync.sync.engine import ensure_tables
    from personsync.sync.tables import sync_links as t

    ensure_tables(pdb.engine)
    query = (
        select(t.c.folder, t.c.item_id, t.c.synced_at)
        .where(t.c.person_id == person_id)
        .order_by(t.c.folder)
    )
    with pdb.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{"folder": f, "item_id": i, "synced_at": str(at)} for f, i, at in rows]


@persons_app.command("add")
def add(
    sets: SetOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a Person.

    \b
    Example:
      personsync persons add -s first_name=Ann -s last_name=Smith -s email1=ann@example.org
    """
    from personsync.cli.persons_render import person_dict
    from personsync.model import Record

    changes = parse_sets(sets)
    if not changes:
        raise UsageError("nothing to add", hint="give fields with --set FIELD=VALUE")
    with open_persons(db) as pdb:
        person = pdb.add(Record().replace(changes))
    if json_out:
        print_json(person_dict(person))
    else:
        console.print(f"added Person {person.id}: {person.display_name}", markup=False)


@persons_app.command("edit")
def edit(
    person_id: Annotated[
        int, typer.Argument(metavar="PERSON", help="The Person's ID.", show_default=False)
    ],
    sets: SetOption = None,
    expect_version: Annotated[
        str | None,
        typer.Option(
            "--expect-version",
            help="Refuse if the Person's version is no longer this (someone else changed it).",
        ),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Change fields of a Person; prints what changed (nothing is written if nothing changes).

    \b
    Examples:
      personsync persons edit 12 --set company="ACME Corp" --set job_title=CFO
      personsync persons edit 12 --set birthday=        # clears the birthday
    """
    from personsync.cli.persons_render import person_dict, value_text

    changes = parse_sets(sets)
    if not changes:
        raise UsageError("nothing to change", hint="give fields with --set FIELD=VALUE")
    with open_persons(db) as pdb:
        before = pdb.get(person_id)
        after = pdb.update(person_id, changes, expected_version=expect_version)
    changed = {
        k: (getattr(before.record, k), getattr(after.record, k))
        for k in changes
        if getattr(before.record, k) != getattr(after.record, k)
    }
    if json_out:
        print_json({"person": person_dict(after), "changed": sorted(changed)})
        return
    if not changed:
        console.print(f"Person {person_id}: nothing changed")
    for name, (old, new) in changed.items():
        console.print(
            f"Person {person_id} {name}: {value_text(old)!r} → {value_text(new)!r}",
            markup=False,
        )


@persons_app.command("delete")
def delete(
    person_id: Annotated[
        int, typer.Argument(metavar="PERSON", help="The Person's ID.", show_default=False)
    ],
    yes: YesOption = False,
    db: DbOption = None,
) -> None:
    """Delete a Person (asks first unless --yes).

    Example:  personsync persons delete 12 --yes
    """
    with open_persons(db) as pdb:
        person = pdb.get(person_id)
        if not yes and not typer.confirm(
            f"Delete Person {person.id} ({person.display_name})?", default=False
        ):
            raise typer.Exit(1)
        pdb.delete(person_id)
    console.print(f"deleted Person {person_id}: {person.display_name}", markup=False)


@persons_app.command("import")
def import_csv(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="A CSV file with a header row.", show_default=False),
    ],
    dry_run: DryRunOption = False,
    date_order: Annotated[
        str,
        typer.Option(
            "--date-order",
            help="How the file writes dates besides YYYY-MM-DD: MDY (3/22/1980), DMY, YMD.",
            show_default=False,
        ),
    ] = "",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add Persons from a CSV file; safe to run again with the same (or a fixed) file.

    Header: field names (first_name), labels (First name) or Outlook's column names (First
    Name); unknown columns are reported and ignored. Each row is matched to the Persons already
    there as the sync engine does (e-mail, then name with phone or company): a row that is
    already in is not added again; a row that matches several Persons is reported. Bad rows
    are reported by line and skipped. The new Persons are added as one journaled run:
    `personsync undo RUN` takes them back. Exit code 4 when rows were skipped, 0 otherwise.

    Example:  personsync persons import people.csv --dry-run --date-order DMY
    """
    from personsync.persons.csv_import import read_csv
    from personsync.persons.import_run import import_rows

    order = date_order.upper()
    if order and order not in ("MDY", "DMY", "YMD"):
        raise UsageError(f"unknown date order {date_order!r}", hint="use MDY, DMY or YMD")
    rows = read_csv(file, order)
    for column in rows.unknown_columns:
        err.print(
            f"[yellow]warning:[/yellow] {escape(str(file))}: column {escape(repr(column))} "
            "is not a field; ignored"
        )
    with open_persons(db) as pdb, progress("importing", len(rows.records)) as bar:
        result = import_rows(pdb, rows, file, dry_run=dry_run, on_chunk=bar)
    skipped = [(p.line, p.message) for p in rows.problems] + result.unclear
    skipped.sort()
    for line, why in skipped:
        err.print(f"[red]skipped[/red] {escape(str(file))}, line {line}: {escape(why)}")
    if json_out:
        print_json(
            {
                "file": str(file),
                "run": result.run_id or None,
                "added": len(result.added),
                "ids": result.ids(),
                "new": len(result.new),
                "already_present": [
                    {"line": line, "person_id": pid, "matched_by": how}
                    for line, pid, how in result.present
                ],
                "dry_run": dry_run,
                "unknown_columns": rows.unknown_columns,
                "skipped": [{"line": line, "reason": why} for line, why in skipped],
            }
        )
    else:
        present = f"; {len(result.present)} already in Persons" if result.present else ""
        if dry_run:
            said = f"{len(result.new)} Persons would be added{present} (dry run: nothing written)"
        else:
            said = f"added {len(result.added)} Persons{_id_range(result.ids())}{present}"
        console.print(f"{file}: {said}", markup=False)
        if result.run_id:
            console.print(f"undo with: personsync undo {result.run_id}", markup=False)
        if skipped:
            err.print(
                f"{len(skipped)} rows skipped; fix them and import the file again "
                "(rows already in are not added twice)"
            )
    raise typer.Exit(ExitCode.SKIPPED if skipped else ExitCode.CLEAN)


def _id_range(ids: list[int]) -> str:
    return f" (IDs {min(ids)}–{max(ids)})" if ids else ""


@persons_app.command("sample")
def sample(
    count: Annotated[
        int, typer.Argument(metavar="COUNT", min=1, help="How many Persons.", show_default=False)
    ],
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same Persons.")] = 0,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add realistic sample Persons: international names, several e-mails and phones, addresses
    in several countries, some gaps and a few near-duplicates.

    Example:  personsync persons sample 1000 --seed 7
    """
    from personsync.persons.sample import generate

    ids: list[int] = []
    with open_persons(db) as pdb, progress("adding sample Persons", count) as advance:
        records = generate(count, seed)
        while batch := list(itertools.islice(records, 20_000)):
            ids.extend(pdb.add_many(batch, on_chunk=advance))
    if json_out:
        print_json({"added": len(ids), "ids": ids})
    else:
        console.print(f"added {len(ids)} sample Persons" + _id_range(ids))
