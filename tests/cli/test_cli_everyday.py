"""The rough edges a new user meets (exit codes, questions, output, decisions), through the real
CLI: Typer's runner in this process, or the installed command in a child process where a
terminal, a pipe or the process's own start-up is what is tested."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from typer.testing import CliRunner

from personsync.cli import app
from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.stores.base import read_all
from terminal import in_terminal, read_until

runner = CliRunner()
NAMES = ["Ann Lee", "Bo Ray", "Cy Po", "Dee Ng", "Eve Ott", "Fay Hu", "Gus Ek", "Hal Yu"]


def people(n: int = 8) -> list[Record]:
    out = []
    for name in (NAMES * (n // len(NAMES) + 1))[:n]:
        first, last = name.split()
        k = len(out)
        out.append(Record(first_name=first, last_name=f"{last}{k}", email1=f"p{k}@example.org"))
    return out


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "p.db"
    pdb = PersonsDB(str(path))
    pdb.add_many(people())
    pdb.close()
    return str(path)


def cards(url: str) -> list[Contact]:
    store = open_folder(url, create=False)
    try:
        return [c for c in read_all(store) if isinstance(c, Contact)]
    finally:
        store.close()


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "personsync", *args]


# --- exit codes (item 6) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["export", "--to", "vcf:{tmp}/out", "--view", "No such view"],
        ["runs", "show", "nope"],
        ["undo", "nope"],
        ["persons", "list", "--where", "stat = 1"],
        ["views", "create", "x", "--filter", 'state = "NY" and'],
    ],
)
def test_unknown_view_run_or_filter_is_a_usage_error(
    db: str, tmp_path: Path, args: list[str]
) -> None:
    got = runner.invoke(app, [*(a.format(tmp=tmp_path) for a in args), "--db", db])
    assert got.exit_code == 2, got.output
    assert "error:" in got.stderr and "Traceback" not in got.output


def test_one_table_of_exit_codes() -> None:
    from personsync import errors
    from personsync.sync import report

    assert [int(c) for c in errors.ExitCode] == [0, 1, 2, 3, 4, 5, 130]
    # The run report has no table of its own.
    assert not [name for name in vars(report) if name.startswith("EXIT_")]
    text = " ".join(runner.invoke(app, ["export", "--help"]).stdout.split())
    assert "130 interrupted" in text and "2 usage error" in text


def test_wizard_ctrl_c_exits_130_with_one_message(db: str) -> None:
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text("\x03")  # Ctrl-C at the first question
        got = runner.invoke(app, ["wizard", "--db", db])
    assert got.exit_code == 130, got.output
    assert got.output.count("cancelled") == 1 and "nothing was written" in got.output


def test_a_closed_pipe_is_not_a_failure(tmp_path: Path) -> None:
    db = str(tmp_path / "big.db")
    pdb = PersonsDB(db)
    pdb.add_many(people(3000))
    pdb.close()
    shell = " ".join(cli("persons", "list", "--limit", "0", "--db", db)) + " | head -1"
    got = subprocess.run(
        ["bash", "-c", shell + "; echo ${PIPESTATUS[0]}"], capture_output=True, text=True
    )
    first, code = got.stdout.splitlines()
    assert first == "All Persons"
    assert code == "0", got.stderr
    assert "Traceback" not in got.stderr and "Broken pipe" not in got.stderr


# --- run status (item 5) ------------------------------------------------------------------------


def test_a_run_with_one_skipped_record_says_done_1_skipped(db: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'out'}"
    assert runner.invoke(app, ["export", "--to", url, "--db", db]).exit_code == 0
    store = open_folder(url)
    original = sorted(cards(url), key=lambda c: c.item_id)[0]
    store.create(Contact(original.record, customer_id=original.customer_id))  # a copy
    store.create(Contact(Record(first_name="New", last_name="Comer", email1="new@example.org")))
    store.close()
    got = runner.invoke(app, ["import", "--from", url, "--db", db])
    assert got.exit_code == 4, got.output
    assert "done, 1 skipped" in got.stdout and ": skipped" not in got.stdout
    runs = json.loads(runner.invoke(app, ["runs", "list", "--db", db, "--json"]).stdout)
    assert runs[0]["status"] == "done" and runs[0]["counts"]["create-person"] == 1


# --- output to a pipe is not wrapped (item 4) ---------------------------------------------------


def test_piped_output_is_not_wrapped(db: str, tmp_path: Path) -> None:
    folder = tmp_path / "a folder with a rather long name that a log must keep whole" / "new comer"
    url = f"vcf:{folder}"
    pdb = PersonsDB(db)
    pdb.add(Record(first_name="Michael", last_name="Abernathy-Featherstonehaugh-Smythe-Jones"))
    pdb.close()
    got = runner.invoke(app, ["export", "--to", url, "--db", db])
    assert got.exit_code == 0, got.output
    assert url in got.stdout  # on one line, whole
    assert "Michael Abernathy-Featherstonehaugh-Smythe-Jones" in got.stdout


# --- questions (item 3) and the unattended wizard (item 9) --------------------------------------


def _big_change(db: str, url: str) -> None:
    assert runner.invoke(app, ["export", "--to", url, "--db", db]).exit_code == 0
    pdb = PersonsDB(db)
    for pid in pdb.versions():
        pdb.update(pid, {"notes": "all changed"})
    pdb.close()


def test_guard_never_asks_when_output_is_piped(db: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'out'}"
    _big_change(db, url)
    primary, secondary = pty.openpty()  # a terminal for stdin: only stdout is a pipe
    try:
        got = subprocess.run(
            cli("export", "--to", url, "--db", db),
            stdin=secondary,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(primary)
        os.close(secondary)
    assert got.returncode == 3, got.stderr
    assert "Go ahead?" not in got.stdout + got.stderr and "--yes" in got.stderr
    assert {c.record.notes for c in cards(url)} != {"all changed"}


def test_guard_question_is_not_covered_by_the_progress_bar(db: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'out'}"
    _big_change(db, url)
    child, primary = in_terminal(cli("export", "--to", url, "--db", db))
    try:
        before = read_until(primary, b"[y/N]: ", 60)
        assert b"Go ahead? [y/N]: " in before, before.decode(errors="replace")
        later = read_until(primary, b"never printed", 1.5)  # the bar would redraw meanwhile
        assert later == b"", later
        os.write(primary, b"n\n")
        assert child.wait(60) == 3
    finally:
        child.kill()
        os.close(primary)
    assert {c.record.notes for c in cards(url)} != {"all changed"}


def test_wizard_with_every_option_runs_unattended_without_yes(db: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'wiz'}"
    args = ["wizard", "--direction", "export", "--folder", url, "--view", "all persons"]
    got = subprocess.run(
        cli(*args, "--db", db), stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    assert got.returncode == 0, got.stderr
    assert "clean" in got.stdout and len(cards(url)) == 8
    _big_change(db, url)
    got = subprocess.run(
        cli(*args, "--db", db), stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    assert got.returncode == 3 and "--yes" in got.stderr  # the guard, as for export


def test_wizard_offers_the_folders_that_exist(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "a.vcf").write_text("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\n")
    (tmp_path / "outlook.csv").write_text("First Name,Last Name\r\nBo,Ray\r\n")
    from personsync.cli.sync_wizard import existing_folders

    assert existing_folders() == ["vcf:team", f"csv:{Path('.') / 'outlook.csv'}"]
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text("\r")  # export
        pipe.send_text("\r")  # the first folder offered: vcf:team
        pipe.send_text("\r")  # All Persons
        pipe.send_text("\r")  # Finish
        got = runner.invoke(app, ["wizard", "--db", db])
    assert got.exit_code == 0, got.output
    assert len(cards("vcf:team")) == 9


# --- decisions: a copied contact, and link (items 1, 2) -----------------------------------------


def _with_copy(db: str, url: str) -> tuple[Contact, str]:
    assert runner.invoke(app, ["export", "--to", url, "--db", db]).exit_code == 0
    store = open_folder(url)
    original = sorted(cards(url), key=lambda c: c.item_id)[0]
    copy = store.create(Contact(original.record, customer_id=original.customer_id))
    store.close()
    return original, copy.item_id


def test_copied_contact_settled_with_one_command_naming_the_copy(db: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'out'}"
    original, copy_id = _with_copy(db, url)
    got = runner.invoke(app, ["import", "--from", url, "--db", db])
    assert got.exit_code == 4
    assert copy_id in got.stdout  # the copy's own id, not only the original's
    assert f"personsync unlink --folder {url} --item {copy_id}" in got.stdout
    got = runner.invoke(app, ["unlink", "--folder", url, "--item", copy_id, "--db", db])
    assert got.exit_code == 0, got.output
    copy = next(c for c in cards(url) if c.item_id == copy_id)
    assert copy.customer_id == ""
    kept = next(c for c in cards(url) if c.item_id == original.item_id)
    assert kept.customer_id == original.customer_id  # the original keeps its Person


def test_a_copy_left_alone_makes_no_person_and_is_not_touched(db: str, tmp_path: Path) -> None:
    url = f"vcf:{tmp_path / 'out'}"
    original, copy_id = _with_copy(db, url)
    got = runner.invoke(app, ["import", "--from", url, "--db", db])
    assert f"--item {copy_id} --ignore" in got.stdout
    got = runner.invoke(app, ["unlink", "--folder", url, "--item", copy_id, "--ignore", "--db", db])
    assert got.exit_code == 0, got.output
    before = next(c for c in cards(url) if c.item_id == copy_id)
    for command in (["import", "--from", url], ["export", "--to", url, "--yes"]):
        got = runner.invoke(app, [*command, "--db", db, "--json"])
        assert got.exit_code == 0, got.output
        counts = json.loads(got.stdout)["report"]["counts"]
        assert counts.get("create-person", 0) == 0 and counts.get("decide", 0) == 0
    after = next(c for c in cards(url) if c.item_id == copy_id)
    assert (after.version, after.customer_id) == (before.version, original.customer_id)
    pdb = PersonsDB(db)
    try:
        assert len(pdb.versions()) == 8  # no Person was made of the copy
    finally:
        pdb.close()
    # Pairing it with a Person makes runs see it again.
    old3 = next(c.item_id for c in cards(url) if c.customer_id == "3" and c.item_id != copy_id)
    got = runner.invoke(app, ["link", "3", copy_id, "--folder", url, "--db", db, "--yes", "--json"])
    assert got.exit_code == 0, got.output
    # Person 3's link moved from its contact to the copy: one contact carries its id.
    said = json.loads(got.stdout)["report"]["warnings"]
    assert any(f"contact {old3}'s Customer ID 3 was cleared" in w for w in said), said
    assert [c.item_id for c in cards(url) if c.customer_id == "3"] == [copy_id]
    got = runner.invoke(app, ["export", "--to", url, "--db", db, "--yes", "--json"])
    assert json.loads(got.stdout)["report"]["counts"].get("update-contact", 0) >= 1


def test_link_does_not_take_a_contact_from_another_person_without_yes(
    db: str, tmp_path: Path
) -> None:
    url = f"vcf:{tmp_path / 'out'}"
    assert runner.invoke(app, ["export", "--to", url, "--db", db]).exit_code == 0
    ann = next(c for c in cards(url) if c.record.first_name == "Ann")
    bo_id = next(c for c in cards(url) if c.record.first_name == "Bo").customer_id
    got = runner.invoke(app, ["link", bo_id, ann.item_id, "--folder", url, "--db", db])
    assert got.exit_code == 2, got.output
    said = " ".join(got.stderr.split())
    assert f"belongs to Person {ann.customer_id}" in said and "--yes" in said
    # Bo is linked to a contact of his own: the question says his link moves from it.
    bo_old = next(c for c in cards(url) if c.customer_id == bo_id).item_id
    assert f"is linked to contact {bo_old}" in said and f"clears contact {bo_old}'s" in said
    assert next(c for c in cards(url) if c.item_id == ann.item_id).customer_id == ann.customer_id
    got = runner.invoke(app, ["link", bo_id, ann.item_id, "--folder", url, "--db", db, "--yes"])
    assert got.exit_code == 0, got.output
    assert next(c for c in cards(url) if c.item_id == ann.item_id).customer_id == bo_id
    # The link moved: Bo's old contact no longer carries his Customer ID, and the report says so.
    assert [c.item_id for c in cards(url) if c.customer_id == bo_id] == [ann.item_id]
    assert f"contact {bo_old}'s Customer ID {bo_id} was cleared" in " ".join(got.stdout.split())


# --- a folder that cannot be written (item 8) ---------------------------------------------------


def test_read_only_folder_is_one_error_before_the_run(db: str, tmp_path: Path) -> None:
    out = tmp_path / "locked"
    out.mkdir()
    command = cli("export", "--to", f"vcf:{out}", "--db", db)
    if os.geteuid() == 0:
        # Permission bits do not stop root: mount a read-only file system there instead, in a
        # mount namespace of the child's own (gone when it ends).
        script = f"mount -t tmpfs -o ro tmpfs {out} && exec " + " ".join(command)
        command = ["unshare", "--mount", "sh", "-c", script]
    else:
        out.chmod(0o555)
    got = subprocess.run(command, capture_output=True, text=True)
    assert got.returncode == 1, got.stdout + got.stderr
    assert f"cannot write in {out}" in got.stderr
    assert "Plan" not in got.stdout and "undo with" not in got.stdout


# --- undo shows progress (item 7) ---------------------------------------------------------------


def test_undo_reports_progress(db: str, tmp_path: Path) -> None:
    from personsync.sync.events import Finished, Progress, RunEvent
    from personsync.sync.options import RunOptions
    from personsync.sync.undo import undo

    url = f"vcf:{tmp_path / 'out'}"
    got = runner.invoke(app, ["export", "--to", url, "--db", db, "--json"])
    run_id = json.loads(got.stdout)["report"]["run"]
    heard: list[RunEvent] = []
    pdb = PersonsDB(db)
    try:
        # Every contact of the folder: more than the guard's share, so yes.
        undo(pdb, run_id, options=RunOptions(yes=True), on_event=heard.append)
    finally:
        pdb.close()
    moves = [e for e in heard if isinstance(e, Progress)]
    assert (moves[0].done, moves[0].total) == (0, 8) and sum(m.step for m in moves) == 8
    assert moves[-1].done == 8 and isinstance(heard[-1], Finished)
    assert cards(url) == []
