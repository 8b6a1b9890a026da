"""CLI: sync_cmds commands."""

from personsync.cli.app import app  # noqa: F401
