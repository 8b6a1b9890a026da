"""CLI: `personsync serve`, the web console. FastAPI and friends are the `[server]` extra."""

from __future__ import annotations

from typing import Annotated

import typer

from personsync.cli.options import DbOption
from personsync.cli.output import console
from personsync.cli.root import app
from personsync.errors import ConfigError


@app.command(
    "serve",
    help="The web console: Persons, the Outlook Synchronization wizard, runs, decisions, sync "
    "profiles (run on their schedules while it runs). Open http://127.0.0.1:8400/ after starting "
    "it. It listens on this machine only unless --host says otherwise; then it needs an "
    "administrator password first (--set-password).",
)
def serve_cmd(
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The port to listen on.")] = 8400,
    set_password: Annotated[
        bool,
        typer.Option("--set-password", help="Set the administrator password (asked twice), exit."),
    ] = False,
    no_schedule: Annotated[
        bool, typer.Option("--no-schedule", help="Do not run due profiles in the background.")
    ] = False,
    db: DbOption = None,
) -> None:
    try:
        from personsync.web.app import create_app
        from personsync.web.security import set_password as store_password
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the web console needs {exc.name}, which is not installed",
            hint="install the server extra: pip install 'personsync[server]'",
        ) from exc
    from personsync.persons.repo import PersonsDB

    if set_password:
        password = typer.prompt("New administrator password", hide_input=True)
        again = typer.prompt("The same again", hide_input=True)
        if password != again:
            raise ConfigError("the two passwords differ; nothing was changed")
        with PersonsDB(db) as pdb:
            store_password(pdb.engine, password)
        console.print("The administrator password is set; sign in with it in the console.")
        return
    import uvicorn

    web = create_app(db, host=host, schedule=not no_schedule)
    shown = f"[{host}]" if ":" in host else host
    console.print(f"personsync console: http://{shown}:{port}/  (Ctrl-C to stop)")
    uvicorn.run(web, host=host, port=port, log_level="warning", access_log=False)
