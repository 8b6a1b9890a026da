"""`personsync views ...` through the real CLI on a real database."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from personsync.cli import app

runner = CliRunner()


def flat(text: str) -> str:
    return " ".join(text.split())


def run(db: str, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, [*args, "--db", db])
    assert result.exit_code == code, result.output
    return result


def as_json(db: str, *args: str) -> Any:
    return json.loads(run(db, *args, "--json").stdout)


def add(db: str, **fields: str) -> int:
    sets = [a for k, v in fields.items() for a in ("-s", f"{k}={v}")]
    return int(as_json(db, "persons", "add", *sets)["id"])


def test_views_create_show_list_delete(db_url: str) -> None:
    ann = add(db_url, first_name="Ann", last_name="Zeta", business_state="NY")
    bob = add(db_url, first_name="Bob", last_name="Alpha", home_state="ny")
    add(db_url, first_name="Cy", business_state="CA")
    created = as_json(
        db_url, "views", "create", "New York", "--filter", 'state = "NY"', "--sort", "last_name"
    )
    assert created["count"] == 2
    shown = as_json(db_url, "views", "show", "New York")
    assert shown["count"] == 2 and [p["id"] for p in shown["persons"]] == [bob, ann]
    limited = as_json(db_url, "views", "show", "New York", "--limit", "1")
    assert limited["count"] == 2 and len(limited["persons"]) == 1
    table = run(db_url, "views", "show", "New York", "--limit", "1").stdout
    assert "showing 1 of 2 Persons" in " ".join(table.split())
    views = {v["name"]: v for v in as_json(db_url, "views", "list")}
    assert views["All Persons"]["builtin"] and views["All Persons"]["count"] == 3
    assert views["New York"]["count"] == 2 and views["New York"]["sort"] == "last_name"
    listed = as_json(db_url, "persons", "list", "--view", "New York")
    assert [p["id"] for p in listed] == [bob, ann]

    again = run(db_url, "views", "create", "New York", "--filter", "id = 1", code=2)
    assert "already exists" in flat(again.stderr) and "--replace" in flat(again.stderr)
    run(db_url, "views", "create", "New York", "--filter", f"id = {ann}", "--replace")
    assert as_json(db_url, "views", "show", "New York")["count"] == 1

    assert "deleted view" in run(db_url, "views", "delete", "New York").stdout
    missing = run(db_url, "views", "show", "New York", code=2)
    assert "no view named 'New York'" in flat(missing.stderr) and "All Persons" in flat(
        missing.stderr
    )


def test_builtin_view_cannot_be_deleted_or_replaced(sqlite_url: str) -> None:
    assert "cannot be deleted" in run(sqlite_url, "views", "delete", "All Persons", code=2).stderr
    result = run(sqlite_url, "views", "create", "All Persons", "-f", "id = 1", code=2)
    assert "built in" in flat(result.stderr)


def test_malformed_filter_points_at_the_position(sqlite_url: str) -> None:
    result = run(sqlite_url, "views", "create", "x", "--filter", 'stat = "NY"', code=2)
    assert "unknown field 'stat' (at position 1)" in flat(result.stderr)
    assert "did you mean state" in flat(result.stderr)
    verbose = runner.invoke(
        app, ["-v", "views", "create", "x", "-f", 'state = "NY" and', "--db", sqlite_url]
    )
    assert verbose.exit_code == 2
    assert 'state = "NY" and\n' in verbose.stderr and "\n" + " " * 16 + "^" in verbose.stderr
    assert as_json(sqlite_url, "views", "list")[-1]["name"] == "All Persons"


def test_view_names_with_markup_are_printed_as_text(sqlite_url: str) -> None:
    add(sqlite_url, first_name="[bold]Ann[/bold]")
    run(sqlite_url, "views", "create", "[red]x", "--filter", "")
    assert "[red]x" in run(sqlite_url, "views", "list").stdout
    assert "[bold]Ann[/bold]" in run(sqlite_url, "views", "show", "[red]x").stdout


def test_views_help_documents_the_language_and_aliases() -> None:
    text = " ".join(runner.invoke(app, ["views", "--help"]).stdout.split())
    assert "in [v1, v2]" in text and "is not empty" in text
    assert "email = any of email1, email2, email3" in text
