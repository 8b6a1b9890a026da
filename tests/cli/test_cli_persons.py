"""`personsync init|db|persons ...` through the real CLI on a real database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from personsync.cli import app
from personsync.persons.repo import PersonsDB

runner = CliRunner()


def flat(text: str) -> str:
    return " ".join(text.split())


def run(db: str, *args: str, code: int = 0, stdin: str | None = None) -> Any:
    result = runner.invoke(app, [*args, "--db", db], input=stdin)
    assert result.exit_code == code, result.output
    return result


def as_json(db: str, *args: str) -> Any:
    return json.loads(run(db, *args, "--json").stdout)


def test_init_creates_the_database_and_says_where(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "people.db"
    out = run(str(path), "init").stdout
    assert f"Persons database ready: {path}\n" in out and "0 Persons" in out
    assert path.exists()
    data = as_json(str(path), "init")
    assert data["persons"] == 0 and data["database"] == str(path)


def test_init_via_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.db"
    monkeypatch.setenv("PERSONSYNC_DB", str(path))
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert path.exists()


def test_db_upgrade_and_status(sqlite_url: str) -> None:
    status = as_json(sqlite_url, "db", "status")
    assert status["current"] == [] and status["up_to_date"] is False
    assert "upgraded empty" in flat(run(sqlite_url, "db", "upgrade").stdout)
    assert "already up to date" in flat(run(sqlite_url, "db", "upgrade").stdout)
    status = as_json(sqlite_url, "db", "status")
    assert status["up_to_date"] is True and status["current"] == status["heads"]


def test_add_show_edit_delete(db_url: str) -> None:
    added = as_json(
        db_url,
        "persons",
        "add",
        "--set",
        "first_name=Zoë",
        "-s",
        "email1=zoe@example.org",
        "-s",
        "categories=VIP; Board",
        "-s",
        "birthday=1990-01-02",
    )
    pid = str(added["id"])
    assert added["first_name"] == "Zoë" and added["categories"] == ["VIP", "Board"]
    assert "contact_manager_id" not in added
    shown = as_json(db_url, "persons", "show", pid)
    assert shown["birthday"] == "1990-01-02" and shown["version"] == "1"
    assert as_json(db_url, "persons", "show", pid, "--all")["contact_manager_id"] is None
    card = run(db_url, "persons", "show", pid).stdout
    assert "Zoë" in card and "E-mail" in card and "Nickname" not in card

    out = run(db_url, "persons", "edit", pid, "--set", "company=A&B [x]", "-s", "birthday=").stdout
    assert "company: '' → 'A&B [x]'" in flat(out) and "birthday: '1990-01-02' → ''" in flat(out)
    assert "nothing changed" in flat(
        run(db_url, "persons", "edit", pid, "-s", "company=A&B [x]").stdout
    )
    edited = as_json(db_url, "persons", "show", pid)
    assert edited["version"] == "2" and edited["birthday"] is None

    stale = run(db_url, "persons", "edit", pid, "-s", "company=X", "--expect-version", "1", code=1)
    assert "changed since it was read" in flat(stale.stderr)

    run(db_url, "persons", "delete", pid, stdin="n\n", code=1)
    assert as_json(db_url, "persons", "show", pid)["id"] == int(pid)
    assert "deleted Person" in run(db_url, "persons", "delete", pid, "--yes").stdout
    gone = run(db_url, "persons", "show", pid, code=1)
    assert f"no Person with ID {pid}" in gone.stderr and "Traceback" not in gone.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["persons", "add", "-s", "frist_name=x"], "unknown field 'frist_name'"),
        (["persons", "add", "-s", "first_name"], "expected FIELD=VALUE"),
        (["persons", "add", "-s", "birthday=soon"], "is not a date"),
        (["persons", "add"], "nothing to add"),
        (["persons", "edit", "1"], "nothing to change"),
    ],
)
def test_bad_input_is_one_readable_line(sqlite_url: str, args: list[str], message: str) -> None:
    result = run(sqlite_url, *args, code=2)
    assert message in flat(result.stderr)
    assert "Traceback" not in result.output


def test_unknown_field_hint(sqlite_url: str) -> None:
    result = run(sqlite_url, "persons", "add", "-s", "frist_name=x", code=2)
    assert "first_name" in result.stderr.split("hint:")[1]


def test_list_and_sample(sqlite_url: str) -> None:
    out = run(sqlite_url, "persons", "sample", "120", "--seed", "4").stdout
    assert "added 120 sample Persons" in out
    listed = as_json(sqlite_url, "persons", "list", "--limit", "200")
    assert len(listed) == 120 and [p["id"] for p in listed] == sorted(p["id"] for p in listed)
    db = PersonsDB(sqlite_url)
    try:
        expected = [p.record.first_name for p in db.iter_persons()][:5]
    finally:
        db.close()
    assert [p["first_name"] for p in as_json(sqlite_url, "persons", "list", "-l", "5")] == expected
    table = run(sqlite_url, "persons", "list", "--limit", "3").stdout
    assert "showing 3 of 120 Persons" in flat(table)
    some = as_json(sqlite_url, "persons", "list", "--where", "email is empty", "-l", "500")
    assert some and all(not (p["email1"] or p["email2"] or p["email3"]) for p in some)


def test_sample_is_deterministic(tmp_path: Path) -> None:
    a, b = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    run(a, "persons", "sample", "30", "--seed", "9")
    run(b, "persons", "sample", "30", "--seed", "9")

    def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if not k.endswith("_at")} for r in rows]

    assert strip(as_json(a, "persons", "list")) == strip(as_json(b, "persons", "list"))


def test_import_keeps_good_rows_and_reports_bad_ones(sqlite_url: str, tmp_path: Path) -> None:
    csv_path = tmp_path / "in.csv"
    csv_path.write_text(
        "first_name,last_name,birthday,hat\nAnn,A,1980-01-01,x\nBob,B,not-a-date,y\nCy\nDi,D,,z\n",
        encoding="utf-8",
    )
    dry = run(sqlite_url, "persons", "import", str(csv_path), "--dry-run", code=4)
    assert "2 Persons would be added" in flat(dry.stdout)
    assert as_json(sqlite_url, "persons", "list") == []
    result = run(sqlite_url, "persons", "import", str(csv_path), code=4)
    err = flat(result.stderr)
    assert "column 'hat' is not a field" in err
    assert "line 3: birthday" in err and "line 4: 1 values" in err
    assert "added 2 Persons" in flat(result.stdout)
    names = [p["first_name"] for p in as_json(sqlite_url, "persons", "list")]
    assert names == ["Ann", "Di"]


def test_import_again_after_fixing_rows_adds_no_duplicates(db_url: str, tmp_path: Path) -> None:
    csv_path = tmp_path / "in.csv"
    header = "first_name,last_name,email1,mobile_phone,company,birthday\n"
    good = (
        "Ann,Lee,ann@example.org,,,\n"  # matched by e-mail
        "Bo,Ray,,+1 212 555 0100,,\n"  # by name and phone
        "Cy,Po,,,Acme,\n"  # by name and company
    )
    csv_path.write_text(header + good + "Dee,Ng,dee@example.org,,,22/3/1980\n", encoding="utf-8")
    first = run(db_url, "persons", "import", str(csv_path), code=4)
    assert "added 3 Persons" in flat(first.stdout) and "line 5" in flat(first.stderr)
    # The person fixes line 5 and imports the whole file again, as the message says.
    csv_path.write_text(header + good + "Dee,Ng,dee@example.org,,,1980-03-22\n", encoding="utf-8")
    again = as_json(db_url, "persons", "import", str(csv_path))
    assert again["added"] == 1 and len(again["already_present"]) == 3
    assert {p["matched_by"] for p in again["already_present"]} == {
        "e-mail",
        "name and phone",
        "name and company",
    }
    names = sorted(p["first_name"] for p in as_json(db_url, "persons", "list"))
    assert names == ["Ann", "Bo", "Cy", "Dee"]
    assert as_json(db_url, "persons", "import", str(csv_path))["added"] == 0


def test_import_reports_ambiguous_rows_and_can_be_undone(db_url: str, tmp_path: Path) -> None:
    for _ in range(2):
        run(db_url, "persons", "add", "-s", "first_name=Ann", "-s", "email1=ann@example.org")
    csv_path = tmp_path / "in.csv"
    csv_path.write_text("first_name,email1\nAnn,ann@example.org\nZoe,zoe@example.org\n")
    result = run(db_url, "persons", "import", str(csv_path), code=4)
    assert "line 2: matches Persons" in flat(result.stderr)
    data = as_json(db_url, "runs", "list")
    (run_info,) = [r for r in data if r["command"] == "persons import"]
    assert run_info["counts"]["create-person"] == 1
    assert f"personsync undo {run_info['id']}" in flat(result.stdout)
    run(db_url, "undo", run_info["id"])
    assert sorted(p["first_name"] for p in as_json(db_url, "persons", "list")) == ["Ann", "Ann"]


def test_import_date_order(sqlite_url: str, tmp_path: Path) -> None:
    csv_path = tmp_path / "in.csv"
    csv_path.write_text("first_name,birthday\nAnn,22/3/1980\nBo,1990-01-02\n")
    result = run(sqlite_url, "persons", "import", str(csv_path), "--date-order", "dmy")
    assert "added 2 Persons" in flat(result.stdout)
    birthdays = sorted(p["birthday"] for p in as_json(sqlite_url, "persons", "list"))
    assert birthdays == ["1980-03-22", "1990-01-02"]
    bad = run(sqlite_url, "persons", "import", str(csv_path), "--date-order", "XYZ", code=2)
    assert "MDY, DMY or YMD" in flat(bad.stderr)


def test_import_json_report(sqlite_url: str, tmp_path: Path) -> None:
    csv_path = tmp_path / "ok.csv"
    csv_path.write_text("First Name,E-mail Address\nAnn,ann@example.org\n", encoding="utf-8")
    result = run(sqlite_url, "persons", "import", str(csv_path), "--json")
    data = json.loads(result.stdout)
    assert data["added"] == 1 and data["skipped"] == [] and len(data["ids"]) == 1


def test_import_missing_file(sqlite_url: str, tmp_path: Path) -> None:
    result = run(sqlite_url, "persons", "import", str(tmp_path / "none.csv"), code=1)
    assert "none.csv: cannot read the file" in flat(result.stderr)


def test_unreachable_postgres_is_one_line_with_hint() -> None:
    result = run("postgresql+psycopg://postgres@127.0.0.1:1/x", "persons", "list", code=1)
    assert "error:" in result.stderr and "pg_ctlcluster" in flat(result.stderr)
    assert "Traceback" not in result.output


def test_help_teaches_with_examples() -> None:
    for command in (["persons", "add"], ["persons", "import"], ["views", "create"], ["init"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0
        assert "Example" in result.stdout and "--db" in result.stdout
