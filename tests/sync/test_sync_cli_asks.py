"""`sync` in a terminal asks about the conflicts it left (issue 12 §2), through a real
pseudo-terminal and the installed command: take the CRM's value, Outlook's, or skip; each answer
settled by `resolve`. Piped, or told `--on-conflict`, it never asks."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from folder_help import by_cid, edit
from sync_fakes import records as generate

from personsync.persons.repo import PersonsDB
from personsync.sync import engine
from personsync.sync.options import RunOptions
from terminal import in_terminal, read_until


def _conflicts(tmp_path: Path) -> tuple[str, str, list[int]]:
    """Two Persons synced, then both changed on both sides in one field each: two conflicts."""
    path = str(tmp_path / "p.db")
    url = f"vcf:{tmp_path / 'contacts'}"
    db = PersonsDB(path)
    try:
        ids = db.add_many(list(generate(2, 8)))
        engine.run(db, url, "sync", options=RunOptions(yes=True))
        for pid in ids:
            db.update(pid, {"company": f"CRM {pid}"})
            edit(url, str(pid), company=f"Outlook {pid}")
    finally:
        db.close()
    return path, url, ids


def _companies(path: str, url: str, pid: int) -> tuple[str, str]:
    db = PersonsDB(path)
    try:
        return db.get(pid).record.company, by_cid(url)[str(pid)].record.company
    finally:
        db.close()


def test_sync_in_a_terminal_asks_per_conflict(tmp_path: Path) -> None:
    path, url, (first, second) = _conflicts(tmp_path)
    child, primary = in_terminal(
        [sys.executable, "-m", "personsync", "sync", "--folder", url, "--db", path]
    )
    try:
        asked = read_until(primary, b"[s]kip", 120)
        assert f"CRM 'CRM {first}'".encode() in asked, asked.decode(errors="replace")
        os.write(primary, b"c\n")  # the first: the CRM's value
        asked = read_until(primary, b"[s]kip", 60)
        assert f"Outlook 'Outlook {second}'".encode() in asked, asked.decode(errors="replace")
        os.write(primary, b"s\n")  # the second: left as a decision
        rest = read_until(primary, b"took crm", 120)
        assert b"took crm for company" in rest, rest.decode(errors="replace")
        assert child.wait(120) == 4  # one conflict still left
    finally:
        child.kill()
        os.close(primary)
    assert _companies(path, url, first) == (f"CRM {first}", f"CRM {first}")
    assert _companies(path, url, second) == (f"CRM {second}", f"Outlook {second}")


@pytest.mark.parametrize("how", ["piped", "policy"])
def test_sync_never_asks_when_piped_or_told_a_policy(tmp_path: Path, how: str) -> None:
    path, url, ids = _conflicts(tmp_path)
    args = [sys.executable, "-m", "personsync", "sync", "--folder", url, "--db", path]
    primary, secondary = pty.openpty()  # stdin a terminal; stdout piped, or a terminal
    try:
        if how == "piped":
            got = subprocess.run(args, stdin=secondary, capture_output=True, text=True, timeout=120)
            code, said = got.returncode, got.stdout + got.stderr
        else:
            child = subprocess.Popen(
                [*args, "--on-conflict", "skip"],
                stdin=secondary,
                stdout=secondary,
                stderr=secondary,
            )
            code = child.wait(120)
            said = read_until(primary, b"never printed", 1).decode(errors="replace")
    finally:
        os.close(primary)
        os.close(secondary)
    assert code == 4 and "[s]kip" not in said, said
    for pid in ids:
        assert _companies(path, url, pid) == (f"CRM {pid}", f"Outlook {pid}")
