"""The `personsync` command: a thin Typer layer over the library.

Each module registers its commands on the root app; importing them here builds the command tree.
They import the library (SQLAlchemy, the stores, the engine) inside the commands, when a command
runs: `personsync --help` and `--version` load none of it.
"""

from __future__ import annotations

from personsync.cli import (  # noqa: F401  (each registers its commands; serve loads the web lazily)
    contacts,
    db,
    graph_cmds,
    persons,
    profiles_cmds,
    serve_cmd,
    sync_cmds,
    sync_wizard,
    views,
)
from personsync.cli.app import app


def main() -> None:
    app()
