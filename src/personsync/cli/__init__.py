"""The `personsync` command: a thin Typer layer over the library.

Each module registers its commands on the root app; importing them here builds the command tree.
"""

from __future__ import annotations

import personsync.cli.db  # registers commands
import personsync.cli.graph_cmds  # noqa: F401  (registers commands)
from personsync.cli import contacts, persons, sync_cmds, views  # noqa: F401  (registers commands)
from personsync.cli.app import app


def main() -> None:
    app()
