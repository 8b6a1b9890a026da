"""CLI: views commands."""

from personsync.cli.app import app  # noqa: F401
