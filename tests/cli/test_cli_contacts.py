"""`personsync contacts list/show` and `personsync folders list`, through the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from personsync.cli import app
from personsync.fields import FIELDS
from personsync.model import Contact, Record
from personsync.stores import open_folder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "csv"
runner = CliRunner()


def flat(text: str) -> str:
    """Messages as one line: the console wraps them at its width."""
    return " ".join(text.split())


def folder(tmp_path: Path, name: str = "outlook_classic_cp1252.csv") -> str:
    path = tmp_path / "contacts.csv"
    shutil.copy(FIXTURES / name, path)
    return f"csv:{path}"


def listed(url: str, *args: str) -> dict[str, object]:
    result = runner.invoke(app, ["contacts", "list", url, "--json", *args])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_list_json_has_every_canonical_field(tmp_path: Path) -> None:
    url = folder(tmp_path)
    data = listed(url)
    assert data["folder"] == url and data["problems"] == []
    contacts = data["contacts"]
    assert isinstance(contacts, list) and len(contacts) == 3
    jurgen = contacts[0]
    assert jurgen["display_name"] == "Jürgen Müller"
    assert jurgen["fields"]["birthday"] == "1980-03-22"
    assert jurgen["fields"]["categories"] == ["Customers", "VIP"]
    assert jurgen["fields"]["business_street"] == "Bahnhofstraße 1\nGebäude C"
    assert len(jurgen["fields"]) == len(FIELDS) and jurgen["item_id"] and jurgen["version"]
    assert jurgen["fields"]["pager"] == "555-0199"
    assert jurgen["other_columns"]["Priority"] == "Normal"
    assert "Exchange" in contacts[1]["unmapped"][0]


def test_list_table_and_limit(tmp_path: Path) -> None:
    url = folder(tmp_path)
    store = open_folder(url)
    ann = Contact(Record(first_name="Ann", mobile_phone="+1 555 0100"), customer_id="4711")
    store.create(ann)
    store.close()
    result = runner.invoke(app, ["contacts", "list", url])
    assert result.exit_code == 0, result.output
    assert "4711" in result.stdout and "Ann" in result.stdout and "Contoso" in result.stdout
    assert "4 contact(s)" in result.stdout
    ids = [c["item_id"] for c in listed(url)["contacts"]]  # type: ignore[attr-defined]
    assert all(i in result.stdout for i in ids)  # ids are shown whole: `show` needs them
    limited = listed(url, "--limit", "2")["contacts"]
    assert [c["item_id"] for c in limited] == ids[:2]  # type: ignore[attr-defined]


def test_show_one_contact(tmp_path: Path) -> None:
    url = folder(tmp_path)
    chris = next(c for c in listed(url)["contacts"] if c["fields"]["first_name"] == "Chris")  # type: ignore[attr-defined]
    result = runner.invoke(app, ["contacts", "show", url, chris["item_id"]])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Chris O'Brien" in out and "chris@contoso.example" in out
    assert "(212) 555-0100" in out and "2004-06-01" in out
    assert "Not mapped" in out and "/o=ExchangeLabs/" in out
    as_json = runner.invoke(app, ["contacts", "show", url, chris["item_id"], "--json"])
    assert json.loads(as_json.stdout)["fields"]["email2"] == "chris@contoso.example"


def test_show_unknown_id_is_one_readable_error(tmp_path: Path) -> None:
    url = folder(tmp_path)
    result = runner.invoke(app, ["contacts", "show", url, "nope"])
    assert result.exit_code == 1
    assert "no contact 'nope'" in flat(result.stderr) and "contacts list" in flat(result.stderr)
    assert "Traceback" not in result.output


def test_read_problems_go_to_stderr_and_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b'"First Name","Birthday"\r\n"Ann",""\r\n"Bob","31/31/1999"\r\n')
    result = runner.invoke(app, ["contacts", "list", f"csv:{path}"])
    assert result.exit_code == 1
    assert "Ann" in result.stdout and "Bob" not in result.stdout
    assert "line 3 (Bob)" in flat(result.stderr) and "31/31/1999" in flat(result.stderr)
    as_json = runner.invoke(app, ["contacts", "list", f"csv:{path}", "--json"])
    problems = json.loads(as_json.stdout)["problems"]
    assert [(p["line"], p["name"]) for p in problems] == [(3, "Bob")]
    dmy = runner.invoke(app, ["contacts", "list", f"csv:{path}", "--date-order", "dmy"])
    assert dmy.exit_code == 1  # 31/31 is no date in any order


def test_date_order_and_encoding_options(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes('"First Name","Birthday"\r\n"Żaneta","4/3/1990"\r\n'.encode("cp1250"))
    data = listed(f"csv:{path}", "--date-order", "DMY", "--encoding", "cp1250")
    (only,) = data["contacts"]  # type: ignore[misc]
    assert only["fields"]["first_name"] == "Żaneta" and only["fields"]["birthday"] == "1990-03-04"
    bad = runner.invoke(app, ["contacts", "list", f"csv:{path}", "--date-order", "XYZ"])
    assert bad.exit_code == 2 and "MDY, DMY or YMD" in flat(bad.stderr)


def test_missing_folder_and_unknown_scheme(tmp_path: Path) -> None:
    missing = tmp_path / "none.csv"
    result = runner.invoke(app, ["contacts", "list", f"csv:{missing}"])
    assert result.exit_code == 1 and "no such CSV file" in flat(result.stderr)
    assert not missing.exists()  # looking never creates a folder
    unknown = runner.invoke(app, ["contacts", "list", "ftp:x"])
    assert unknown.exit_code == 2 and "vcf:" in flat(unknown.stderr)
    not_contacts = tmp_path / "sales.csv"
    not_contacts.write_text("id,amount\n")
    result = runner.invoke(app, ["contacts", "list", f"csv:{not_contacts}"])
    assert result.exit_code == 1 and "does not look like an Outlook CSV export" in flat(
        result.stderr
    )


def test_folders_list(tmp_path: Path) -> None:
    folder(tmp_path)
    shutil.copy(FIXTURES / "outlook_com_61_bom.csv", tmp_path / "other.csv")
    result = runner.invoke(app, ["folders", "list", f"csv:{tmp_path}", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        f"csv:{tmp_path / 'contacts.csv'}",
        f"csv:{tmp_path / 'other.csv'}",
    ]
    plain = runner.invoke(app, ["folders", "list", f"csv:{tmp_path / 'other.csv'}"])
    assert f"csv:{tmp_path / 'other.csv'}" in plain.stdout


def test_help_teaches_folder_urls() -> None:
    result = runner.invoke(app, ["contacts", "--help"])
    assert result.exit_code == 0
    for example in ("vcf:./contacts", "vcf-file:", "csv:contacts.csv", "graph:Contacts"):
        assert example in result.stdout
