"""The whole command tree: importing this module registers every command on the root app.

The command modules import the library (SQLAlchemy, the stores, the engine) inside the commands,
when a command runs, so building the tree for `--help` loads none of it. They are imported in
the order `personsync --help` lists them: the main job first.
"""

from __future__ import annotations

# isort: off
from personsync.cli import sync_cmds  # noqa: F401  (export, import, link, unlink, runs, undo, demo)
from personsync.cli import sync_wizard  # noqa: F401
from personsync.cli import db  # noqa: F401  (init, db)
from personsync.cli import persons  # noqa: F401
from personsync.cli import views  # noqa: F401
from personsync.cli import contacts  # noqa: F401  (contacts, folders)
from personsync.cli import graph_cmds  # noqa: F401
from personsync.cli import profiles_cmds  # noqa: F401  (profiles, run-due)
from personsync.cli import serve_cmd  # noqa: F401  (serve loads the web lazily)

# isort: on
from personsync.cli.root import app

__all__ = ["app"]
