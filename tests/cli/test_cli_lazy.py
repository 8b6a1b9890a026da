"""The command tree `personsync` runs (`cli.lazy`): each command built when it is asked for, and
every help text, usage error and run the same as Typer's eager build of the same app."""

from __future__ import annotations

from typing import Any

from typer.main import get_command
from typer.testing import CliRunner

from personsync.cli import app
from personsync.cli.lazy import lazy_root

runner = CliRunner()


def invoke(command: Any, args: list[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one command line."""
    with runner.isolation() as (out, err, _):
        try:
            command.main(args, prog_name="personsync")
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, out.getvalue().decode(), err.getvalue().decode()


def every_command_line(command: Any, path: list[str]) -> list[list[str]]:
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += every_command_line(sub, [*path, name])
    return found


def test_every_help_text_is_the_one_typer_builds() -> None:
    eager = get_command(app)
    lines = every_command_line(eager, [])
    assert len(lines) > 40 and ["persons", "list"] in lines  # the whole tree, groups included
    for path in lines:
        assert invoke(lazy_root(app), [*path, "--help"]) == invoke(eager, [*path, "--help"]), path


def test_usage_errors_are_the_ones_typer_gives() -> None:
    eager = get_command(app)
    for args in (
        [],
        ["expotr"],
        ["persons"],
        ["persons", "lsit"],
        ["export", "--nope"],
        ["views", "show", "X", "-v", "--db"],
    ):
        got = invoke(lazy_root(app), args)
        assert got[0] == 2 and got == invoke(eager, args), args


def test_the_root_help_builds_no_command_and_a_command_builds_itself_alone() -> None:
    root = lazy_root(app)
    code, out, _ = invoke(root, ["--help"])
    assert code == 0 and "export" in out and "persons" in out
    assert root.commands.built == {}
    invoke(root, ["export", "--help"])
    assert list(root.commands.built) == ["export"]
    invoke(root, ["persons", "list", "--help"])
    assert list(root.commands.built) == ["export", "persons"]


def test_a_command_runs_through_the_lazy_root(sqlite_url: str) -> None:
    args = ["persons", "list", "--db", sqlite_url, "-v"]
    code, out, err = invoke(lazy_root(app), args)
    assert code == 0, err
    assert (code, out) == invoke(get_command(app), args)[:2]
