"""The root command with each of its commands built when it is first asked for.

Typer turns every registered command into a Click command before it parses anything: it reads
each function's signature and evaluates its annotations, for all 40-odd commands, which was a
third of `personsync --help` and 0.05 s of every command (issue 16, start-up). Here the root
group is built with its own options only, and its `commands` are the registrations themselves
(`Registered`): `personsync export` builds `export` alone, `personsync persons list` the
`persons` group, and `personsync --help` lists every command from its registration (name,
help, hidden, deprecated) without building one. What each command is, once built, is Typer's
own work, unchanged: `tests/cli/test_cli_lazy.py` compares every help text with Typer's eager
build of the same app.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import typer
from typer import main as typer_main
from typer._click import Command, Context, HelpFormatter
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandInfo, TyperInfo


class Registered(MutableMapping[str, Command]):
    """A group's commands by name, in the order they were registered, each built by Typer the
    first time it is looked up (`registered[name]`, `.get(name)`); `name in registered` and
    iterating over the names build nothing."""

    def __init__(self, app: typer.Typer) -> None:
        self.built: dict[str, Command] = {}
        self.makers: dict[str, Callable[[], Command]] = {}
        self.listings: dict[str, Callable[[], Command]] = {}
        for info in app.registered_commands:
            name = info.name or typer_main.get_command_name(info.callback.__name__)  # type: ignore[union-attr]
            self.makers[name] = _command_maker(app, info)
            self.listings[name] = _command_listing(name, info)
        for group in app.registered_groups:
            solved = typer_main.solve_typer_info_defaults(group)
            if solved.name:  # Typer merges a nameless group's commands into this one
                self.makers[solved.name] = _group_maker(app, group)
                self.listings[solved.name] = _listing(solved.name, solved)

    def __getitem__(self, name: str) -> Command:
        found = self.built.get(name)
        if found is None:
            found = self.built[name] = self.makers[name]()
        return found

    def __setitem__(self, name: str, command: Command) -> None:
        self.built[name] = command
        self.makers.setdefault(name, lambda: command)
        self.listings.setdefault(name, lambda: command)

    def __delitem__(self, name: str) -> None:
        del self.makers[name]
        del self.listings[name]
        self.built.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self.makers

    def __iter__(self) -> Iterator[str]:
        return iter(self.makers)

    def __len__(self) -> int:
        return len(self.makers)

    def listed(self, name: str) -> Command:
        """The command if it was built, else a stand-in holding what a list of commands shows
        of it: its name, help, short help, and whether it is hidden or deprecated."""
        return self.built.get(name) or self.listings[name]()


def _command_maker(app: typer.Typer, info: CommandInfo) -> Callable[[], Command]:
    return lambda: typer_main.get_command_from_info(
        info,
        pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=app.rich_markup_mode,
    )


def _group_maker(app: typer.Typer, info: TyperInfo) -> Callable[[], Command]:
    return lambda: typer_main.get_group_from_info(
        info,
        pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=app.rich_markup_mode,
        suggest_commands=app.suggest_commands,
    )


def _command_listing(name: str, info: CommandInfo) -> Callable[[], Command]:
    # As `typer.main.get_command_from_info` takes the help.
    def listing() -> Command:
        doc = inspect.getdoc(info.callback) if info.help is None else inspect.cleandoc(info.help)
        return TyperCommand(
            name,
            help=doc,
            short_help=info.short_help,
            hidden=info.hidden,
            deprecated=info.deprecated,
        )

    return listing


def _listing(name: str, solved: TyperInfo) -> Callable[[], Command]:
    return lambda: TyperCommand(
        name,
        help=solved.help,
        short_help=solved.short_help,
        hidden=solved.hidden,
        deprecated=solved.deprecated,
    )


class LazyGroup(TyperGroup):
    """A group whose `commands` are `Registered` (by `lazy_root`): listed without being built."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # TyperGroup's takes `.items()`: every command built

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        # TyperGroup's asks `get_command` for each name, which would build every command.
        registered = self.commands
        if not isinstance(registered, Registered):  # built by Typer (`typer.testing`)
            super().format_commands(ctx, formatter)
            return
        self.commands = {name: registered.listed(name) for name in registered}
        try:
            super().format_commands(ctx, formatter)
        finally:
            self.commands = registered


def lazy_root(app: typer.Typer) -> Any:
    """The root group of `app` (whose `cls` is a `LazyGroup`), with its own options and
    callback, and its commands and groups built as they are looked up."""
    own = copy.copy(app)
    own.registered_commands, own.registered_groups = [], []
    root = typer_main.get_command(own)
    assert isinstance(root, LazyGroup), "the root app's cls must be a LazyGroup"
    root.commands = Registered(app)
    return root
