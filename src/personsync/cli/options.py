"""Options shared by many commands, defined once."""

from __future__ import annotations

from typing import Annotated

import typer

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="PERSONSYNC_DB",
        help="Persons database: a SQLite path or a SQLAlchemy URL "
        "(postgresql+psycopg://user@host/db). Default: personsync.db here.",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON for machines instead of a table.")
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask; go ahead.")]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", "-n", help="Print the plan and stop: nothing is written.")
]
