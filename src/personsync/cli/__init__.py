"""The `personsync` command: a thin Typer layer over the library.

`main` answers `personsync --version` before anything else is loaded; every other command
builds the command tree (`cli.commands`) first; `personsync.cli.app` is its root.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from personsync.cli.root import app as app


def version_line() -> str:
    from importlib.metadata import version

    return f"personsync {version('personsync')}"


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        print(version_line())
        return
    from personsync.cli.commands import app

    app()


def __getattr__(name: str) -> Any:
    if name == "app":
        from personsync.cli.commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
