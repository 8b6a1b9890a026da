"""The `personsync` command: a thin Typer layer over the library.

Each module registers its commands on the root app; importing them here builds the command tree.
"""

from __future__ import annotations

import personsync.cli.db  # registers commands
import personsync.cli.graph_cmds  # noqa: F401  (registers commands)
from personsync.cli import (  # noqa: F401  (registers commands; serve imports the web lazily)
    contacts,
    persons,
    profiles_cmds,
    serve_cmd,
    sync_cmds,
    views,
)
from personsync.cli.app import app


def main() -> None:
    app()
