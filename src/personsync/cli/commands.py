"""The whole command tree: importing this module registers every command on the root app.

The command modules import the library (SQLAlchemy, the stores, the engine) inside the commands,
when a command runs, so building the tree for `--help` loads none of it.
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
from personsync.cli.root import app

__all__ = ["app"]
