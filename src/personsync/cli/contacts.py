"""CLI: contacts commands."""

from personsync.cli.app import app  # noqa: F401
