"""CLI: `personsync init` and `personsync db upgrade|status`: the Persons database itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from personsync.cli.options import DbOption, JsonOption
from personsync.cli.output import console, print_json
from personsync.cli.root import app

if TYPE_CHECKING:
    from personsync.persons.repo import PersonsDB

db_app = typer.Typer(
    help="The Persons database: bring its schema up to date, or see which version it has.\n\n"
    "personsync upgrades the schema by itself on first use; these commands give explicit "
    "control (e.g. before a release, or to check a shared PostgreSQL database).",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")


@contextmanager
def open_persons(url: str | None) -> Iterator[PersonsDB]:
    """The Persons database of --db / $PERSONSYNC_DB, migrated, closed afterwards."""
    from personsync.persons.repo import PersonsDB

    db = PersonsDB(url)
    try:
        yield db
    finally:
        db.close()


def where(url: str) -> str:
    """Where the database is, in words a person can use: a file path or the URL."""
    from sqlalchemy.engine import make_url

    from personsync.persons.connect import display_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return str(Path(parsed.database).resolve())
    return display_url(url)


@app.command()
def init(
    db: DbOption = None,
    create: Annotated[
        bool,
        typer.Option(
            "--create", help="PostgreSQL: create the database first if it does not exist."
        ),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Create the Persons database (or bring it up to date) and say where it is.

    \b
    Examples:
      personsync init                       # ./personsync.db
      personsync init --db ~/crm/people.db
      personsync init --db postgresql+psycopg://crm@dbhost/crm --create
    """
    from personsync.persons import migrate
    from personsync.persons.connect import create_database, resolve_url

    if create and create_database(resolve_url(db)):
        console.print(f"created database {where(resolve_url(db))}", soft_wrap=True)

    with open_persons(db) as pdb:
        count = pdb.count()
        revisions = sorted(migrate.current_revisions(pdb.engine))
    if json_out:
        print_json({"database": where(pdb.url), "revision": revisions, "persons": count})
        return
    console.print(f"Persons database ready: {where(pdb.url)}", soft_wrap=True, markup=False)
    console.print(f"schema {', '.join(revisions)}, {count} Persons")
    if count == 0:
        console.print(
            "next: personsync persons sample 100   or   personsync persons import FILE.csv"
        )


@db_app.command("upgrade")
def upgrade(db: DbOption = None) -> None:
    """Apply every pending schema migration (safe to run again: does nothing when current).

    Example:  personsync db upgrade --db people.db
    """
    from personsync.persons import migrate
    from personsync.persons.connect import make_engine, resolve_url

    engine = make_engine(resolve_url(db))
    try:
        before, after = migrate.upgrade(engine)
    finally:
        engine.dispose()
    target = where(resolve_url(db))
    if before == after:
        console.print(f"{target}: already up to date ({', '.join(sorted(after))})", soft_wrap=True)
    else:
        old = ", ".join(sorted(before)) or "empty"
        console.print(f"{target}: upgraded {old} → {', '.join(sorted(after))}", soft_wrap=True)


@db_app.command("status")
def status(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Show the schema version of the database and whether an upgrade is pending.

    Example:  personsync db status --json
    """
    from personsync.persons import migrate
    from personsync.persons.connect import make_engine, resolve_url

    engine = make_engine(resolve_url(db))
    try:
        current = sorted(migrate.current_revisions(engine))
    finally:
        engine.dispose()
    heads = sorted(migrate.head_revisions())
    up_to_date = current == heads
    if json_out:
        print_json(
            {
                "database": where(resolve_url(db)),
                "current": current,
                "heads": heads,
                "up_to_date": up_to_date,
            }
        )
        return
    state = "up to date" if up_to_date else "upgrade pending: run personsync db upgrade"
    console.print(
        f"{where(resolve_url(db))}: schema {', '.join(current) or 'empty'} ({state})",
        soft_wrap=True,
    )
