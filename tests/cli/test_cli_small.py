"""Start-up and the small things of everyday use, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from personsync.cli import app
from personsync.model import Record
from personsync.persons.repo import PersonsDB

runner = CliRunner()


def run(*args: str, code: int = 0) -> Any:
    got = runner.invoke(app, list(args))
    assert got.exit_code == code, got.output
    return got


def test_importing_the_cli_loads_no_database_layer() -> None:
    probe = (
        "import sys, personsync.cli.commands; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('alembic', 'sqlalchemy', 'psycopg', 'phonenumbers', 'questionary') "
        "or m in ('rich.table', 'rich.progress', 'personsync.sync.engine')))"
    )
    got = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert got.stdout.strip() == "[]", got.stdout


def test_help_loads_no_database_layer() -> None:
    probe = (
        "import sys, personsync.cli\n"
        "sys.argv = ['personsync', '--help']\n"
        "try:\n    personsync.cli.main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in "
        "('alembic', 'sqlalchemy', 'psycopg', 'tomllib')))"  # tomllib: the Graph settings
    )
    got = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "LOADED []" in got.stdout, got.stdout[-500:]


def test_a_command_converts_its_options_without_pydantic(sqlite_url: str, tmp_path: Path) -> None:
    # Typer converts every option through a pydantic TypeAdapter: 0.1-0.15 s of each export.
    # Nor does a --json export load what prints for people (Rich's markup and tables).
    probe = (
        "import sys, personsync.cli\n"
        f"sys.argv = ['personsync', 'export', '--to', 'vcf:{tmp_path}', '--db', '{sqlite_url}',"
        " '--max-change', '20', '--on-conflict', 'crm', '--wait', '1', '--json']\n"
        "try:\n    personsync.cli.main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print('LOADED', code, sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'"
        " or m in ('rich.markup', 'rich.table')))"
    )
    got = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert '"status": "clean"' in got.stdout and "LOADED 0 []" in got.stdout, got.stdout[-500:]


def test_plain_options_say_what_is_wrong_with_a_value(sqlite_url: str) -> None:
    export = ["export", "--to", "vcf:x", "--db", sqlite_url]
    for args, said in (
        (["--max-change", "abc"], "'abc' is not a number"),
        (["--max-change", "-1"], "'-1' is less than 0"),
        (["--on-conflict", "nope"], "'nope' is not one of 'crm', 'outlook', 'newest', 'skip'"),
        (["--recreate", "--wait", "nan"], "'nan' is not a number"),
    ):
        got = run(*export, *args, code=2)
        assert said in got.stderr, got.stderr
    got = run("persons", "list", "--db", sqlite_url, "--limit", "x", code=2)
    assert "'x' is not a whole number" in got.stderr


def test_a_no_op_export_after_a_quiet_one_says_nothing_was_read(
    sqlite_url: str, tmp_path: Path
) -> None:
    import time

    db = PersonsDB(sqlite_url)
    db.add(Record(first_name="Ann", last_name="Lee"))
    db.close()
    export = ["export", "--to", f"vcf:{tmp_path / 'c'}", "--db", sqlite_url, "--json"]
    run(*export)
    time.sleep(3.2)  # the new card's ctime past the folder's racy margin (vcf_folder.RACY_MS)
    assert "unread" not in json.loads(run(*export).stdout)["plan"]
    got = json.loads(run(*export).stdout)
    assert got["plan"]["unread"].startswith("neither side changed since run ")
    assert got["plan"]["counts"]["unchanged"] == 1 and got["report"]["status"] == "clean"
    text = run(*export[:-1]).stdout
    assert "nothing was read" in text and "1 unchanged" in text


def test_version() -> None:
    assert run("--version").stdout == f"personsync {version('personsync')}\n"


def test_verbose_after_the_command(sqlite_url: str) -> None:
    args = ["views", "create", "x", "-f", 'state = "NY" and', "--db", sqlite_url]
    before = run("-v", *args, code=2)
    after = run(*args, "-v", code=2)
    assert after.stderr == before.stderr and "^" in after.stderr
    # A -v that is another option's value stays where it is.
    got = run("persons", "add", "-s", "nickname=-v", "--db", sqlite_url, "--json")
    assert json.loads(got.stdout)["nickname"] == "-v"


def test_flags_show_no_placeholder() -> None:
    text = run("export", "--help").stdout
    assert "<bool>" not in text and "--dry-run" in text


def test_view_names_ignore_case_and_suggest(sqlite_url: str) -> None:
    run("views", "create", "New York", "-f", 'state = "NY"', "--db", sqlite_url)
    assert "0 Persons" in run("views", "show", "new york", "--db", sqlite_url).stdout
    got = run("views", "show", "New Yrok", "--db", sqlite_url, code=2)
    assert "did you mean 'New York'?" in got.stderr


def test_sort_mistake_gets_a_sort_hint(sqlite_url: str) -> None:
    got = run("views", "create", "x", "--sort", "-birthday", "--db", sqlite_url, code=2)
    assert "birthday desc" in got.stderr and "quotes" not in got.stderr


def test_where_is_in_the_title(sqlite_url: str) -> None:
    run("persons", "add", "-s", "first_name=Ann", "-s", "business_city=Paris", "--db", sqlite_url)
    got = run("persons", "list", "--where", 'city = "Paris"', "--db", sqlite_url)
    assert 'All Persons where city = "Paris"' in got.stdout


def test_show_all_lists_every_link(sqlite_url: str, tmp_path: Path) -> None:
    pdb = PersonsDB(sqlite_url)
    pid = pdb.add_many([Record(first_name="Ann")])[0]
    pdb.close()
    for name in ("a", "b"):
        run("export", "--to", f"vcf:{tmp_path / name}", "--db", sqlite_url)
    shown = run("persons", "show", str(pid), "--all", "--json", "--db", sqlite_url)
    data = json.loads(shown.stdout)
    assert [link["folder"] for link in data["links"]] == [
        f"vcf:{tmp_path / 'a'}",
        f"vcf:{tmp_path / 'b'}",
    ]
    text = run("persons", "show", str(pid), "--all", "--db", sqlite_url).stdout
    assert f"vcf:{tmp_path / 'a'}: contact" in text and f"vcf:{tmp_path / 'b'}: contact" in text


def test_demo_prints_a_command_that_works(tmp_path: Path) -> None:
    got = subprocess.run(
        [sys.executable, "-m", "personsync", "demo", "--dir", "d", "--persons", "30"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert got.returncode == 0, got.stderr
    last = got.stdout.strip().splitlines()[-2]
    command = last.split("Look around: ", 1)[1]
    again = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "export" in again.stdout and "import" in again.stdout


def test_init_names_a_missing_postgresql_database_and_creates_it() -> None:
    import uuid

    from sqlalchemy import create_engine, text

    name = f"personsync_new_{uuid.uuid4().hex[:10]}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        missing = run("init", "--db", url, code=1)
        said = " ".join(missing.stderr.split())
        assert f"database '{name}' does not exist" in said and "--create" in said
        assert "is PostgreSQL running" not in said
        created = run("init", "--create", "--db", url)
        assert "created database" in created.stdout and "0 Persons" in created.stdout
        run("init", "--create", "--db", url)  # there already: nothing to create
    finally:
        admin = create_engine(
            "postgresql+psycopg://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_sample_middle_name_is_never_the_first_name() -> None:
    from personsync.persons.sample import generate

    records = list(generate(20_000, 3))
    with_middle = [r for r in records if r.middle_name]
    assert len(with_middle) > 1000
    assert all(r.middle_name != r.first_name for r in with_middle)


def test_guard_message_for_more_writes_than_the_folder_holds() -> None:
    import pytest

    from personsync.errors import MassChangeRefused
    from personsync.model import Contact
    from personsync.sync import guard
    from personsync.sync.plan import CreateContact, Plan

    creates = tuple(CreateContact(n, "1", Contact(Record(first_name="A"))) for n in range(769))
    plan = Plan("export", "vcf:/x", "All Persons", creates, folder_size=9)
    with pytest.raises(MassChangeRefused) as caught:
        guard.check(plan, 0.5)
    said = caught.value.message
    assert "769 contacts in vcf:/x, which holds only 9 now" in said and "%," not in said


def test_the_cli_offers_every_conflict_policy() -> None:
    from personsync.cli.sync_run import POLICIES
    from personsync.sync.merge import POLICIES as ENGINE_POLICIES

    assert POLICIES == ENGINE_POLICIES


def test_the_cli_says_why_a_run_waits(capsys: pytest.CaptureFixture[str]) -> None:
    """A run's `Waiting` event (the folder's service asked it to slow down) is a line on
    stderr, from the run's own listener (no default of the process prints it)."""
    from personsync.cli.output import progress, reset_consoles
    from personsync.cli.sync_run import listener
    from personsync.sync.events import Waiting

    reset_consoles()
    with progress("exporting") as bar:
        hear = listener(bar, json_out=False)
        assert hear(Waiting(2.0, "the service answered HTTP 429")) is None
    assert "waiting 2.0 s: the service answered HTTP 429" in capsys.readouterr().err
