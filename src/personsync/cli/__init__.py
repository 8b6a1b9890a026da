"""The `personsync` command: a thin Typer layer over the library.

`main` answers `personsync --version` before anything else is loaded; every other command
registers the command tree (`cli.commands`) first and builds the command it runs alone
(`cli.lazy`); `personsync.cli.app` is its root.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from personsync.cli.root import app as app


def version_line() -> str:
    # Not importlib.metadata: scanning the installed distributions was 0.04 s, most of
    # `--version` (tests/cli/test_cli_small.py checks that the two agree).
    from personsync import __version__

    return f"personsync {__version__}"


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        print(version_line())
        return
    from personsync.cli.commands import app
    from personsync.cli.lazy import lazy_root

    lazy_root(app)()


def __getattr__(name: str) -> Any:
    if name == "app":
        from personsync.cli.commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
